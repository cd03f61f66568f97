"""Issue 11 items 2 and 3: a store knows who it is, is never adopted by mistake, and only
what writes creates one (safely, however many processes start at once)."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from ledger.application import GovernanceLedger
from ledger.cli import main
from ledger.config import LedgerConfig
from ledger.errors import StoreError
from ledger.stores import LAYOUT
from tests.conftest import postgres_url, require_postgres

#: Every verb that only reads the store, with the arguments it needs.
READ_VERBS = [
    ["events"],
    ["show", "00000000-0000-4000-8000-000000000000"],
    ["verify"],
    ["verify", "--require-sealed"],
    ["prove", "00000000-0000-4000-8000-000000000000"],
    ["audit", "summary"],
    ["query", "SELECT 1"],
    ["project"],
    ["project", "--rebuild"],
    ["export", "--parquet", "out"],
    ["replay", "--as-of", "2026-01-01T00:00:00Z", "--to", "asof.duckdb"],
    ["seal"],
    ["report", "--out", "r.html"],
]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_store_gets_an_identity_when_it_is_created_and_keeps_it(store_config):
    """
    Issue 11 item 2: a store id (a UUID) and the layout are created with the store, the
    same each time it is opened, and differ between two stores.
    """
    with GovernanceLedger(store_config) as ledger:
        first = ledger.store.meta
    with GovernanceLedger(store_config, create=False) as ledger:
        assert ledger.store.meta == first
    assert first.layout == LAYOUT
    assert len(first.store_id) == 36
    with GovernanceLedger(LedgerConfig(store=":memory:")) as other:
        assert other.store.meta.store_id != first.store_id


@pytest.mark.parametrize("verb", READ_VERBS, ids=lambda v: " ".join(v[:2]))
def test_read_verbs_on_a_missing_store_exit_3_and_leave_no_file(
    tmp_path, monkeypatch, verb, capsys
):
    """
    Issue 11 item 3: a verb that only reads never creates a store: store_unavailable
    naming the path, exit 3, and the directory is as empty as it was.
    """
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "typo.db"
    assert main(["--store", str(store), "--projection", "p.duckdb", *verb]) == 3
    error = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])["error"]
    assert error["code"] == "store_unavailable"
    assert str(store) in error["message"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_read_verbs_on_a_missing_postgres_schema_create_nothing(capsys):
    """
    Issue 11 item 3: the same on PostgreSQL: no schema, no table is created by a read.
    """
    require_postgres()
    import psycopg

    schema = "gl_never_created"
    url = postgres_url(schema)
    for verb in (["verify", "--require-sealed"], ["events"], ["audit", "summary"]):
        assert main(["--store", url, "--projection", ":memory:", *verb]) == 3
        error = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])["error"]
        assert error["code"] == "store_unavailable"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test") as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).fetchone()
    assert row == (0,)


def test_a_sqlite_database_of_something_else_is_refused_byte_for_byte_unchanged(tmp_path, capsys):
    """
    Issue 11 item 2: an unrelated SQLite database given as the store is never adopted:
    no ledger tables added, not switched to WAL, not a byte changed, by any verb.
    """
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        con.execute("INSERT INTO customers (name) VALUES ('ada')")
    con.close()
    before = digest(db)
    lines = tmp_path / "in.jsonl"
    lines.write_text("")
    for verb in (["ingest", str(lines)], ["demo", "--work-packets", "1"], ["verify"], ["events"]):
        assert main(["--store", str(db), *verb]) == 3, verb
        error = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])["error"]
        assert error["code"] == "store_unavailable"
        assert "not a govledger store" in error["message"]
    assert digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.db", "in.jsonl"]


def test_a_file_that_is_not_sqlite_is_refused_with_exit_3_and_unchanged(tmp_path, capsys):
    """
    Issue 11: a non-SQLite file as the store is one clear error (exit 3), no traceback.
    """
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"these are my notes, not a database\n" * 200)
    before = digest(junk)
    assert main(["--store", str(junk), "demo", "--work-packets", "1"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert orjson.loads(err)["error"]["code"] == "store_unavailable"
    assert digest(junk) == before


def test_a_store_of_a_newer_layout_is_refused(tmp_path):
    """
    Issue 11 item 2: a store written by a newer govledger is refused, not half-read.
    """
    db = tmp_path / "ledger.db"
    GovernanceLedger(LedgerConfig(store=str(db))).close()
    with sqlite3.connect(db) as con:
        con.execute("UPDATE govledger_meta SET value = ? WHERE key = 'layout'", [str(LAYOUT + 1)])
    con.close()
    with pytest.raises(StoreError, match="newer"):
        GovernanceLedger(LedgerConfig(store=str(db)), create=False)
    with pytest.raises(StoreError, match="newer"):
        GovernanceLedger(LedgerConfig(store=str(db)))


def test_a_store_written_before_identities_existed_gets_one_when_opened(tmp_path):
    """
    Issue 11 item 2: a govledger store from before the meta table is adopted (it is ours),
    given an identity once, and keeps it.
    """
    db = tmp_path / "ledger.db"
    with GovernanceLedger(LedgerConfig(store=str(db))) as ledger:
        ledger.evaluate_gate("SpecApproval", "WP-1/MT-1", "HYBRID", "approve", 0.95, model_id="m")
    with sqlite3.connect(db) as con:
        con.execute("DROP TABLE govledger_meta")
    con.close()
    with GovernanceLedger(LedgerConfig(store=str(db)), create=False) as ledger:
        first = ledger.store.meta
        assert ledger.max_position() == 3
    with GovernanceLedger(LedgerConfig(store=str(db)), create=False) as ledger:
        assert ledger.store.meta == first


#: Imports first, then all start together at the same wall-clock moment (argv[3]).
_CREATOR = """
import sys, time
from ledger.cli import main
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))
sys.exit(main(["--store", sys.argv[1], "ingest", "--quiet", sys.argv[2]]))
"""


def _events_file(tmp_path: Path) -> Path:
    source = tmp_path / "source.db"
    with GovernanceLedger(LedgerConfig(store=str(source))) as ledger:
        ledger.evaluate_gate("SpecApproval", "WP-1/MT-1", "HYBRID", "approve", 0.95, model_id="m")
        lines = [state for _, state in ledger.stored_events()]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _race(store: str, events: Path, processes: int) -> list[subprocess.CompletedProcess[str]]:
    moment = str(time.time() + 3.0)  # after every interpreter has imported the ledger
    started = [
        subprocess.Popen(
            [sys.executable, "-c", _CREATOR, store, str(events), moment],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    done = []
    for process in started:
        out, err = process.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return done


def test_many_processes_creating_one_sqlite_store_at_once_all_succeed(tmp_path):
    """
    Issue 11 item 3: processes that open a store that does not exist yet at the same
    moment all succeed (or wait): none fails on the switch to WAL, none prints a traceback.
    """
    events = _events_file(tmp_path)
    for trial in range(4):
        store = tmp_path / f"new-{trial}.db"
        for result in _race(str(store), events, 8):
            assert result.returncode == 0, result.stdout + result.stderr
            assert "Traceback" not in result.stderr
        with GovernanceLedger(LedgerConfig(store=str(store)), create=False) as ledger:
            assert ledger.max_position() == 3
        with sqlite3.connect(store) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert con.execute("SELECT count(*) FROM govledger_meta").fetchone()[0] == 2
        con.close()


@pytest.mark.postgres
def test_many_processes_creating_one_postgres_store_at_once_all_succeed(tmp_path):
    """
    Issue 11 item 3: the same on PostgreSQL (a schema that does not exist yet).
    """
    require_postgres()
    import uuid

    from tests.conftest import _drop_schema

    events = _events_file(tmp_path)
    schema = f"gl_race_{uuid.uuid4().hex[:8]}"
    try:
        for result in _race(postgres_url(schema), events, 6):
            assert result.returncode == 0, result.stdout + result.stderr
            assert "Traceback" not in result.stderr
        with GovernanceLedger(LedgerConfig(store=postgres_url(schema)), create=False) as ledger:
            assert ledger.max_position() == 3
    finally:
        _drop_schema(schema)
