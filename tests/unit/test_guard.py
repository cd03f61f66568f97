"""The credential guard on its own (ledger/_guard.py): what reads as a credential, what does not.

11.5.4 (refs, not payloads) and the work packet's risk map ("PII/data leakage ... events
must be refs only"): a secret is refused in whatever form it is written, and the words,
hashes, ids and refs that merely look like one keep working.
"""

from __future__ import annotations

import ast
import hashlib
import re
import threading
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import _guard
from ledger._guard import REDACTED, credential_field, is_credential_shaped, redact
from tests.strategies import INVISIBLE, credentials

#: Secrets the guard must refuse, one per form (more are generated in test_credential_guard).
CREDENTIALS = [
    # NAME=value, "name": "value", Name: value, with any prefix or suffix
    "DB_PASSWORD=hunter2hunter2",
    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "GITHUB_TOKEN=4f2a9c1e5b7d9f1a3c5e",
    "OPENAI_API_KEY=abcd1234efgh5678",
    "pwd=s3cr3t",
    '"db_password": "s3cr3tpw"',
    "Password: hunter22",
    "client secret: 8f14e45fceea",
    "client_secret: 8f14e45fceea167a5a36dedd4bea2543",
    "API Key: AbC123xyz",
    "x-api-key: abcdef12345",
    "private_key=MIIEvQIBADANBg",
    "access key: AKIAXXXXpartial1",
    "credentials: alice:Winter2026!",
    "passphrase=correct horse battery staple",
    "dbPassword: s3cr3tpw",
    "clientSecret=abcdef12",
    "secretAccessKey=abcdef12",
    "'token' => 'abcdef123456'",
    "password := hunter22",
    "password:\n  hunter22",
    "PGPASSWORD=hunter22",
    "Server=db;User Id=sa;Password=Winter2026;",
    "AccountKey=dGhpcyBpcyBub3QgYSBrZXk=",
    # HTTP Authorization headers
    "Authorization: Basic dXNlcjpwYXNz",
    "Authorization: Bearer abcdef1234567890",
    "authorization: token ghx1234567890",
    "Proxy-Authorization: Digest 9f86d081884c",
    "curl -H 'Authorization:Bearer eyJhbGciOi.abc123'",
    "Bearer mF_9.B5f-4.1JqM9xQ2vLp8Zr7Ty",
    # private key blocks, any case, any whitespace
    "-----begin private key-----",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7Zq",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "-----BEGIN\u00a0PRIVATE KEY-----",
    "-----BEGIN EC PRIVATE KEY-----",
    "-----BEGIN ENCRYPTED PRIVATE KEY-----",
    "-----BEGIN PGP PRIVATE KEY BLOCK-----",
    "-----BEGIN\u3000PRIVATE\u2002KEY-----",
    "PuTTY-User-Key-File-3: ssh-ed25519",
    # URLs with a password, whatever it holds
    "https://user:p@ss@host/",
    "postgresql://u:pa:ss@h/db",
    "redis://:s3cret@cache:6379",
    "https://x-access-token:gho_abc@github.com/org/repo.git",
    "amqp://guest:guest@rabbit:5672/",
    "https://host:8443/x?next=https://u:pw@h",
    # token formats
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAZ7VQ3EXAMPLE2R4T",
    "key_AKIAIOSFODNN7EXAMPLE",
    "ghp_" + "Zq7Xw2Lk9Vb4Nm8Rt5Yp1Ca6Sd3Fg0Hj2Kl4",
    "gho_" + "a" * 36,
    "ghs_" + "B" * 36,
    "github_pat_11ABCDEFG0123456789_abcdefghij",
    "xoxb-1234567890-abcdefghij",
    "xoxp-1234567890-0987654321-AbCdEfGhIjKlMnOp",
    "xapp-1-A0123456789-abcdef",
    "sk-" + "A1b2" * 6,
    "sk-proj-Ab3De6Gh9Jk2Mn5Pq8St1Vw4",
    "sk-ant-api03-Zx9Cv8Bn7Mq6We5Rt4Yu3Io2",
    "AIza" + "SyD3x7Qw9Lk2Vb5Nm8Rt1Yp4Ca6Sd0Fg2Hq",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "rk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    "glpat-Xq7Zw2Lk9Vb4Nm8Rt5Yp",
    "npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "pypi-AgEIcHlwaS5vcmc" + "x" * 40,
    "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
    "ya29.a0AfH6SMBx3z9Q2vLp8Zr7Ty",
    "SG.abcdefghijklmnopqrstuv.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg",
    "https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnop1234",
    "shpat_0123456789abcdef0123456789abcdef",
    "AGE-SECRET-KEY-1" + "Q" * 58,
    # hidden: zero-width characters, full-width letters, soft hyphens, case folding
    "A\u200bKIAIOSFODNN7EXAMPLE",
    "gh\u200dp_" + "a" * 36,
    "\ufeffsk-proj-Ab3De6Gh9Jk2Mn5Pq8St1Vw4",
    "\uff30\uff21\uff33\uff33\uff37\uff2f\uff32\uff24=hunter22",  # full-width PASSWORD
    "pass\u00adword=hunter22",
    "PA\u1e9eWORD=hunter22",  # capital sharp s folds to ss
    "AKIAIOSFODNN7EXAMPL\u0045\u0301",  # a combining mark after the key
    "\uff21AKIAIOSFODNN7EXAMPLE",  # a full-width letter glued before it
]

