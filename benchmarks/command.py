"""The command API: ``evaluate_gate``, one decision per call, each durable before it returns.

govledger: ``GovernanceLedger.evaluate_gate`` on a fresh SQLite file (WAL,
synchronous=FULL), for a deterministic mix of every gate type, automation level,
confidence and decision; each call records 2-3 events (001 -> 003 -> 002 when
auto-approved, 001 -> 004 when a human is needed, a LOCKED halt 001 -> 002) in
one transaction. Latency per decision (p50, p99, max over every call of every
repeat) is printed for both.

Raw baseline, same calls: ``sqlite3``, one transaction per decision holding the
same number of rows (each an ``orjson``-encoded FR-shaped event of the same
size) in an equivalent events table, same journal and sync mode. Events/s
counts stored events.

``python -m benchmarks.command [--decisions N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from benchmarks import _harness
from benchmarks._workload import GATES, MODELS
from benchmarks.ingest import _fresh
from ledger.application import GovernanceLedger
from ledger.config import LedgerConfig
from ledger.policy import Verdict, evaluate
from ledger.vocabulary import AutomationLevel

__all__ = ["calls", "main"]

LEVELS = ["AUTONOMOUS", "HYBRID", "FULL_HUMAN", "LOCKED"]


def calls(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """
    ``n`` deterministic ``evaluate_gate`` keyword sets.
    """
    rng = random.Random(seed)
    return [
        {
            "gate_type": rng.choice(GATES),
            "target_ref": f"wp://WP-{i:06d}/artifact",
            "automation_level": rng.choice(LEVELS),
            "decision": rng.choices(["approve", "reject", "defer"], weights=[8, 1, 1])[0],
            "confidence": round(rng.uniform(0.55, 1.0), 3),
            "rationale": "tests pass and the diff stays inside the work packet's scope",
            "evidence_refs": [f"evidence://{i}/{k}" for k in range(2)],
            "model_id": rng.choice(MODELS),
            "wp_id": f"WP-{i:06d}",
        }
        for i in range(n)
    ]


def events_of(call: dict[str, Any]) -> int:
    """
    How many events ``evaluate_gate`` records for ``call`` (by the gate table).
    """
    outcome = evaluate(
        call["gate_type"], AutomationLevel(call["automation_level"]), call["confidence"]
    )
    if outcome.verdict is Verdict.AUTO and call["decision"] == "approve":
        return 3
    return 2


def run_govledger(work: list[dict[str, Any]], store: Path, latencies: list[float]) -> None:
    with GovernanceLedger(LedgerConfig(store=str(store))) as ledger:
        for call in work:
            started = time.perf_counter()
            ledger.evaluate_gate(**call)
            latencies.append(time.perf_counter() - started)


def run_raw(work: list[dict[str, Any]], store: Path, latencies: list[float]) -> None:
    con = sqlite3.connect(store, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute(
        "CREATE TABLE events (position INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, "
        "decision_id TEXT NOT NULL, type TEXT NOT NULL, state BLOB NOT NULL)"
    )
    for call in work:
        started = time.perf_counter()
        decision_id = str(uuid.uuid4())
        rows = []
        for _ in range(events_of(call)):
            event_id = str(uuid.uuid4())
            fr = {
                "type": "gov_decision_created",
                "event_id": event_id,
                "timestamp": datetime.now(UTC).isoformat(),
                "actor": "agent",
                "decision_id": decision_id,
                **call,
            }
            rows.append(
                (event_id, decision_id, fr["type"], orjson.dumps(fr, option=orjson.OPT_SORT_KEYS))
            )
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO events (event_id, decision_id, type, state) VALUES (?,?,?,?)", rows
        )
        con.execute("COMMIT")
        latencies.append(time.perf_counter() - started)
    con.close()


def main(argv: list[str] | None = None) -> _harness.Result:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    work = calls(args.decisions)
    events = sum(events_of(c) for c in work)

    def warmup() -> None:
        run_raw(work[:100], _fresh(), [])
        run_govledger(work[:100], _fresh(), [])

    ours: list[float] = []
    raws: list[float] = []
    result = _harness.compare(
        "command",
        events=events,
        subject=lambda store: run_govledger(work, store, ours),
        raw=lambda store: run_raw(work, store, raws),
        setup=_fresh,
        warmup=warmup,
        repeats=args.repeats,
    )
    figures = {"govledger": _percentiles(ours), "raw": _percentiles(raws)}
    for name, (p50, p99, worst) in figures.items():
        count = len(ours if name == "govledger" else raws)
        print(
            f"command  latency per decision ({name}, {count:,} calls): p50 {p50:.2f} ms  "
            f"p99 {p99:.2f} ms  max {worst:.2f} ms",
            flush=True,
        )
    _harness.record(
        "command-latency",
        {
            name: {"p50_ms": round(v[0], 3), "p99_ms": round(v[1], 3), "max_ms": round(v[2], 3)}
            for name, v in figures.items()
        },
    )
    return result


def _percentiles(seconds: list[float]) -> tuple[float, float, float]:
    """
    (p50, p99, max) in milliseconds, over every call of every repeat.
    """
    ordered = sorted(seconds)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return cut[49] * 1e3, cut[98] * 1e3, ordered[-1] * 1e3


if __name__ == "__main__":
    main()
