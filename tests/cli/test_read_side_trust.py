"""Issue 11 items 1, 2 and 6: a sandboxed query, a projection bound to its store, and
outputs that are replaced whole or not at all."""

from __future__ import annotations

import hashlib
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import orjson
import pytest

from ledger.application import GovernanceLedger
from ledger.cli import main
from ledger.config import LedgerConfig
from tests.conftest import postgres_url, require_postgres


@pytest.fixture
def paths(tmp_path, monkeypatch):
    """
    A sealed store with its key beside it, in the working directory (as a new user has it).
    """
    monkeypatch.chdir(tmp_path)
    store = str(tmp_path / "govledger.db")
    assert main(["--store", store, "keygen"]) == 0
    assert main(["--store", store, "demo", "--work-packets", "3"]) == 0
    assert main(["--store", store, "seal"]) == 0
    return {"store": store, "projection": str(tmp_path / "govledger.duckdb"), "dir": tmp_path}


def run(paths, *args: str) -> int:
    return main(["--store", paths["store"], "--projection", paths["projection"], *args])


def error_of(capsys) -> dict:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return orjson.loads(err.strip().splitlines()[-1])["error"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- item 1: a sandboxed query ---------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT content FROM read_text('govledger.db.key')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT content FROM read_text('/etc/passwd')",
        "SELECT * FROM glob('/root/*')",
        "SELECT * FROM glob('*')",
        "SELECT * FROM read_blob('govledger.db')",
        "SELECT * FROM sqlite_scan('govledger.db', 'stored_events')",
        "SELECT * FROM read_parquet('/tmp/*.parquet')",
    ],
)
def test_query_cannot_read_a_host_file(paths, capsys, sql):
    """
    Issue 11 item 1: no statement reads a file other than the projection (the signing key
    beside the store included); the refusal says why, and no key text is printed.
    """
    assert run(paths, "project") == 0
    capsys.readouterr()
    assert run(paths, "query", sql) == 1
    out, err = capsys.readouterr()
    assert "PRIVATE+KEY" not in out + err
    assert "root:" not in out + err
    error = orjson.loads(err)["error"]
    assert error["code"] == "read_only_query"


def test_a_file_name_as_a_table_is_just_a_missing_table(paths, capsys):
    """
    Issue 11 item 1: with external access off, FROM 'file' is not a file scan at all: the
    name is a table that does not exist (a SQL mistake), and nothing of the file is read.
    """
    assert run(paths, "project") == 0
    capsys.readouterr()
    assert run(paths, "query", "SELECT * FROM 'govledger.db.key'") == 1
    out, err = capsys.readouterr()
    assert "PRIVATE+KEY" not in out + err
    assert orjson.loads(err)["error"]["code"] == "sql_error"


@pytest.mark.parametrize(
    "sql",
    [
        "COPY decisions TO 'leak.csv'",
        "COPY (SELECT * FROM decisions) TO '/tmp/leak.parquet' (FORMAT parquet)",
        "SET enable_external_access = true",
        "RESET lock_configuration",
        "INSTALL httpfs",
        "LOAD httpfs",
        "ATTACH 'other.duckdb' AS other",
        "PRAGMA enable_external_access",
    ],
)
def test_query_cannot_write_a_file_or_turn_the_sandbox_off(paths, capsys, sql):
    """
    Issue 11 item 1: COPY TO, ATTACH, INSTALL/LOAD and turning a setting back on are all
    refused, and nothing new appears beside the store.
    """
    assert run(paths, "project") == 0
    before = sorted(p.name for p in paths["dir"].iterdir())
    capsys.readouterr()
    assert run(paths, "query", sql) == 1
    assert error_of(capsys)["code"] == "read_only_query"
    assert sorted(p.name for p in paths["dir"].iterdir()) == before


def test_query_makes_no_network_attempt(paths, capsys):
    """
    Issue 11 item 1: a URL in a query is refused before any connection is made: a server
    listening on 127.0.0.1 sees nobody.
    """
    assert run(paths, "project") == 0
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    seen: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        for _ in range(200):  # bounded: at most ~40 s, stopped as soon as the test is done
            if stop.is_set():
                return
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            seen.append(conn)
            conn.close()

    listener = threading.Thread(target=accept, daemon=True)
    listener.start()
    try:
        for sql in (
            f"SELECT * FROM read_csv('http://127.0.0.1:{port}/x.csv')",
            f"SELECT * FROM 'http://127.0.0.1:{port}/x.parquet'",
            f"SELECT * FROM read_json('https://127.0.0.1:{port}/x.json')",
        ):
            capsys.readouterr()
            assert run(paths, "query", sql) == 1
            assert error_of(capsys)["code"] == "read_only_query"
    finally:
        stop.set()
        listener.join(timeout=10)
        server.close()
    assert seen == []


