"""Issue 11 item 5: the read side checks what it projects against the signed checkpoints.

The store file is changed directly with ``sqlite3`` (as anyone with write access to it
could); ``project`` must stop with ``tamper_detected`` naming the first position, and
nothing of the batch holding it may reach the projection.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import duckdb
import orjson
import pytest

from ledger.application import GovernanceLedger
from ledger.cli import main
from ledger.config import LedgerConfig
from ledger.errors import TamperDetectedError
from ledger.ingest import ingest_lines
from ledger.trust import SigningKey, leaf_hash, seal
from projections import _duckdb, catch_up
from tests.strategies import valid_event_lines

EVENTS = 300
SEALS = (100, 250)  # the last 50 events stay unsealed


@pytest.fixture
def store(tmp_path) -> Path:
    """
    300 events, two checkpoints (after 100 and 250), the key beside the store.
    """
    db = tmp_path / "ledger.db"
    assert main(["--store", str(db), "keygen", "--name", "test.invalid/ledger"]) == 0
    key = SigningKey.from_text((tmp_path / "ledger.db.key").read_text())
    lines = valid_event_lines(EVENTS)[:EVENTS]
    with GovernanceLedger(LedgerConfig(store=str(db))) as ledger:
        done = 0
        for upto in (*SEALS, EVENTS):
            assert {r.status for r in ingest_lines(ledger, lines[done:upto])} == {"accepted"}
            if upto in SEALS:
                seal(ledger, key)
            done = upto
    return db


def project(store: Path, capsys, *extra: str) -> tuple[int, dict | None]:
    capsys.readouterr()
    status = main(
        ["--store", str(store), "--projection", str(store) + ".duckdb", "project", *extra]
    )
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("{")]
    return status, orjson.loads(lines[-1])["error"] if lines else None


def projected(store: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(store) + ".duckdb", read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def edit(store: Path, position: int, change) -> None:
    with sqlite3.connect(store) as con:
        state = con.execute(
            "SELECT state FROM stored_events WHERE rowid = ?", [position]
        ).fetchone()
        con.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            [change(bytes(state[0])), position],
        )
    con.close()


def new_confidence(state: bytes) -> bytes:
    fr = orjson.loads(state)
    fr["rationale"] = "forged"
    return orjson.dumps(fr, option=orjson.OPT_SORT_KEYS)


def assert_tamper_detected_everywhere(store: Path, capsys, decision_id: str) -> None:
    """
    show and seal, and ingest of one more event for ``decision_id``: each exits 1 with
    tamper_detected and no traceback.
    """
    for verb in (["show", decision_id], ["seal"]):
        capsys.readouterr()
        assert main(["--store", str(store), *verb]) == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert orjson.loads(err.splitlines()[-1])["error"]["code"] == "tamper_detected"
    event = {**orjson.loads(valid_event_lines(1)[0]), "decision_id": decision_id}
    lines = store.parent / "more.jsonl"
    lines.write_bytes(orjson.dumps(event) + b"\n")
    capsys.readouterr()
    assert main(["--store", str(store), "ingest", str(lines)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert orjson.loads(err.splitlines()[-1])["error"]["code"] == "tamper_detected"


def test_events_are_projected_with_sealed_and_recorded_at(store, capsys):
    """
    Issue 11 item 5: events.sealed says whether a signed checkpoint covers the event,
    events.recorded_at when the store committed it.
    """
    assert project(store, capsys) == (0, None)
    rows = projected(
        store, "SELECT count(*) FILTER (WHERE sealed), count(*), count(recorded_at) FROM events"
    )
    assert rows == [(250, EVENTS, EVENTS)]


def test_events_projected_before_their_seal_are_marked_sealed_later(store, capsys):
    """
    Issue 11 item 5: the unsealed tail is checked and marked when a later checkpoint covers it.
    """
    assert project(store, capsys) == (0, None)
    key = SigningKey.from_text(Path(str(store) + ".key").read_text())
    with GovernanceLedger(LedgerConfig(store=str(store))) as ledger:
        seal(ledger, key)
    assert project(store, capsys) == (0, None)
    assert projected(store, "SELECT bool_and(sealed) FROM events") == [(True,)]
    meta = dict(projected(store, "SELECT key, value FROM projection_meta"))
    assert (meta["verified_size"], meta["verified_position"]) == (str(EVENTS), str(EVENTS))


def test_a_forged_sealed_event_stops_project_and_nothing_of_its_batch_is_projected(store, capsys):
    """
    Issue 11 item 5: an edited event fails its leaf hash: tamper_detected (exit 1) naming
    its position; the batch holding it commits nothing, earlier batches stay.
    """
    edit(store, 42, new_confidence)
    status, error = project(store, capsys, "--batch-size", "25")
    assert status == 1
    assert error["code"] == "tamper_detected"
    assert error["position"] == "42"
    assert "rebuild" not in error["message"]
    assert projected(store, "SELECT max(position) FROM events") == [(25,)]
    assert projected(store, "SELECT count(*) FROM events WHERE position > 25") == [(0,)]


def test_a_forged_event_whose_leaf_hash_was_rewritten_too_is_named_by_interval(store, capsys):
    """
    Issue 11 items 4 and 5: when the stored leaf hashes were rewritten too, the signed
    checkpoints still narrow it to the interval between the one before and the one after.
    """
    edit(store, 142, new_confidence)
    with sqlite3.connect(store) as con:
        state = con.execute("SELECT state FROM stored_events WHERE rowid = 142").fetchone()[0]
        con.execute(
            "UPDATE govledger_leaves SET leaf_hash = ? WHERE position = 142",
            [leaf_hash(bytes(state))],
        )
    con.close()
    status, error = project(store, capsys)
    assert status == 1
    assert error["code"] == "tamper_detected"
    assert "101 to 250" in error["message"]
    assert projected(store, "SELECT count(*) FROM events WHERE position > 100") == [(0,)]
    capsys.readouterr()
    assert main(["--store", str(store), "verify"]) == 1
    report = orjson.loads(capsys.readouterr().out)
    assert (report["position"], report["last_position"], report["exact"]) == (101, 250, False)


def test_a_schema_invalid_forged_row_is_tamper_detected_everywhere(store, capsys):
    """
    Issue 11 item 5: an event that is not a governance event stops project with
    tamper_detected (never a library traceback, never "rebuild"), and show and ingest on
    its decision say the same; the next seal refuses to sign over it too.
    """
    with sqlite3.connect(store) as con:
        state = con.execute("SELECT state FROM stored_events WHERE rowid = 280").fetchone()[0]
        decision_id = orjson.loads(state)["decision_id"]
        con.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = 280",
            [b'{"type": "gov_decision_created", "nonsense": true}'],
        )
    con.close()
    status, error = project(store, capsys)
    assert (status, error["code"], error["position"]) == (1, "tamper_detected", "280")
    assert_tamper_detected_everywhere(store, capsys, decision_id)


@pytest.mark.parametrize("forged", [42, 0.5, None], ids=["integer", "real", "null"])
def test_a_state_of_another_sql_type_is_tamper_detected_everywhere(store, capsys, forged):
    """
    Issue 11 item 5 (no tracebacks): SQLite keeps whatever type an UPDATE puts in the
    state column, which the ledger only ever writes as a BLOB; project, show, seal and
    ingest on its decision stop with tamper_detected naming it, never a TypeError.
    """
    with sqlite3.connect(store) as con:
        state = con.execute("SELECT state FROM stored_events WHERE rowid = 280").fetchone()[0]
        decision_id = orjson.loads(state)["decision_id"]
        con.execute("UPDATE stored_events SET state = ? WHERE rowid = 280", [forged])
    con.close()
    status, error = project(store, capsys)
    assert (status, error["code"], error["field"]) == (1, "tamper_detected", "state")
    assert_tamper_detected_everywhere(store, capsys, decision_id)


def test_a_state_rewritten_as_text_of_the_same_bytes_projects_as_before(store, capsys):
    """
    The same content stored as TEXT instead of a BLOB is the same event (its leaf hash is
    unchanged): it is read as its UTF-8 bytes and projected, not a crash.
    """
    with sqlite3.connect(store) as con:
        con.execute("UPDATE stored_events SET state = CAST(state AS TEXT) WHERE rowid = 280")
    con.close()
    assert project(store, capsys) == (0, None)
    assert projected(store, "SELECT count(*) FROM events") == [(EVENTS,)]


def test_the_projection_resumes_its_frontier_instead_of_rehashing(store, capsys, tmp_path):
    """
    Issue 11 item 5: the checked tree edge is kept in the projection, so a later run starts
    from it (the cost stays a hash per new event): an event before it, changed afterwards,
    is not read again by catch-up (verify is what rereads everything).
    """
    assert project(store, capsys) == (0, None)
    edit(store, 10, new_confidence)
    assert project(store, capsys) == (0, None)  # nothing new: nothing rehashed
    status, error = project(store, capsys, "--rebuild")
    assert (status, error["code"], error["position"]) == (1, "tamper_detected", "10")


def test_catch_up_checks_against_the_trusted_key(store, tmp_path):
    """
    Issue 11 item 5: checkpoints not signed by the trusted key stop the catch-up.
    """
    other = SigningKey.generate("test.invalid/other").verifier
    with GovernanceLedger(LedgerConfig(store=str(store))) as ledger:
        con = _duckdb.connect(tmp_path / "p.duckdb", store=ledger.store.meta)
        try:
            with pytest.raises(TamperDetectedError, match="not signed by the trusted key"):
                catch_up(ledger, con, key=other)
        finally:
            con.close()


def test_removed_events_at_the_end_are_caught(store, capsys):
    """
    Issue 11 item 5: a checkpoint covering more events than the store holds is a removal.
    """
    with sqlite3.connect(store) as con:
        con.execute("DELETE FROM stored_events WHERE rowid > 200")
    con.close()
    status, error = project(store, capsys)
    assert (status, error["code"]) == (1, "tamper_detected")
    assert "removed" in error["message"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
