"""``govledger serve`` under load and faults: concurrent clients, several servers, SIGKILL,
SIGTERM, a store that fails, and a fuzz of malformed requests.

Issue 12, "Done means". Every loop and wait here is bounded in count and time.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import string
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.bootstrap import bootstrap
from ledger.config import LedgerConfig
from tests.integration._server import Server, add_token
from tests.strategies import valid_decision, valid_event_lines

NDJSON = {"Content-Type": "application/x-ndjson"}
WAIT = 120.0


def ndjson(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"


def stored_ids(config: LedgerConfig) -> list[str]:
    with bootstrap(config).ledger() as ledger:
        return [orjson.loads(state)["event_id"] for _, state in ledger.stored_events()]


def _forbidden_signature(decision: list[dict]) -> bytes:
    """
    A 003 for a FULL_HUMAN decision: refused (forbidden_gate) whenever it arrives.
    """
    first = decision[0]
    return orjson.dumps(
        {
            "type": "gov_auto_signature_created",
            "event_id": str(uuid.uuid4()),
            "timestamp": first["timestamp"],
            "actor": "agent",
            "decision_id": first["decision_id"],
            "gate_type": first["gate_type"],
            "target_ref": first["target_ref"],
            "automation_level": "FULL_HUMAN",
            "model_id": "m",
        }
    )


def test_concurrent_clients_posting_interleaved_lifecycles_get_exact_results(store_config):
    """
    Issue 12: 4 clients post interleaved lifecycles at once (on PostgreSQL through two
    servers on one store): every line gets exactly the result the rules give, shared events
    are accepted exactly once, and the store holds exactly the accepted events.
    """
    servers_wanted = 2 if store_config.is_postgres else 1
    token = add_token(store_config, "orchestrator-1", "orchestrator")
    rng = random.Random(12)  # noqa: S311 - test data
    common = [valid_decision(10_000 + i, rng) for i in range(10)]
    common_lines = [orjson.dumps(fr) for decision in common for fr in decision]
    clients = 4
    # Each client: 60 decisions of its own, sent phase by phase (all 001s, then all 2nd events,
    # ...), plus the shared decisions, plus one refused 003 per phase for a human-gated one.
    plans: list[list[tuple[list[bytes], list[tuple[str, str | None]]]]] = []
    for c in range(clients):
        own = [valid_decision(c * 1000 + i, rng) for i in range(60)]
        human = next(d for d in own if d[0]["automation_level"] == "FULL_HUMAN")
        batches = []
        for phase in range(4):
            lines = [orjson.dumps(d[phase]) for d in own if phase < len(d)]
            expected: list[tuple[str, str | None]] = [("accepted", None)] * len(lines)
            lines.append(_forbidden_signature(human))
            expected.append(("rejected", "forbidden_gate"))
            batches.append((lines, expected))
        # The shared decisions arrive at a different moment from each client.
        batches.insert(c % 5, (list(common_lines), [("common", None)] * len(common_lines)))
        plans.append(batches)
    servers = [Server(store_config) for _ in range(servers_wanted)]
    answers: dict[int, list[tuple[list[dict], list[tuple[str, str | None]]]]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients)

    def run(c: int) -> None:
        try:
            url = servers[c % len(servers)].url
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=WAIT
            ) as client:
                barrier.wait(timeout=WAIT)
                out = []
                for lines, expected in plans[c]:
                    response = client.post("/v1/events", content=ndjson(lines), headers=NDJSON)
                    assert response.status_code in (200, 422), response.text
                    got = [orjson.loads(x) for x in response.content.splitlines()]
                    out.append((got, expected))
                answers[c] = out
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    try:
        threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=WAIT * 2)
        assert not errors, errors
        accepted = _check_results(answers, len(common_lines))
        ids = stored_ids(store_config)
        assert len(ids) == len(set(ids)) == accepted
    finally:
        for server in servers:
            assert server.stop() == 0, server.output()[-2000:]
            server.__exit__()


def _check_results(answers: dict, shared: int) -> int:
    """
    Every line got its expected result; each shared event was accepted exactly once.
    Returns how many lines were accepted in all.
    """
    accepted_common: Counter[str] = Counter()
    accepted = 0
    for out in answers.values():
        for got, expected in out:
            assert [r["line"] for r in got] == list(range(1, len(expected) + 1))
            for result, (status, code) in zip(got, expected, strict=True):
                if status == "common":
                    assert result["status"] in ("accepted", "duplicate")
                    accepted_common[result["event_id"]] += result["status"] == "accepted"
                else:
                    assert (result["status"], result["code"]) == (status, code), result
                accepted += result["status"] == "accepted"
    assert set(accepted_common.values()) == {1}
    assert len(accepted_common) == shared
    return accepted


def test_sigkill_mid_load_loses_nothing_acknowledged(store_config):
    """
    Issue 12: SIGKILL the server while a client posts batches; after a restart every event
    it acknowledged is stored exactly once, and re-sending everything gets ``duplicate`` for
    them and completes the rest.
    """
    token = add_token(store_config, "orchestrator-1", "orchestrator")
    lines = valid_event_lines(8000, seed="sigkill")
    batches = [lines[i : i + 250] for i in range(0, len(lines), 250)]
    acknowledged: list[str] = []
    answered = threading.Semaphore(0)
    stop = threading.Event()
    server = Server(store_config)

    def post_all() -> None:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=WAIT
        ) as client:
            for batch in batches:
                if stop.is_set():
                    return
                try:
                    response = client.post("/v1/events", content=ndjson(batch), headers=NDJSON)
                except httpx.TransportError:
                    return  # the server died mid-request: nothing of this batch was acknowledged
                acknowledged.extend(
                    r["event_id"]
                    for r in map(orjson.loads, response.content.splitlines())
                    if r["status"] == "accepted"
                )
                answered.release()

    poster = threading.Thread(target=post_all)
    poster.start()
    try:
        for _ in range(6):
            assert answered.acquire(timeout=WAIT)
        server.stop(signal.SIGKILL)
        stop.set()
        poster.join(timeout=WAIT)
    finally:
        server.__exit__()
    assert acknowledged
    ids = stored_ids(store_config)
    assert len(ids) == len(set(ids))
    assert set(acknowledged) <= set(ids)
    with (
        Server(store_config) as again,
        httpx.Client(
            base_url=again.url, headers={"Authorization": f"Bearer {token}"}, timeout=WAIT
        ) as client,
    ):
        results = []
        for batch in batches:
            response = client.post("/v1/events", content=ndjson(batch), headers=NDJSON)
            assert response.status_code == 200
            results.extend(map(orjson.loads, response.content.splitlines()))
        assert again.stop() == 0
    status = {r["event_id"]: r["status"] for r in results}
    assert all(status[event_id] == "duplicate" for event_id in acknowledged)
    assert sorted(stored_ids(store_config)) == sorted(orjson.loads(x)["event_id"] for x in lines)


def test_sigterm_drains_the_request_in_flight_and_exits_0(store_config):
    """
    Issue 12: SIGTERM lets a request already in flight finish (its events stored and
    acknowledged), then the server exits with status 0.
    """
    token = add_token(store_config, "orchestrator-1", "orchestrator")
    lines = valid_event_lines(3000, seed="sigterm")
    body = ndjson(lines)
    half = len(body) // 2
    started, signalled = threading.Event(), threading.Event()
    server = Server(store_config)

    def slow_body() -> Iterator[bytes]:
        yield body[:half]
        started.set()
        signalled.wait(timeout=WAIT)
        yield body[half:]

    response: list[httpx.Response] = []

    def post() -> None:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=WAIT
        ) as client:
            response.append(client.post("/v1/events", content=slow_body(), headers=NDJSON))

    poster = threading.Thread(target=post)
    poster.start()
    try:
        assert started.wait(timeout=WAIT)
        server.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + WAIT
        while "Shutting down" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Shutting down" in server.output()
        signalled.set()
        poster.join(timeout=WAIT)
        assert server.proc.wait(timeout=WAIT) == 0
    finally:
        signalled.set()
        server.__exit__()
    assert response[0].status_code == 200
    got = [orjson.loads(x) for x in response[0].content.splitlines()]
    assert len(got) == len(lines)
    assert {r["status"] for r in got} == {"accepted"}
    assert len(stored_ids(store_config)) == len(lines)


def test_a_store_that_fails_is_503_with_retry_after_and_acknowledges_nothing(tmp_path):
    """
    Issue 12: when the store cannot be read or written, POST /v1/events is 503 with
    Retry-After and nothing of the request is acknowledged; /readyz says so too.
    The table is renamed away under the running server (SQLite re-prepares and fails).
    """
    config = LedgerConfig(store=str(tmp_path / "s.db"), projection=str(tmp_path / "p.duckdb"))
    token = add_token(config, "orchestrator-1", "orchestrator")
    lines = valid_event_lines(20, seed="503")
    headers = {**NDJSON, "Authorization": f"Bearer {token}"}
    with Server(config) as server, httpx.Client(base_url=server.url, timeout=WAIT) as client:
        assert (
            client.post("/v1/events", content=ndjson(lines[:5]), headers=headers).status_code == 200
        )
        with sqlite3.connect(config.store) as con:
            con.execute("ALTER TABLE stored_events RENAME TO stored_events_away")
        failed = client.post("/v1/events", content=ndjson(lines[5:]), headers=headers)
        ready = client.get("/readyz")
        with sqlite3.connect(config.store) as con:
            con.execute("ALTER TABLE stored_events_away RENAME TO stored_events")
        retried = client.post("/v1/events", content=ndjson(lines[5:]), headers=headers)
        assert server.stop() == 0
    assert failed.status_code == 503
    assert failed.headers["retry-after"] == "5"
    assert failed.json()["error"]["code"] == "store_unavailable"
    assert ready.status_code == 503
    assert retried.status_code == 200
    assert {orjson.loads(x)["status"] for x in retried.content.splitlines()} == {"accepted"}


# --- fuzz ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> Iterator[tuple[Server, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    config = LedgerConfig(store=str(tmp / "s.db"), projection=str(tmp / "p.duckdb"))
    tokens = {role: add_token(config, f"{role}-1", role) for role in ("orchestrator", "approver")}
    with Server(config, "--max-body", "65536") as server:
        yield server, tokens
        assert server.stop() == 0


_PATHS = [
    "/v1/events",
    "/v1/gates",
    "/v1/decisions",
    "/v1/decisions/d-1",
    "/v1/decisions/d-1/human-decision",
    "/v1/decisions/d-1/proof",
    "/v1/checkpoint",
    "/readyz",
    "/openapi.json",
]
_TYPES = [
    "application/json",
    "application/x-ndjson",
    "application/jsonl",
    "text/plain",
    "application/json; charset=utf-8",
    "multipart/form-data",
    "",
]
_texts = st.text(string.printable, max_size=40)
_GATE = {"gate_type": "SpecApproval", "target_ref": "x", "automation_level": "HYBRID"}


@st.composite
def requests(draw: st.DrawFn) -> dict:
    body = draw(
        st.one_of(
            st.binary(max_size=2000),
            st.builds(
                orjson.dumps,
                st.recursive(
                    st.one_of(
                        st.none(),
                        st.booleans(),
                        st.integers(-(2**63), 2**63 - 1),
                        st.floats(allow_nan=False, allow_infinity=False),
                        _texts,
                    ),
                    lambda inner: st.one_of(
                        st.lists(inner, max_size=4), st.dictionaries(_texts, inner, max_size=4)
                    ),
                    max_leaves=20,
                ),
            ),
            st.just(orjson.dumps(_GATE)),
            st.just(b"\x1f\x8b\x08\x00garbage"),
        )
    )
    path = draw(
        st.one_of(
            st.sampled_from(_PATHS), _texts.map(lambda t: "/" + t.replace("?", "").replace("#", ""))
        )
    )
    query = draw(
        st.sampled_from(
            ["", "?status=awaiting_human", "?limit=-1", "?limit=x&after=y", "?status=%00"]
        )
    )
    return {
        "method": draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])),
        "path": path + query,
        "content_type": draw(st.sampled_from(_TYPES)),
        "encoding": draw(st.sampled_from([None, "gzip", "deflate", "identity"])),
        "role": draw(st.sampled_from([None, "orchestrator", "approver", "bogus"])),
        "body": body,
    }


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(requests())
def test_malformed_requests_never_get_a_500_or_a_traceback(fuzzed, request_spec):
    """
    Issue 12: whatever is sent (method, path, content type, encoding, token, body), the
    answer is never a 5xx other than 503, always the ledger's JSON error for a refusal, and
    never a traceback.
    """
    server, tokens = fuzzed
    headers = {}
    if request_spec["content_type"]:
        headers["Content-Type"] = request_spec["content_type"]
    if request_spec["encoding"]:
        headers["Content-Encoding"] = request_spec["encoding"]
    if request_spec["role"] == "bogus":
        headers["Authorization"] = "Bearer glt_bogus"
    elif request_spec["role"]:
        headers["Authorization"] = f"Bearer {tokens[request_spec['role']]}"
    try:
        response = httpx.request(
            request_spec["method"],
            server.url + request_spec["path"],
            content=request_spec["body"],
            headers=headers,
            timeout=WAIT,
        )
    except httpx.InvalidURL:
        return  # the client would not send it
    assert response.status_code < 500 or response.status_code == 503, response.text
    assert b"Traceback" not in response.content
    if response.headers.get("content-type", "").startswith("application/x-ndjson"):
        # POST /v1/events answers per line, 422 when a line was rejected
        assert all(orjson.loads(line)["status"] for line in response.content.splitlines())
    elif response.status_code >= 400:
        assert response.json()["error"]["code"]


def test_the_fuzzed_server_logged_no_traceback(fuzzed):
    """
    Issue 12: after the fuzz, the server's own log holds no traceback either.
    """
    server, _ = fuzzed
    assert "Traceback" not in server.output()