def test_a_sql_mistake_is_reported_as_one_with_where_it_is(paths, capsys):
    """
    Issue 11 item 1: a typo is sql_error (not read_only_query), naming the position.
    """
    assert run(paths, "project") == 0
    capsys.readouterr()
    assert run(paths, "query", "SELEC count(*) FROM decisions") == 1
    error = error_of(capsys)
    assert error["code"] == "sql_error"
    assert "SELEC" in error["message"]
    assert run(paths, "query", "SELECT nope FROM decisions") == 1
    error = error_of(capsys)
    assert error["code"] == "sql_error"
    assert "nope" in error["message"]


def test_query_catches_up_first_unless_told_not_to(paths, capsys):
    """
    Issue 11 item 1: query catches up like audit does; --no-catch-up queries what is there.
    """
    assert run(paths, "project") == 0
    capsys.readouterr()
    with GovernanceLedger(LedgerConfig(store=paths["store"])) as ledger:
        ledger.evaluate_gate("SpecApproval", "WP-9/MT-9", "HYBRID", "approve", 0.95, model_id="m")
        total = ledger.max_position()
    assert (
        run(
            paths,
            "query",
            "--no-catch-up",
            "SELECT max(position) AS p FROM events",
            "--format",
            "json",
        )
        == 0
    )
    assert orjson.loads(capsys.readouterr().out)[0]["p"] < total
    assert run(paths, "query", "SELECT max(position) AS p FROM events", "--format", "json") == 0
    assert orjson.loads(capsys.readouterr().out)[0]["p"] == total


# --- item 2: a projection bound to its store ----------------------------------------------


def test_a_projection_of_one_store_is_refused_for_another(paths, capsys):
    """
    Issue 11 item 2: audit with another --store and the same projection is refused with
    projection_error naming both stores; nothing of the second store is appended.
    """
    assert run(paths, "project") == 0
    before = digest(Path(paths["projection"]))
    other = str(paths["dir"] / "other.db")
    assert main(["--store", other, "demo", "--work-packets", "1"]) == 0
    capsys.readouterr()
    with GovernanceLedger(LedgerConfig(store=paths["store"]), create=False) as ledger:
        first_id = ledger.store.meta.store_id
    for verb in (
        ["audit", "summary"],
        ["project"],
        ["query", "SELECT 1"],
        ["export", "--parquet", "x"],
    ):
        assert main(["--store", other, "--projection", paths["projection"], *verb]) == 1
        error = error_of(capsys)
        assert error["code"] == "projection_error"
        assert first_id in error["message"]
    assert digest(Path(paths["projection"])) == before
    # The way out: rebuild it from the other store.
    assert (
        main(["--store", other, "--projection", paths["projection"], "project", "--rebuild"]) == 0
    )
    assert main(["--store", other, "--projection", paths["projection"], "audit", "summary"]) == 0


@pytest.mark.postgres
def test_a_projection_of_a_sqlite_store_is_refused_for_a_postgres_store(paths, capsys):
    """
    Issue 11 item 2: the same across backends (a PostgreSQL URL and a SQLite file).
    """
    require_postgres()
    import uuid

    from tests.conftest import _drop_schema

    assert run(paths, "project") == 0
    schema = f"gl_{uuid.uuid4().hex[:10]}"
    url = postgres_url(schema)
    try:
        assert main(["--store", url, "demo", "--work-packets", "1"]) == 0
        capsys.readouterr()
        assert main(["--store", url, "--projection", paths["projection"], "audit", "summary"]) == 1
        assert error_of(capsys)["code"] == "projection_error"
    finally:
        _drop_schema(schema)


def foreign_duckdb(path: Path) -> str:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE events (id INTEGER, what VARCHAR)")
    con.execute("CREATE TABLE decisions (id INTEGER)")
    con.execute("INSERT INTO events VALUES (1, 'my own data')")
    con.close()
    return digest(path)


def test_a_duckdb_file_that_is_not_a_projection_is_never_written(paths, capsys):
    """
    Issue 11 item 2: project, project --rebuild, replay --to, audit and query refuse an
    unrelated DuckDB file (even with tables of the same names) and leave it byte-identical.
    """
    mine = paths["dir"] / "mine.duckdb"
    before = foreign_duckdb(mine)
    attempts = [
        ["--projection", str(mine), "project"],
        ["--projection", str(mine), "project", "--rebuild"],
        ["--projection", str(mine), "audit", "summary"],
        ["--projection", str(mine), "query", "SELECT 1"],
        ["--projection", str(mine), "export", "--parquet", "x"],
        ["replay", "--as-of", "2030-01-01T00:00:00Z", "--to", str(mine)],
    ]
    for args in attempts:
        capsys.readouterr()
        assert main(["--store", paths["store"], *args]) == 1, args
        assert error_of(capsys)["code"] == "projection_error"
        assert digest(mine) == before, args
    assert not (paths["dir"] / "x").exists()


