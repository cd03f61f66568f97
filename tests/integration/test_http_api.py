"""``govledger serve``: the real server (uvicorn, 127.0.0.1, a free port) and a real client (httpx).

Issue 12, "Done means": every endpoint and status code, on SQLite and PostgreSQL;
401/403 store nothing; idempotent retries of both commands; the body limit; gzip.
Concurrency, crashes and fuzzing are in ``test_http_faults.py``.
"""

from __future__ import annotations

import gzip
import io
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from ledger import cli
from ledger.bootstrap import bootstrap
from ledger.config import LedgerConfig
from ledger.serve import ROLES, Tokens
from ledger.trust import CheckpointStore, prove, seal
from tests.conftest import _drop_schema, postgres_url, require_postgres
from tests.integration._server import Server, add_token
from tests.strategies import valid_event_lines

LIMIT = 256 * 1024  # the servers here take at most 256 KiB bodies


@dataclass
class Live:
    server: Server
    config: LedgerConfig
    tokens: dict[str, str]

    def client(self, role: str | None = "orchestrator", token: str | None = None) -> httpx.Client:
        headers = {}
        if token is not None or role is not None:
            headers["Authorization"] = f"Bearer {token if token is not None else self.tokens[role]}"
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=60)

    def position(self) -> int:
        with bootstrap(self.config).ledger() as ledger:
            return ledger.max_position()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def live(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Live]:
    """
    One server per store kind for this module; tests use decision ids of their own.
    """
    tmp = tmp_path_factory.mktemp("http")
    schema = None
    if request.param == "sqlite":
        config = LedgerConfig(store=str(tmp / "ledger.db"), projection=str(tmp / "p.duckdb"))
    else:
        require_postgres()
        schema = f"gl_{uuid.uuid4().hex[:12]}"
        config = LedgerConfig(store=postgres_url(schema), projection=str(tmp / "p.duckdb"))
    keygen = ["--store", config.store, "keygen", "--out", str(tmp / "key")]
    with redirect_stdout(io.StringIO()):
        assert cli.main(keygen) == 0
    tokens = {role: add_token(config, f"{role}-1", role) for role in ROLES}
    with Server(
        config,
        "--max-body",
        str(LIMIT),
        "--seal-interval",
        "0",
        GOVLEDGER_SIGNING_KEY=str(tmp / "key"),
    ) as server:
        yield Live(server, config, tokens)
        assert server.stop() == 0
    if schema is not None:
        _drop_schema(schema)


def gate(**changes) -> dict:
    return {
        "gate_type": "SpecApproval",
        "target_ref": "WP-12/MT-03",
        "automation_level": "HYBRID",
        "decision": "approve",
        "confidence": 0.5,
        "rationale": "all checks green",
        "evidence_refs": ["artifact://wp-12/report.md"],
        "model_id": "local/qwen2.5-coder-32b",
        "decision_id": f"http-{uuid.uuid4()}",
        **changes,
    }


