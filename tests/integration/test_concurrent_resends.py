"""Identical re-sends at the same moment are duplicates, whatever the interleaving (issue 10 §1).

Two (or more) writers ingesting the same file at once used to report valid re-sends as
``sequence_violation``: the duplicate check and the decision load read the store at
different moments. Real processes, real stores (a SQLite file, a PostgreSQL schema).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson

from ledger.bootstrap import bootstrap
from tests.strategies import valid_event_lines

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 4


def _run(store: str, source: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env["PYTHONPATH"] = str(ROOT)
    env["GOVLEDGER_BATCH_SIZE"] = "50"  # many small batches: many interleavings
    with out.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "ledger", "--store", store, "ingest", str(source), "--quiet"],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.PIPE,
        )


def test_identical_resends_by_concurrent_processes_are_duplicates(store_config, tmp_path):
    """
    Issue 10 §1: an event whose identical copy is stored is ``duplicate``, never another
    code; each event is stored once; an ingest that only met duplicates exits 0.
    """
    lines = valid_event_lines(3000, seed="resend")
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    with bootstrap(store_config).ledger():
        pass  # the store exists before the race: creating it is another issue's test
    outs = [tmp_path / f"out-{n}.jsonl" for n in range(WRITERS)]
    procs = [_run(store_config.store, source, out) for out in outs]
    deadline = time.monotonic() + 300
    for proc in procs:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    results = [[orjson.loads(line) for line in out.read_bytes().splitlines()] for out in outs]
    for per_writer in results:
        assert len(per_writer) == len(lines)
        assert Counter(r["status"] for r in per_writer).keys() <= {"accepted", "duplicate"}
    accepted = Counter(r["event_id"] for per in results for r in per if r["status"] == "accepted")
    assert len(accepted) == len(lines)
    assert set(accepted.values()) == {1}  # each event acknowledged by exactly one writer
    with bootstrap(store_config).ledger() as ledger:
        stored = [state for _, state in ledger.stored_events()]
        assert not ledger.refusals()  # a duplicate is not a refusal
    assert sorted(stored) == sorted(lines_as_stored(lines))


def lines_as_stored(lines):
    return [orjson.dumps(orjson.loads(line), option=orjson.OPT_SORT_KEYS) for line in lines]