def test_replay_to_replaces_an_earlier_replay_whole(paths, capsys):
    """
    Issue 11 item 6: replay --to over an earlier as-of file replaces it (built beside it,
    renamed into place); no temporary file is left behind.
    """
    out = paths["dir"] / "asof.duckdb"
    assert run(paths, "replay", "--as-of", "2000-01-01T00:00:00Z", "--to", str(out)) == 0
    assert run(paths, "replay", "--as-of", "2100-01-01T00:00:00Z", "--to", str(out)) == 0
    con = duckdb.connect(str(out), read_only=True)
    with GovernanceLedger(LedgerConfig(store=paths["store"]), create=False) as ledger:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == ledger.max_position()
    con.close()
    assert not [p for p in paths["dir"].iterdir() if p.name.endswith(".tmp")]


# --- item 6: atomic export ------------------------------------------------------------------


def test_export_refuses_a_file_and_a_directory_of_other_files(paths, capsys):
    """
    Issue 11 item 6: --parquet EXISTING_FILE and a directory holding other files are
    refused (exit 3) and left unchanged; --overwrite replaces the directory as a whole.
    """
    a_file = paths["dir"] / "notes.txt"
    a_file.write_text("mine")
    capsys.readouterr()
    assert run(paths, "export", "--parquet", str(a_file)) == 3
    assert error_of(capsys)["code"] == "output_unavailable"
    assert a_file.read_text() == "mine"
    folder = paths["dir"] / "share"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine too")
    assert run(paths, "export", "--parquet", str(folder)) == 3
    assert error_of(capsys)["code"] == "output_unavailable"
    assert (folder / "keep.txt").read_text() == "mine too"
    assert run(paths, "export", "--parquet", str(folder), "--overwrite") == 0
    assert not (folder / "keep.txt").exists()
    assert (folder / "events.parquet").exists()
    # A directory holding only an earlier export is replaced without --overwrite.
    assert run(paths, "export", "--parquet", str(folder)) == 0
    assert not [p for p in paths["dir"].iterdir() if p.name.startswith(".share.")]


_SLOW_EXPORT = """
import sys, time
from ledger.cli import main
import projections.queries as q
original = q.export_parquet

def slow(con, directory):
    counts = original(con, directory)
    print("written", flush=True)
    time.sleep(30)  # killed here, between writing and putting in place
    return counts

q.export_parquet = slow
import ledger.cli.read as read
read.projections.export_parquet = slow
sys.exit(main(sys.argv[1:]))
"""


def _kill_when_written(args: list[str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_EXPORT, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "written"
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)


def test_a_killed_export_leaves_the_old_export_whole(paths, capsys):
    """
    Issue 11 item 6: SIGKILL after the new files are written but before they are in place
    leaves the previous export, every file of it readable and unchanged.
    """
    folder = paths["dir"] / "share"
    assert run(paths, "export", "--parquet", str(folder)) == 0
    before = {p.name: digest(p) for p in folder.iterdir()}
    with GovernanceLedger(LedgerConfig(store=paths["store"])) as ledger:
        ledger.evaluate_gate("SpecApproval", "WP-9/MT-9", "HYBRID", "approve", 0.95, model_id="m")
    _kill_when_written(
        [
            "--store",
            paths["store"],
            "--projection",
            paths["projection"],
            "export",
            "--parquet",
            str(folder),
        ]
    )
    assert {p.name: digest(p) for p in folder.iterdir()} == before
    for name in before:
        duckdb.connect().execute(f"SELECT count(*) FROM '{folder / name}'").fetchone()
    # The next export completes and replaces it.
    assert run(paths, "export", "--parquet", str(folder)) == 0
    assert {p.name: digest(p) for p in folder.iterdir()} != before


def test_a_killed_replay_leaves_the_old_file_usable(paths, capsys):
    """
    Issue 11 item 6: SIGKILL during replay --to leaves the earlier as-of file as it was.
    """
    out = paths["dir"] / "asof.duckdb"
    assert run(paths, "replay", "--as-of", "2000-01-01T00:00:00Z", "--to", str(out)) == 0
    before = digest(out)
    script = """
import sys, time
from ledger.cli import main
import projections.runner as r
original = r.catch_up

def slow(*args, **kwargs):
    done = original(*args, **kwargs)
    print("written", flush=True)
    time.sleep(30)
    return done

r.catch_up = slow
sys.exit(main(sys.argv[1:]))
"""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            script,
            "--store",
            paths["store"],
            "replay",
            "--as-of",
            "2100-01-01T00:00:00Z",
            "--to",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "written"
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    assert digest(out) == before
    con = duckdb.connect(str(out), read_only=True)
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    con.close()