#: Look-alikes the guard must let through: words about secrets, hashes, ids and refs.
LOOK_ALIKES = [
    "password policy reviewed",
    "token budget 4096",
    "rotate the api key next sprint",
    "Bearer of the change",
    "secret sauce: none",
    hashlib.sha256(b"report").hexdigest(),
    "3f2a9c1e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a",  # a 40-character git hash
    "artifact://wp-12/report.md",
    "https://example.com/path?q=1",
    "user@example.com",
    "WP-1/MT-03",
    "5b1c2a2e-6c2b-4b1a-9a55-7d0f3f2d8a11",
    "local/qwen2.5-coder-32b",
    "The password policy and the API key rotation were both checked.",
    "token budget exceeded by 1200 tokens; secret sharing is out of scope",
    "max_tokens=128000",
    "tokens: 4096",
    "input_tokens=1200, output_tokens=345",
    "tokenizer=tiktoken-cl100k",
    "token_type: bearer",
    "password_policy: strict-v2",
    "credential_id=cred-1234",
    "secret_ref: vault://kv/prod/db",
    "api_key_ref=vault://kv/openai",
    "DB_PASSWORD=${DB_PASSWORD}",
    "OPENAI_API_KEY=$OPENAI_API_KEY",
    "password: ********",
    "password: <redacted>",
    "Password: rotated",
    "api key: none",
    "secretary: alice",
    "PWD=/home/alice/project",
    "postgresql://ledger:***@db.internal/gov",  # the form govledger itself prints
    "https://example.com:8443/users/@alice",
    "ssh://git@git.example.com/org/repo.git",
    "see docs at https://example.com/a:b@c",
    "mailto:alice@example.com",
    "-----BEGIN PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----",
    "sk-learn model 4",
    "sk-learn-pipeline-regression",
    "Authorization: required for merges",
    "Authorization: Bearer <token>",
    "Authorization: Bearer $TOKEN",
    "AKIA is the AWS key prefix",
    "hf_transformers_cache",
    "policy check flagged a credential-like string in the evidence bundle",
    "cloud model needed for the 200k-token context of the migration plan",
    "wp://WP-000001/artifact/1180",
    "evidence://88c90842-2fe1-476e-ad1b-7f28ca8555bc",
    "dec-1ba21347-f6a7-4d68-91e0-1aa0d602f61a",
    "alice@example.org",
    "2026-02-19T15:00:00Z",
    "\u30d1\u30b9\u30ef\u30fc\u30c9\u30dd\u30ea\u30b7\u30fc\u3092\u78ba\u8a8d",  # Japanese prose
    "Passw\u00f6rter werden rotiert",
]


@pytest.mark.parametrize("text", CREDENTIALS)
def test_every_form_of_credential_is_recognised(text):
    """
    11.5.4: key=value secrets, Authorization headers, private key blocks, URLs with a
    password and the common token formats read as credentials, hidden or not.
    """
    assert is_credential_shaped(text)
    assert is_credential_shaped(f"see ({text}) for details")


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_are_not_credentials(text):
    """
    Refs, not payloads: words about secrets, hashes, ids, refs and redacted forms are kept.
    """
    assert not is_credential_shaped(text)


@pytest.mark.parametrize("text", CREDENTIALS)
def test_an_invisible_character_anywhere_hides_nothing(text):
    """
    Zero-width and other format characters are removed before matching, wherever they sit.
    """
    for at in range(len(text) + 1):
        hidden = text[:at] + INVISIBLE[at % len(INVISIBLE)] + text[at:]
        assert is_credential_shaped(hidden), hidden


@settings(max_examples=500, deadline=None)
@given(credentials())
def test_every_generated_credential_is_recognised(secret):
    """
    Any name with any prefix and case, any value, any token format, invisible characters
    anywhere: all read as credentials.
    """
    assert is_credential_shaped(secret)


