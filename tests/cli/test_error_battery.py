"""Issue 11 item 7: every CLI failure is one clear message with the documented exit code.

Exit codes (README): 1 refused input or a failed check (tamper_detected included),
2 usage or configuration, 3 the store or a file unavailable, 130 interrupted. Each
case runs the real ``govledger`` in a subprocess (as a user would) and asserts the
exit code, that no traceback is printed, and that the last stderr line is the
one JSON error line (or argparse's usage line).
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ledger.cli import main

_MAIN = "import sys; from ledger.cli import main; sys.exit(main())"
SECRET = "s3cr3t-Pa55word"  # noqa: S105 - a test value that must never be printed


def govledger(
    *args: str, cwd: Path, env: dict[str, str] | None = None, **kwargs
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GOVLEDGER_", "PG"))}
    return subprocess.run(  # noqa: PLW1510 - the exit code is what is checked
        [sys.executable, "-c", _MAIN, *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """
    A sealed store and its projection, plus the odd files the bad invocations name.
    """
    here = tmp_path_factory.mktemp("battery")
    store = str(here / "govledger.db")
    assert main(["--store", store, "keygen"]) == 0
    assert main(["--store", store, "demo", "--work-packets", "2"]) == 0
    assert main(["--store", store, "seal"]) == 0
    (here / "notes.txt").write_bytes(b"not a database\n" * 100)
    (here / "latin1.key").write_bytes(b"\xe9\xe8\xff not utf-8 \xfe")
    (here / "latin1.checkpoint").write_bytes(b"\xff\xfe\xfd")
    (here / "empty.jsonl").write_bytes(b"")
    (here / "a-file").write_text("x")
    return here


#: (arguments, exit code, error code or None for an argparse usage error)
CASES = [
    # Usage errors exit 2.
    (["no-such-command"], 2, None),
    (["audit", "no-such-report"], 2, None),
    (["audit", "summary", "--format", "xml"], 2, None),
    (["project", "--batch-size", "0"], 2, None),
    (["replay", "--as-of", "0001-01-01T00:00:00+01:00", "--to", "x.duckdb"], 2, None),
    (["replay", "--as-of", "yesterday", "--to", "x.duckdb"], 2, None),
    (["replay", "--as-of", "2026-01-01T00:00:00", "--to", "x.duckdb"], 2, None),
    (["ingest", "--batch-size", "0", "empty.jsonl"], 2, "configuration_error"),
    (["--store", "postgresql://u@127.0.0.1:99999/db", "events"], 2, "configuration_error"),
    (["--store", "postgresql://u@[::1/db", "events"], 2, "configuration_error"),
    (["--store", "postgresql://u@127.0.0.1/db?pool_size=-1", "events"], 2, "configuration_error"),
    (["verify", "--key", "latin1.key"], 2, "key_unusable"),
    (["verify", "--key", "no-such.pub"], 2, "key_unusable"),
    # The store or a file is unavailable: exit 3.
    (["--store", "notes.txt", "events"], 3, "store_unavailable"),
    (["--store", "notes.txt", "ingest", "empty.jsonl"], 3, "store_unavailable"),
    (["--store", "typo.db", "audit", "summary"], 3, "store_unavailable"),
    (["--store", "typo.db", "verify", "--require-sealed"], 3, "store_unavailable"),
    (["--store", "no/such/dir/x.db", "ingest", "empty.jsonl"], 3, "store_unavailable"),
    (["validate", "no-such.jsonl"], 3, "input_unavailable"),
    (["ingest", "no-such.jsonl"], 3, "input_unavailable"),
    (["verify", "--checkpoint", "no-such.checkpoint"], 3, "input_unavailable"),
    (["export", "--parquet", "a-file"], 3, "output_unavailable"),
    (["report", "--out", "no/such/dir/report.html"], 3, "output_unavailable"),
    (["audit", "evidence", "--out", "no/such/dir/pack.zip"], 3, "output_unavailable"),
    (["--projection", "nope.duckdb", "query", "--no-catch-up", "SELECT 1"], 3, None),
    (
        ["--store", f"postgresql://u:{SECRET}@127.0.0.1:1/db?connect_timeout=1", "events"],
        3,
        "store_unavailable",
    ),
    (
        ["--store", f"postgresql://u@127.0.0.1:1/db?password={SECRET}&connect_timeout=1", "events"],
        3,
        "store_unavailable",
    ),
    # Refused input or a failed check: exit 1.
    (["verify", "--checkpoint", "latin1.checkpoint"], 1, "checkpoint_invalid"),
    (["verify-proof", "notes.txt", "--key", "govledger.db.key.pub"], 1, "checkpoint_invalid"),
    (["query", "SELEC 1"], 1, "sql_error"),
    (["query", "SELECT * FROM read_text('govledger.db.key')"], 1, "read_only_query"),
    (["query", "DROP TABLE events"], 1, "read_only_query"),
    (["--projection", "notes.txt", "audit", "summary"], 3, "projection_unavailable"),
    (["prove", "no-such-decision"], 1, "checkpoint_invalid"),
]


@pytest.mark.parametrize(("args", "status", "code"), CASES, ids=lambda v: str(v)[:60])
def test_a_bad_invocation_is_one_clear_error_with_its_exit_code(workdir, args, status, code):
    """
    Issue 11 item 7: no traceback; the documented exit code; one JSON error line naming
    the rule (argparse's own usage error for a malformed command line); no password.
    """
    done = govledger(*args, cwd=workdir)
    assert "Traceback" not in done.stderr
    assert done.returncode == status, done.stderr
    assert SECRET not in done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    if code is None and not last.startswith("{"):
        assert "error:" in last or "govledger" in last
        return
    error = orjson.loads(last)["error"]
    if code is not None:
        assert error["code"] == code
    assert error["message"]


def test_table_output_escapes_control_and_bidi_characters(tmp_path):
    """
    Issue 11 item 7: an id holding a terminal escape or a right-to-left override is shown
    escaped in table output, so a row cannot be faked on screen.
    """
    from ledger.application import GovernanceLedger
    from ledger.config import LedgerConfig

    store = tmp_path / "govledger.db"
    evil = "WP-1/MT-1\x1b[2K\r\u202eLOCKED-approved"
    with GovernanceLedger(LedgerConfig(store=str(store))) as ledger:
        ledger.evaluate_gate("SpecApproval", evil, "HYBRID", "approve", 0.95, model_id="m")
    done = govledger(
        "--store", str(store), "query", "SELECT target_ref FROM decisions", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    assert "\u202e" not in done.stdout
    assert "\r" not in done.stdout
    assert "\\u001b[2K\\u000d\\u202eLOCKED-approved" in done.stdout
    as_json = govledger(
        "--store",
        str(store),
        "query",
        "SELECT target_ref FROM decisions",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert orjson.loads(as_json.stdout) == [{"target_ref": evil}]


def _interrupt(args: list[str], cwd: Path, feed: bytes, wait_for: str) -> tuple[int, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _MAIN, *args],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(feed)
    process.stdin.flush()
    line = process.stdout.readline().decode()  # the first result: it is waiting for more
    assert wait_for in line
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    return process.returncode, err.decode()


def test_ctrl_c_while_validate_waits_for_input_exits_130(tmp_path):
    """
    Issue 11 item 7: Ctrl-C while validate waits on its input: exit 130, one line, no
    traceback.
    """
    source = tmp_path / "source.db"
    assert main(["--store", str(source), "demo", "--work-packets", "1"]) == 0
    with sqlite3.connect(source) as con:
        first = con.execute("SELECT state FROM stored_events ORDER BY rowid LIMIT 1").fetchone()
    con.close()
    status, err = _interrupt(["validate"], tmp_path, bytes(first[0]) + b"\n", '"accepted"')
    assert status == 130
    assert "Traceback" not in err
    assert "interrupted" in err.strip().splitlines()[-1]


def test_ctrl_c_during_ingest_exits_130_saying_what_was_stored(tmp_path):
    """
    Issue 11 item 7: Ctrl-C during ingest: exit 130 with a one-line note of what was
    stored; what was reported accepted is in the store.
    """
    source = tmp_path / "source.db"
    assert main(["--store", str(source), "demo", "--work-packets", "1"]) == 0
    with sqlite3.connect(source) as con:
        first = con.execute("SELECT state FROM stored_events ORDER BY rowid LIMIT 1").fetchone()
    con.close()
    store = tmp_path / "govledger.db"
    status, err = _interrupt(
        ["--store", str(store), "ingest", "--batch-size", "1"],
        tmp_path,
        bytes(first[0]) + b"\n",
        '"accepted"',
    )
    assert status == 130
    assert "Traceback" not in err
    note = err.strip().splitlines()[-1]
    assert "interrupted" in note
    assert "1 events accepted and stored" in note
    with sqlite3.connect(store) as con:
        assert con.execute("SELECT count(*) FROM stored_events").fetchone() == (1,)
    con.close()


def _small_files() -> None:
    # A full disk, as far as this process can tell: writes past 300 kB fail (EFBIG).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))


def test_a_full_disk_while_projecting_exits_3_and_the_next_run_resumes(tmp_path):
    """
    Issue 11 item 7: the disk filling up while projecting is projection_unavailable (exit
    3), with no advice to rebuild; nothing half-written is kept, and the next run resumes.
    """
    store = tmp_path / "govledger.db"
    assert main(["--store", str(store), "demo", "--work-packets", "120"]) == 0
    args = ("--store", str(store), "--projection", "p.duckdb", "project", "--batch-size", "50")
    done = govledger(*args, cwd=tmp_path, preexec_fn=_small_files)
    assert "Traceback" not in done.stderr
    assert done.returncode == 3, done.stderr
    error = orjson.loads(done.stderr.strip().splitlines()[-1])["error"]
    assert error["code"] == "projection_unavailable"
    assert "rebuild" not in error["message"]
    again = govledger(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    check = govledger(
        "--store",
        str(store),
        "--projection",
        "p.duckdb",
        "query",
        "SELECT count(*) = max(position) AS whole FROM events",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert orjson.loads(check.stdout) == [{"whole": True}]