def ndjson(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"


def results(response: httpx.Response) -> list[dict]:
    return [orjson.loads(line) for line in response.content.splitlines()]


# --- POST /v1/events --------------------------------------------------------------------------


def test_events_are_judged_exactly_as_govledger_ingest_judges_them(live, tmp_path, capsysbinary):
    """
    Issue 12: one result per input line, exactly as ``govledger ingest`` writes them (line
    numbers are the request's); 200 when every line is accepted or duplicate, 422 otherwise.
    """
    good = valid_event_lines(40, seed="events-1")
    bad = [b"not json", b"[1]", orjson.dumps({**orjson.loads(good[0]), "confidence": 2})]
    body = ndjson([*good[:20], bad[0], *good[20:], bad[1], good[3], bad[2]])
    with live.client() as client:
        response = client.post(
            "/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/x-ndjson")
        again = client.post(
            "/v1/events", content=ndjson(good), headers={"Content-Type": "application/x-ndjson"}
        )
    source = tmp_path / "in.jsonl"
    source.write_bytes(body)
    fresh = ["--store", str(tmp_path / "fresh.db"), "ingest", str(source), "--quiet"]
    capsysbinary.readouterr()
    cli.main(fresh)
    assert response.content == capsysbinary.readouterr().out
    assert again.status_code == 200
    assert {r["status"] for r in results(again)} == {"duplicate"}


def test_a_json_array_of_events_is_one_line_per_item(live):
    """
    Issue 12: ``application/json`` bodies are a JSON array of FR events; item N is line N.
    """
    lines = valid_event_lines(6, seed="array")
    body = b"[" + b",".join(lines) + b", 5]"
    with live.client() as client:
        response = client.post(
            "/v1/events", content=body, headers={"Content-Type": "application/json"}
        )
        not_array = client.post(
            "/v1/events", content=b'{"a": 1}', headers={"Content-Type": "application/json"}
        )
    shown = results(response)
    assert response.status_code == 422
    assert [r["line"] for r in shown] == list(range(1, len(lines) + 2))
    assert [r["status"] for r in shown] == ["accepted"] * len(lines) + ["rejected"]
    assert not_array.status_code == 400
    assert not_array.json()["error"]["field"] == "body"


def test_gzip_bodies_are_read(live):
    """
    Issue 12: ``Content-Encoding: gzip`` bodies (also several gzip members) are inflated.
    """
    lines = valid_event_lines(30, seed="gzip")
    body = gzip.compress(ndjson(lines[:10])) + gzip.compress(ndjson(lines[10:]))
    with live.client() as client:
        response = client.post(
            "/v1/events",
            content=body,
            headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
        )
        broken = client.post(
            "/v1/events",
            content=body[:-9],
            headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
        )
    assert response.status_code == 200
    assert len(results(response)) == len(lines)
    assert broken.status_code == 400
    assert broken.json()["error"]["rule"] == "gzip"


def test_the_body_limit_is_enforced_before_and_while_reading_and_after_inflation(live):
    """
    Issue 12: a body over the limit is 413 (declared length, a streamed body, and a gzip
    bomb that inflates past the limit), and nothing of it is stored.
    """
    before = live.position()
    lines = valid_event_lines(2000, seed="big")
    body = ndjson(lines)
    assert len(body) > LIMIT
    headers = {"Content-Type": "application/x-ndjson"}

    def streamed() -> Iterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    bomb = gzip.compress(b" " * (LIMIT * 40))
    assert len(bomb) < LIMIT
    with live.client() as client:
        declared = client.post("/v1/events", content=body, headers=headers)
        chunked = client.post("/v1/events", content=streamed(), headers=headers)
        inflated = client.post(
            "/v1/events", content=bomb, headers={**headers, "Content-Encoding": "gzip"}
        )
    for response in (declared, chunked, inflated):
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "body_too_large"
    assert live.position() == before


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"Content-Type": "text/plain"}, "content-type"),
        ({}, "content-type"),
        ({"Content-Type": "application/json", "Content-Encoding": "br"}, "content-encoding"),
    ],
)
def test_wrong_content_types_are_415(live, headers, field):
    """
    Issue 12: a Content-Type (or Content-Encoding) the endpoint does not read is 415.
    """
    line = valid_event_lines(1, seed="415")[0]
    with live.client() as client:
        response = client.post("/v1/events", content=line, headers=headers)
        command = client.post("/v1/gates", content=orjson.dumps(gate()), headers=headers)
    for answer in (response, command):
        assert answer.status_code == 415
        assert answer.json()["error"] == {
            **answer.json()["error"],
            "code": "unsupported_media_type",
            "field": field,
        }


# --- tokens and roles -------------------------------------------------------------------------


