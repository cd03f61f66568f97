"""Refs, not payloads: credential-like material is refused and never echoed back.

Work packet risk map ("PII/data leakage: events must be refs only") and 11.5.4:
any string field carrying a private key block, an API token, an Authorization
header, a URL with a password or a ``name=value`` secret is ``invalid_schema``
with the rule named, through every entry point, and no error, result line or
log line repeats the value.
"""

from __future__ import annotations

import uuid

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.cli import main
from ledger.errors import InvalidSchemaError
from ledger.ingest import ingest_lines, validate_lines
from tests.strategies import FREE_TEXT_FIELDS, valid_event_lines

#: One example of each format the credential guard (ledger/_guard.py) refuses.
SECRETS = {
    "pem-rsa": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7Zq",
    "pem-pkcs8": "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    "pem-openssh": "-----BEGIN OPENSSH PRIVATE KEY-----b3BlbnNzaC1rZXktdjEAAAAA",
    "pgp": "-----BEGIN PGP PRIVATE KEY BLOCK-----lQOYBF",
    "aws": "AKIAZ7VQ3EXAMPLE2R4T",
    "github": "ghp_" + "Zq7Xw2Lk9Vb4Nm8Rt5Yp1Ca6Sd3Fg0Hj2Kl4",
    "github-pat": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "gitlab": "glpat-Xq7Zw2Lk9Vb4Nm8Rt5Yp",
    "slack": "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp",
    "openai": "sk-proj-" + "Ab3De6Gh9Jk2Mn5Pq8St1Vw4",
    "anthropic": "sk-ant-api03-" + "Zx9Cv8Bn7Mq6We5Rt4Yu3Io2",
    "google": "AIza" + "SyD3x7Qw9Lk2Vb5Nm8Rt1Yp4Ca6Sd0Fg2Hq",
    "stripe": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "bearer": "Bearer mF_9.B5f-4.1JqM9xQ2vLp8Zr7Ty",
    "password": "password=hunter2hunter2",
    "client-secret": "client_secret: 8f14e45fceea167a5a36dedd4bea2543",
    "npm": "npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "huggingface": "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
    "url-password": "postgresql://ledger:s3cr3tpw@db.internal:5432/gov",
    "url-password-at": "https://deploy:p@ss@w0rd@git.example.com/org/repo.git",
    "authorization": "Authorization: Basic ZGVwbG95OnMzY3IzdHB3",
    "env-token": "GITHUB_TOKEN=4f2a9c1e5b7d9f1a3c5e7b9d",
    "json-password": '{"db_password": "Winter2026!"}',
    "pem-lowercase-nbsp": "-----begin\u00a0private key-----MIIEvQIBADANBgkq",
    "zero-width-aws": "AKIA\u200bZ7VQ3EXAMPLE2R4T",
}
#: Every string field the ledger stores as given (ids, refs, rationale, list items).
FIELDS = FREE_TEXT_FIELDS


def _event(field: str, value: str) -> dict:
    event = orjson.loads(valid_event_lines(1, seed=f"cred-{field}")[0])
    event["event_id"] = str(uuid.uuid4())
    event[field] = ["artifact://ok", value] if field in ("evidence_refs", "wsids") else value
    if field == "rationale" and event["type"] == "gov_auto_signature_created":
        event["type"] = "gov_decision_created"
    return event


def _never_echoed(secret: str, *texts: str) -> None:
    # Neither the value nor its distinctive tail (the part an attacker would want) appears.
    tail = secret[-12:]
    for text in texts:
        assert secret not in text
        assert tail not in text


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
def test_credentials_are_refused_by_validate_and_ingest_without_echo(secret, field, memory_ledger):
    """11.5.4: invalid_schema naming the field and the rule; the result line never repeats it."""
    line = orjson.dumps(_event(field, f"see {secret} for details"))
    (validated,) = list(validate_lines([line]))
    (ingested,) = list(ingest_lines(memory_ledger, [line]))
    for result in (validated, ingested):
        assert (result.status, result.code) == ("rejected", "invalid_schema")
        assert result.field == field
        assert "credential" in result.message
        _never_echoed(secret, result.to_json().decode())
    assert memory_ledger.max_position() == 0


@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
def test_the_command_api_refuses_credentials_in_a_rationale(secret, memory_ledger):
    """Work packet risk map: the ledger's own API never records a secret either."""
    with pytest.raises(InvalidSchemaError) as info:
        memory_ledger.evaluate_gate(
            "SpecApproval",
            "WP-1/MT-1",
            "AUTONOMOUS",
            "approve",
            0.95,
            rationale=f"because {secret}",
        )
    assert (info.value.code, info.value.field, info.value.rule) == (
        "invalid_schema",
        "rationale",
        "no_credentials",
    )
    _never_echoed(secret, str(info.value), orjson.dumps(info.value.as_dict()).decode())
    outcome = memory_ledger.evaluate_gate("SpecApproval", "WP-1/MT-1", "FULL_HUMAN", "approve", 0.5)
    with pytest.raises(InvalidSchemaError) as info:
        memory_ledger.record_human_decision(
            outcome.decision_id, "alice", "approve", rationale=secret
        )
    _never_echoed(secret, str(info.value))
    assert memory_ledger.max_position() == 2


def test_the_cli_never_prints_a_refused_secret(tmp_path, capsys):
    """Nothing on stdout or stderr repeats a refused value, whatever the command."""
    source = tmp_path / "secrets.jsonl"
    source.write_bytes(
        b"\n".join(orjson.dumps(_event(f, s)) for s in SECRETS.values() for f in FIELDS) + b"\n"
    )
    for command in (["validate"], ["--store", str(tmp_path / "l.db"), "ingest"]):
        assert main([*command, str(source)]) == 1
        out, err = capsys.readouterr()
        assert out.count('"invalid_schema"') == len(SECRETS) * len(FIELDS)
        for secret in SECRETS.values():
            _never_echoed(secret, out, err)


_FILLER = st.text(alphabet=st.characters(codec="ascii", exclude_characters="\x00"), max_size=40)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(SECRETS.values())), _FILLER, _FILLER, st.sampled_from(FIELDS))
def test_a_credential_anywhere_in_the_text_is_refused(secret, before, after, field):
    """11.5.4: surrounding text does not hide a credential (the guard is unanchored)."""
    value = f"{before} {secret} {after}"
    (result,) = list(validate_lines([orjson.dumps(_event(field, value))]))
    assert (result.status, result.code) == ("rejected", "invalid_schema")
    _never_echoed(secret, result.to_json().decode())


@pytest.mark.parametrize(
    "text",
    [
        "artifact://WP-1/MT-2/report.md",
        "https://git.example.com/org/repo/commit/3f2a9c1",
        "ssh://git@git.example.com/org/repo.git",
        "The password policy and the API key rotation were both checked.",
        "token budget exceeded by 1200 tokens; secret sharing is out of scope",
        "sk-learn model 4",
        "see docs at https://example.com/a:b@c",
        "password policy reviewed; rotate the api key next sprint",
        "Bearer of the change; secret sauce: none; token budget 4096",
        "max_tokens=128000 for local/qwen2.5-coder-32b",
        "postgresql://ledger:***@db.internal/gov",
    ],
)
def test_ordinary_refs_and_prose_are_not_mistaken_for_credentials(text):
    """The guard refuses credentials, not words about them."""
    for field in FIELDS:
        (result,) = list(validate_lines([orjson.dumps(_event(field, text))]))
        assert result.status == "accepted", (field, result.message)
