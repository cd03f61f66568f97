"""Bulk ingestion: 200,000 generated FR events into a fresh SQLite store.

govledger: ``govledger ingest --quiet --no-results FILE`` run in-process (the
CLI's ``main``) on a fresh SQLite file, with the default batch size (1,000) and
durability (WAL, synchronous=FULL).

Raw baseline on the same file of events: ``orjson.loads`` -> the same compiled
fastjsonschema validators -> ``sqlite3`` ``executemany`` of the valid events
into an equivalent events table (position, unique event_id, decision_id, type,
the event's bytes), one transaction per 1,000 input events, WAL and
synchronous=FULL as govledger uses. The baseline stores the input line as it
came (no re-encoding) and checks nothing but the schema: it is the floor of the
validated, durable work, not a ledger.

``python -m benchmarks.ingest [--events N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson

from benchmarks import _harness, _workload
from ledger import _schemas
from ledger.cli import main as main_cli

__all__ = ["ingest_govledger", "ingest_raw", "main"]

RAW_BATCH = 1000
WORKDIR = Path(tempfile.gettempdir()) / "govledger-bench"


def _lines(path: Path) -> Any:
    with path.open("rb") as handle:
        for raw in handle:
            yield raw.rstrip(b"\n")


def ingest_govledger(source: Path, store: Path) -> int:
    """
    ``govledger ingest --quiet --no-results``, in this process; its exit status.
    """
    return main_cli(["--store", str(store), "ingest", "--quiet", "--no-results", str(source)])


def ingest_raw(source: Path, store: Path) -> Counter[str]:
    """
    The floor: parse, validate with the same compiled validators, executemany per 1,000.
    """
    validators = {name: _schemas.validator(name) for name in _schemas.EVENT_SCHEMAS}
    con = sqlite3.connect(store, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute(
        "CREATE TABLE events (position INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, "
        "decision_id TEXT NOT NULL, type TEXT NOT NULL, state BLOB NOT NULL)"
    )
    counts: Counter[str] = Counter()
    lines = _lines(source)
    while batch := list(itertools.islice(lines, RAW_BATCH)):
        rows = []
        for line in batch:
            try:
                obj = orjson.loads(line)
                validators[obj["type"]](obj)
            except (orjson.JSONDecodeError, fastjsonschema.JsonSchemaValueException,
                    KeyError, TypeError):
                counts["rejected"] += 1
                continue
            rows.append((obj["event_id"].lower(), obj["decision_id"], obj["type"], line))
        con.execute("BEGIN")
        # OR IGNORE: a re-sent event_id is skipped, as the ledger reports it duplicate.
        cur = con.executemany(
            "INSERT OR IGNORE INTO events (event_id, decision_id, type, state) VALUES (?,?,?,?)",
            rows,
        )
        con.execute("COMMIT")
        counts["accepted"] += cur.rowcount
    con.close()
    return counts


def _fresh() -> Path:
    # One directory per process: a benchmark running elsewhere keeps its store.
    target = WORKDIR / f"store-{os.getpid()}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    return target / "ledger.db"


def workload(events: int) -> Path:
    """
    The generated input file (kept between runs; regenerated if its size changed).
    """
    WORKDIR.mkdir(parents=True, exist_ok=True)
    path = WORKDIR / f"workload-{events}.jsonl"
    _workload.write(path, events)
    return path


def main(argv: list[str] | None = None) -> _harness.Result:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    source = workload(args.events)
    small = workload(5_000)

    def warmup() -> None:
        ingest_raw(small, _fresh())
        ingest_govledger(small, _fresh())

    return _harness.compare(
        "ingest",
        events=args.events,
        subject=lambda store: ingest_govledger(source, store),
        raw=lambda store: ingest_raw(source, store),
        setup=_fresh,
        warmup=warmup,
        repeats=args.repeats,
    )


if __name__ == "__main__":
    main()