def test_no_unknown_or_revoked_token_is_401_and_stores_nothing(live):
    """
    Issue 12: no or unknown token: 401 and nothing stored; a revoked token stops at once.
    """
    name = f"gone-{uuid.uuid4().hex[:8]}"
    revoked = add_token(live.config, name, "orchestrator")
    lines = ndjson(valid_event_lines(5, seed="401"))
    headers = {"Content-Type": "application/x-ndjson"}
    with live.client(token=revoked) as client:
        assert client.post("/v1/events", content=lines, headers=headers).status_code == 200
    with bootstrap(live.config).ledger() as ledger:
        Tokens.of(ledger).revoke(name)
    before = live.position()
    more = ndjson(valid_event_lines(5, seed="401-more"))
    for client in (
        live.client(role=None),
        live.client(token="glt_not-a-token"),  # noqa: S106 - a made-up token
        live.client(token=revoked),
        httpx.Client(base_url=live.server.url, headers={"Authorization": "Basic YTpi"}),
    ):
        with client:
            events = client.post("/v1/events", content=more, headers=headers)
            gates = client.post("/v1/gates", json=gate())
            read = client.get("/v1/decisions")
        for response in (events, gates, read):
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["error"]["code"] == "unauthorized"
    assert live.position() == before


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("approver", "POST", "/v1/events"),
        ("auditor", "POST", "/v1/events"),
        ("approver", "POST", "/v1/gates"),
        ("auditor", "POST", "/v1/gates"),
        ("orchestrator", "POST", "/v1/decisions/{id}/human-decision"),
        ("auditor", "POST", "/v1/decisions/{id}/human-decision"),
    ],
)
def test_a_wrong_role_is_403_and_stores_nothing(live, role, method, path):
    """
    Issue 12: wrong role: 403 and nothing stored. An orchestrator (or an agent holding its
    token) cannot answer its own gate.
    """
    with live.client() as client:
        pending = client.post("/v1/gates", json=gate()).json()["decision_id"]
    before = live.position()
    bodies = {
        "/v1/events": (ndjson(valid_event_lines(3, seed=f"403-{role}")), "application/x-ndjson"),
        "/v1/gates": (orjson.dumps(gate()), "application/json"),
        "/v1/decisions/{id}/human-decision": (b'{"decision": "approve"}', "application/json"),
    }
    content, media = bodies[path]
    with live.client(role) as client:
        response = client.request(
            method, path.format(id=pending), content=content, headers={"Content-Type": media}
        )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden_role"
    assert live.position() == before


# --- POST /v1/gates and the human decision ------------------------------------------------------


def test_evaluate_gate_over_http_records_and_replays(live):
    """
    Issue 12: 201 with the outcome; the same call again is 200 with ``replayed``; different
    arguments under the same decision_id are 409 ``duplicate``.
    """
    args = gate()
    with live.client() as client:
        first = client.post("/v1/gates", json=args)
        stored = live.position()
        again = client.post("/v1/gates", json=args)
        other = client.post("/v1/gates", json={**args, "confidence": 0.6})
    assert first.status_code == 201
    body = first.json()
    assert body["status"] == "awaiting_human"
    assert body["awaiting_human"] is True
    assert body["halted"] is False
    assert body["replayed"] is False
    assert set(body) >= {"decision_id", "status", "verdict", "threshold", "reason", "event_ids"}
    assert again.status_code == 200
    assert again.json() == {**body, "replayed": True}
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "duplicate"
    assert other.json()["error"]["field"] == "decision_id"
    assert live.position() == stored


def test_a_human_decision_is_recorded_under_the_approvers_token_name(live):
    """
    Issue 12: the user_id recorded is the approver's token name, never taken from the body;
    a retry is replayed; another approver's answer afterwards is 409.
    """
    with live.client() as client:
        decision_id = client.post("/v1/gates", json=gate()).json()["decision_id"]
    path = f"/v1/decisions/{decision_id}/human-decision"
    other = add_token(live.config, f"carol-{uuid.uuid4().hex[:6]}", "approver")
    with live.client("approver") as client:
        smuggled = client.post(path, json={"decision": "approve", "user_id": "mallory"})
        first = client.post(path, json={"decision": "approve", "rationale": "fine"})
        again = client.post(path, json={"decision": "approve", "rationale": "fine"})
        record = client.get(f"/v1/decisions/{decision_id}").json()
    with live.client(token=other) as client:
        conflict = client.post(path, json={"decision": "approve", "rationale": "fine"})
    assert smuggled.status_code == 400
    assert smuggled.json()["error"]["field"] == "user_id"
    assert first.status_code == 200
    assert first.json()["status"] == "human_approved"
    assert again.status_code == 200
    assert again.json() == {**first.json(), "replayed": True}
    assert conflict.status_code == 409
    assert record["interventions"][0]["user_id"] == "approver-1"
    assert [fr.get("user_id") for fr in record["events"]] == [None, None, "approver-1", None]


