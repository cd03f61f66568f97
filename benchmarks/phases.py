"""Where the ingesting process's own CPU goes, phase by phase (a profile, not a benchmark).

``ingest_lines`` over the generated workload into a fresh SQLite file, in this process,
with the chosen workers and read-ahead and the CLI's garbage-collector tuning
(``bulk_gc``). Each phase of the ingesting thread is wrapped in ``time.thread_time`` (the
CPU of that thread alone: the worker process and the commit thread are not in it) and
printed in microseconds per input line. Phases nest: ``judge`` is inside ``_judge_once``,
``_insert_events`` and ``to_stored_event`` inside ``_write``; the wrappers add ~0.3 us to
each call they time.

``python -m benchmarks.phases [--events N] [--workers N] [--no-read-ahead]``
"""

from __future__ import annotations

import argparse
import functools
import shutil
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from benchmarks.ingest import WORKDIR, workload
from ledger import _mapper, _repository, application, ingest
from ledger.application import GovernanceLedger
from ledger.config import LedgerConfig
from ledger.stores import sqlite

__all__ = ["main"]

_PHASES: list[tuple[Any, str]] = [
    (application.GovernanceLedger, "_judge_once"),
    (application, "prepare"),
    (_repository.DecisionRepository, "load"),
    (_repository.DecisionRepository, "stored_event_ids"),
    (application, "judge"),
    (application.GovernanceLedger, "_write"),
    (_mapper.ValidatingMapper, "to_stored_event"),
    (sqlite.GovSQLiteRecorder, "_insert_events"),
    (application.GovernanceLedger, "_committed"),
    (_repository.DecisionRepository, "remember"),
    (ingest, "_finish"),
    (ingest, "_from_remote"),
    (ingest, "_alone"),
]


def _timed(owner: Any, name: str, cpu: Counter[str]) -> Callable[[], None]:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            cpu[name] += time.thread_time() - started

    setattr(owner, name, wrapper)
    return lambda: setattr(owner, name, original)


def main(argv: list[str] | None = None) -> Counter[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-read-ahead", action="store_true")
    args = parser.parse_args(argv)
    source = workload(args.events)
    lines = [raw.rstrip(b"\n") for raw in source.open("rb")]
    target = WORKDIR / "phases"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    cpu: Counter[str] = Counter()
    undo = [_timed(owner, name, cpu) for owner, name in _PHASES]
    try:
        config = LedgerConfig(store=str(target / "ledger.db"))
        with GovernanceLedger(config) as ledger, ingest.bulk_gc():  # as govledger ingest
            started, thread = time.perf_counter(), time.thread_time()
            results = ingest.ingest_lines(
                ledger, lines, workers=args.workers, read_ahead=not args.no_read_ahead
            )
            count = sum(1 for _ in results)
            wall, total = time.perf_counter() - started, time.thread_time() - thread
    finally:
        for restore in undo:
            restore()
    per = 1e6 / count
    print(
        f"phases   {count:,} lines, workers {args.workers}, read ahead "
        f"{not args.no_read_ahead}: wall {wall * per:.1f} us/line, ingesting thread CPU "
        f"{total * per:.1f} us/line"
    )
    for name, seconds in cpu.most_common():
        print(f"phases     {name:<18} {seconds * per:6.1f} us/line")
    return cpu


if __name__ == "__main__":
    main()