_HEX = st.binary(min_size=16, max_size=32).map(bytes.hex)
_REFS = st.from_regex(r"\A(artifact|evidence|wp)://[a-z0-9-]{1,12}(/[A-Za-z0-9._-]{1,20}){0,3}\Z")
_IDS = st.from_regex(r"\A(WP|MT|dec|job|span)-[0-9]{1,6}(/MT-[0-9]{2})?\Z")
_MODELS = st.from_regex(r"\A(local|cloud)/[a-z]{3,8}[0-9.]{0,4}(-[a-z0-9]{1,8}){0,3}\Z")
_EMAILS = st.emails()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.uuids().map(str), _HEX, _REFS, _IDS, _MODELS, _EMAILS))
def test_generated_ids_hashes_and_refs_are_never_credentials(text):
    """
    The ids and refs events are made of (uuids, hex digests, artifact refs, WP/MT ids,
    model ids, e-mail addresses) are never mistaken for credentials.
    """
    assert not is_credential_shaped(text)


def test_the_field_named_is_the_one_that_carries_the_credential():
    """
    One scan of all an event's strings; on a hit, the first field (in the event's order)
    whose value, or an item of whose list, carries the credential.
    """
    event = {
        "decision_id": "dec-1",
        "wsids": ["ws-1", "ws-2"],
        "evidence_refs": ["artifact://ok", "see ghp_" + "a" * 36],
        "rationale": "password=hunter22",
        "confidence": 0.9,
    }
    assert credential_field(event) == "evidence_refs"
    assert credential_field({**event, "wsids": ["ws-1", "AKIAIOSFODNN7EXAMPLE"]}) == "wsids"
    assert credential_field({"decision_id": "dec-1", "rationale": "fine"}) is None
    assert credential_field({"rationale": "a\u200b", "target_ref": "b\nAKIAIOSFODNN7EXAMPLE"}) == (
        "target_ref"
    )


def test_a_credential_split_across_fields_is_judged_per_field():
    """
    Strings are scanned together but judged one by one: two clean strings side by side
    are not refused because their concatenation would read as a secret.
    """
    assert credential_field({"a": "password", "b": "=hunter22"}) is None
    assert credential_field({"a": "-----BEGIN", "b": "PRIVATE KEY-----"}) is None


def test_redact_shows_only_what_is_not_credential_shaped():
    """
    What is echoed in errors and result lines is the text itself or the placeholder.
    """
    assert redact("dec-42") == "dec-42"
    assert redact("AKIAIOSFODNN7EXAMPLE") == REDACTED


def test_the_engine_sees_each_rule_without_its_look_arounds():
    """
    The scanning engine gets a superset of each rule (assertions dropped), so it never
    misses what the confirmation in Python would find; the expressions stay valid.
    """
    for rule in _guard.RULES:
        expression = _guard.engine_expression(rule.pattern)
        assert re.search(r"\(\?<?[=!]", expression) is None
        re.compile(expression)
    assert _guard.engine_expression(r"(?<![A-Za-z0-9])x(?=[)(])y(?!\))z") == "xyz"


def test_threads_scanning_at_once_each_get_their_answer():
    """
    The scan releases the GIL; each thread has its own scratch space, so concurrent
    appends (several orchestrator threads) get correct answers and no engine error.
    """
    texts = [" ".join([t] * 20) for t in [*CREDENTIALS[:20], *LOOK_ALIKES[:20]]]
    expected = [is_credential_shaped(t) for t in texts]
    assert expected == [True] * 20 + [False] * 20
    failures: list[object] = []

    def work() -> None:
        try:
            wrong = sum([is_credential_shaped(t) for t in texts] != expected for _ in range(200))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)
        else:
            failures.extend(["wrong answer"] * wrong)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_the_guard_is_pure():
    """
    The guard reads no file, database or network: the standard library and the engine only.
    """
    tree = ast.parse(Path(_guard.__file__).read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}  # fmt: skip
    allowed = {"__future__", "functools", "re", "threading", "unicodedata", "collections.abc",
               "dataclasses", "typing", "hyperscan"}  # fmt: skip
    assert imported <= allowed


def test_a_non_ascii_event_id_or_key_can_still_be_judged():
    """
    Lone surrogates (which have no UTF-8 form) do not break the scan.
    """
    assert not is_credential_shaped("half a pair: \ud800")
    assert is_credential_shaped("\ud800 AKIAIOSFODNN7EXAMPLE")
    assert not is_credential_shaped(str(uuid.uuid4()) + "\u200b")