def test_human_decision_on_an_unknown_decision_is_404(live):
    """
    Issue 12: an approver answering a decision that was never recorded gets 404.
    """
    with live.client("approver") as client:
        response = client.post(
            "/v1/decisions/no-such-decision/human-decision", json={"decision": "approve"}
        )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_decision"


@pytest.mark.parametrize(
    ("content", "field", "rule"),
    [
        (b"{not json", "body", "json"),
        (b"[1, 2]", "body", "type"),
        (
            b'{"target_ref": "x", "automation_level": "HYBRID", "decision": "approve"}',
            "gate_type",
            "required",
        ),
        (orjson.dumps(gate(actor="human")), "actor", "additionalProperties"),
        (orjson.dumps(gate(user_id="alice")), "user_id", "additionalProperties"),
        (orjson.dumps(gate(confidence="high")), "confidence", "type"),
        (orjson.dumps(gate(automation_level="SOMETIMES")), "automation_level", "enum"),
        (orjson.dumps(gate(rationale="x" * 5000)), "rationale", "maxLength"),
        (orjson.dumps(gate(evidence_refs="one")), "evidence_refs", "type"),
    ],
)
def test_malformed_command_bodies_are_400_naming_the_field(live, content, field, rule):
    """
    Issue 12: malformed JSON bodies on the command endpoints get 400 naming the field.
    """
    before = live.position()
    with live.client() as client:
        response = client.post(
            "/v1/gates", content=content, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"], error["rule"]) == ("invalid_schema", field, rule)
    assert live.position() == before


# --- reads ------------------------------------------------------------------------------------


def test_get_decision_is_govledger_show(live, capsysbinary):
    """
    Issue 12: GET /v1/decisions/{id} is what ``govledger show`` prints; 404 when unknown.
    """
    with live.client() as client:
        decision_id = client.post(
            "/v1/gates", json=gate(automation_level="AUTONOMOUS", confidence=0.99)
        ).json()["decision_id"]
    with live.client("auditor") as client:
        shown = client.get(f"/v1/decisions/{decision_id}")
        missing = client.get(f"/v1/decisions/{uuid.uuid4()}")
    capsysbinary.readouterr()
    assert cli.main(["--store", live.config.store, "show", decision_id]) == 0
    assert shown.status_code == 200
    assert shown.json() == orjson.loads(capsysbinary.readouterr().out)
    assert shown.json()["auto_signature"]["decision_id"] == decision_id
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_decision"


def test_decisions_by_status_are_listed_oldest_first_in_pages(live):
    """
    Issue 12: GET /v1/decisions?status=...&limit=&after= lists decisions by status, oldest
    first, paginated; the cursor is ``next_after``.
    """
    target = f"WP-page-{uuid.uuid4().hex[:8]}"
    with live.client() as client:
        made = [
            client.post("/v1/gates", json=gate(target_ref=target)).json()["decision_id"]
            for _ in range(5)
        ]
        halted = client.post(
            "/v1/gates", json=gate(gate_type="CloudEscalation", automation_level="LOCKED")
        ).json()
    seen: list[str] = []
    after, pages = 0, 0
    with live.client("auditor") as client:
        while pages < 100:
            page = client.get(
                "/v1/decisions", params={"status": "awaiting_human", "limit": 2, "after": after}
            )
            assert page.status_code == 200
            body = page.json()
            seen.extend(row["decision_id"] for row in body["decisions"])
            assert all(row["waited_seconds"] >= 0 for row in body["decisions"])
            assert all(row["status"] == "awaiting_human" for row in body["decisions"])
            assert len(body["decisions"]) <= 2
            pages += 1
            if body["next_after"] is None:
                break
            after = body["next_after"]
        halts = client.get("/v1/decisions", params={"status": "halted", "limit": 1000}).json()
        bad_status = client.get("/v1/decisions", params={"status": "waiting"})
        bad_limit = client.get("/v1/decisions", params={"limit": 0})
    assert [d for d in seen if d in made] == made
    assert halted["decision_id"] in [row["decision_id"] for row in halts["decisions"]]
    assert bad_status.status_code == 400
    assert bad_status.json()["error"]["field"] == "status"
    assert bad_limit.status_code == 400
    assert bad_limit.json()["error"]["field"] == "limit"


def test_checkpoint_and_proof_are_what_seal_and_prove_give(live):
    """
    Issue 12: GET /v1/checkpoint is the latest signed note (text/plain); GET .../proof is
    ``govledger prove``'s bundle; unknown decisions are 404.
    """
    with live.client() as client:
        decision_id = client.post("/v1/gates", json=gate()).json()["decision_id"]
    sealed = LedgerConfig(
        store=live.config.store, signing_key=str(Path(live.config.projection).parent / "key")
    )
    runtime = bootstrap(sealed)
    with runtime.ledger() as ledger:
        seal(ledger, runtime.signing_key())
        note = CheckpointStore.of(ledger).latest().note
        expected = prove(ledger, runtime.trusted_key(), decision_id)
    with live.client("auditor") as client:
        checkpoint = client.get("/v1/checkpoint")
        proof = client.get(f"/v1/decisions/{decision_id}/proof")
        missing = client.get(f"/v1/decisions/{uuid.uuid4()}/proof")
    assert checkpoint.status_code == 200
    assert checkpoint.headers["content-type"].startswith("text/plain")
    assert checkpoint.text == note
    assert proof.status_code == 200
    assert proof.json() == expected
    assert missing.status_code == 404


def test_health_readiness_and_the_openapi_document(live):
    """
    Issue 12: /healthz and /readyz need no token; /openapi.json documents every endpoint.
    """
    with httpx.Client(base_url=live.server.url) as client:
        health = client.get("/healthz")
        ready = client.get("/readyz")
        document = client.get("/openapi.json")
        unknown = client.get("/v2/nothing")
        wrong_method = client.delete("/v1/gates")
    assert health.status_code == 200
    assert ready.status_code == 200
    assert document.status_code == 200
    paths = document.json()["paths"]
    assert set(paths) >= {
        "/v1/events",
        "/v1/gates",
        "/v1/decisions/{decision_id}/human-decision",
        "/v1/decisions/{decision_id}",
        "/v1/decisions",
        "/v1/checkpoint",
        "/v1/decisions/{decision_id}/proof",
        "/healthz",
        "/readyz",
    }
    assert "bearer" in str(document.json()["components"]["securitySchemes"]).lower()
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "not_found"


def test_nothing_logged_carries_a_token_or_an_events_text(live):
    """
    Issue 12: the server logs no event text field and no token (nor ids from paths).
    """
    marker = f"rationale-{uuid.uuid4().hex}"
    with live.client() as client:
        made = client.post("/v1/gates", json=gate(rationale=marker, target_ref=marker)).json()
        client.post(
            "/v1/events",
            content=ndjson([orjson.dumps({"type": "gov_decision_created", "rationale": marker})]),
            headers={"Content-Type": "application/x-ndjson"},
        )
    with live.client("approver") as client:
        client.get(f"/v1/decisions/{made['decision_id']}")
    log = live.server.output()
    assert "POST /v1/gates 201" in log
    assert marker not in log
    assert made["decision_id"] not in log
    for token in live.tokens.values():
        assert token not in log
        assert token[4:20] not in log


def test_refusals_over_http_are_journaled_as_http(live):
    """
    Issue 10/12: a refused line of POST /v1/events and a refused POST /v1/gates are in the
    refusal journal with entry point ``http``.
    """
    marker = f"journal-{uuid.uuid4().hex[:8]}"
    bad = orjson.dumps({**orjson.loads(valid_event_lines(1, seed=marker)[0]), "confidence": 7})
    args = gate(decision_id=marker)
    with live.client() as client:
        client.post(
            "/v1/events", content=ndjson([bad]), headers={"Content-Type": "application/x-ndjson"}
        )
        client.post("/v1/gates", json=args)
        refused = client.post("/v1/gates", json={**args, "confidence": 0.6})
    assert refused.status_code == 409
    with bootstrap(live.config).ledger() as ledger:
        journal = [record for _, record in ledger.refusals(limit=100_000)]
    mine = [
        r for r in journal if r.event_id == orjson.loads(bad)["event_id"] or r.decision_id == marker
    ]
    assert [(r.entry_point, r.code) for r in mine] == [
        ("http", "invalid_schema"),
        ("http", "duplicate"),
    ]
