"""Projection throughput: ``projections.runner.catch_up`` against a raw baseline.

    python -m benchmarks.project --events 1000000

Builds (once, then reuses) a SQLite store of ``--events`` governance events through
the ledger's own validated ``append`` path, then times, in the same process:

* raw: ``sqlite3`` pages of (rowid, state) from the notification log ->
  ``orjson.loads`` -> the flat columns (position, event_id, type, decision_id,
  timestamp, actor, JSON) -> one Arrow insert per batch into a fresh DuckDB file;
* projector: ``catch_up`` into a fresh DuckDB file: the same reading through
  ``GovernanceLedger.stored_events``, folding into the five tables (events,
  decisions, auto_signatures, human_interventions, locked_halts), one Arrow
  insert/upsert per table per batch and the tracking position, one transaction per batch;
* projector, checked: the same on a sealed copy of the store (signed checkpoints every
  100,000 events): every event's leaf hash is recomputed and compared with the
  authenticated leaves before its batch is written (issue 11).

Prints absolute events/s for both and the ratio projector/raw (goal >= 0.5).
Self-contained on purpose; it will move onto the shared ``benchmarks/_harness.py``.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from ledger.application import ACCEPTED, GovernanceLedger
from ledger.config import LedgerConfig
from ledger.ingest import bulk_gc
from projections import _duckdb, runner

_DATA = Path(__file__).resolve().parent / ".data"
_BASE = datetime(2026, 2, 19, 12, 0, tzinfo=UTC)
_MODELS = ["local/qwen2.5-coder-32b", "local/llama-3.3-70b", "local/mistral-small-24b"]
_USERS = ["alice", "bob", "carol"]
_CPU: dict[str, list[float]] = {}  # CPU seconds (all threads) per timed run, by label


# --- workload -----------------------------------------------------------------------


def _stamp(i: int) -> str:
    return (_BASE + timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def workload(n_events: int, seed: int = 7) -> Iterator[dict[str, Any]]:  # noqa: PLR0915
    """
    About ``n_events`` FR events the write side accepts: auto-approvals, human reviews
    (some answered thousands of events later, so a batch folds decisions an earlier
    batch created), LOCKED halts and model rejects, with realistic field sizes.
    """
    rng = random.Random(seed)
    clock = 0
    waiting: list[tuple[int, str, dict[str, Any]]] = []
    emitted = 0

    def fr(kind: str, base: dict[str, Any], actor: str, **fields: Any) -> dict[str, Any]:
        nonlocal clock, emitted
        clock += 1
        emitted += 1
        event = {"type": kind, "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                 "timestamp": _stamp(clock), "actor": actor, **base}
        event.update({k: v for k, v in fields.items() if v is not None})
        return event

    def answer(base: dict[str, Any]) -> Iterator[dict[str, Any]]:
        verdict = rng.choice(["approve", "approve", "reject"])
        yield fr("gov_human_intervention_received", base, "human", decision=verdict,
                 user_id=rng.choice(_USERS), rationale="Reviewed the diff and the test report.")
        yield fr("gov_decision_applied", base, "system", decision=verdict)

    wp = 0
    while emitted < n_events:
        wp += 1
        for mt in range(1, 6):
            decision_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            roll = rng.random()
            model = rng.choice(_MODELS)
            if roll < 0.45:
                gate, level, conf = "SpecApproval", "HYBRID", round(rng.uniform(0.8, 1.0), 3)
            elif roll < 0.80:
                gate, level, conf = "ScopeChange", "HYBRID", round(rng.uniform(0.3, 1.0), 3)
            elif roll < 0.90:
                gate, level, conf = "ScopeChange", "LOCKED", round(rng.uniform(0.3, 0.94), 3)
            else:
                gate, level, conf = "RefinementSign", "AUTONOMOUS", round(rng.uniform(0.2, 1), 3)
            base = {"decision_id": decision_id, "gate_type": gate,
                    "target_ref": f"WP-{wp:07d}/MT-{mt:02d}", "automation_level": level,
                    "wp_id": f"WP-{wp:07d}", "mt_id": f"MT-{mt:02d}"}
            refs = [f"artifact://wp-{wp:07d}/mt-{mt:02d}/diff", f"artifact://wp-{wp:07d}/tests"]
            rationale = "Spec sections match the work packet scope; tests cover the changes."
            if level == "LOCKED":
                yield fr("gov_decision_created", base, "agent", decision="defer", confidence=conf,
                         rationale=rationale, evidence_refs=refs, model_id=model)
                yield fr("gov_decision_applied", base, "system", decision="defer")
            elif gate == "RefinementSign" and conf < 0.5:
                yield fr("gov_decision_created", base, "agent", decision="reject", confidence=conf,
                         rationale=rationale, evidence_refs=refs, model_id=model)
                yield fr("gov_decision_applied", base, "system", decision="reject")
            elif gate != "ScopeChange":
                yield fr("gov_decision_created", base, "agent", decision="approve",
                         confidence=conf, rationale=rationale, evidence_refs=refs, model_id=model)
                yield fr("gov_auto_signature_created", base, "agent", model_id=model)
                yield fr("gov_decision_applied", base, "system", decision="approve")
            else:
                yield fr("gov_decision_created", base, "agent", decision="approve",
                         confidence=conf, rationale=rationale, evidence_refs=refs, model_id=model)
                yield fr("gov_human_intervention_requested", base, "system",
                         rationale="ScopeChange x HYBRID: Human")
                if rng.random() < 0.5:
                    yield from answer(base)
                else:
                    due = emitted + rng.randint(2_000, 40_000)
                    heapq.heappush(waiting, (due, decision_id, base))
        while waiting and (waiting[0][0] <= emitted or emitted >= n_events):
            yield from answer(heapq.heappop(waiting)[2])


def build_store(path: Path, n_events: int) -> int:
    """
    Write the workload through ``GovernanceLedger.append`` (validated, 1,000 per commit).
    """
    started = time.perf_counter()
    with GovernanceLedger(LedgerConfig(store=str(path))) as ledger:
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            results = ledger.append(batch)
            bad = [r for r in results if r.status != ACCEPTED]
            if bad:
                msg = f"workload event refused: {bad[0].error}"
                raise SystemExit(msg)
            batch.clear()

        for event in workload(n_events):
            batch.append(event)
            if len(batch) >= 1000:
                flush()
        if batch:
            flush()
        total = ledger.max_position()
    print(f"built {path} with {total:,} events in {time.perf_counter() - started:.1f}s",
          file=sys.stderr)
    return total


# --- the two contenders ---------------------------------------------------------------


def raw_baseline(store: Path, target: Path, batch_size: int, limit: int | None = None) -> int:
    """
    sqlite3 + orjson.loads + one Arrow insert per batch into DuckDB (DuckDB's defaults).
    """
    return _raw(store, target, batch_size, limit, tuned=False)


def raw_tuned(store: Path, target: Path, batch_size: int, limit: int | None = None) -> int:
    """
    The raw baseline given the projector's checkpoint setting, so it is as strong as it gets.
    """
    return _raw(store, target, batch_size, limit, tuned=True)


def _raw(store: Path, target: Path, batch_size: int, limit: int | None, *, tuned: bool) -> int:
    src = sqlite3.connect(store)
    con = duckdb.connect(str(target))
    if tuned:
        con.execute(f"SET checkpoint_threshold = '{_duckdb.CHECKPOINT_THRESHOLD}'")
    con.execute(
        "CREATE TABLE events (position BIGINT, event_id VARCHAR, type VARCHAR, "
        "decision_id VARCHAR, timestamp TIMESTAMPTZ, actor VARCHAR, fr JSON)"
    )
    last, done = 0, 0
    while True:
        rows = src.execute(
            "SELECT rowid, state FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (last, batch_size),
        ).fetchall()
        if not rows or (limit is not None and done >= limit):
            break
        parsed = [orjson.loads(state) for _, state in rows]
        batch = pa.table({  # noqa: F841 - DuckDB reads it by name (replacement scan)
            "position": pa.array([r[0] for r in rows], pa.int64()),
            "event_id": [p["event_id"] for p in parsed],
            "type": [p["type"] for p in parsed],
            "decision_id": [p["decision_id"] for p in parsed],
            "timestamp": [p["timestamp"] for p in parsed],
            "actor": [p["actor"] for p in parsed],
            "fr": [bytes(state).decode() for _, state in rows],
        })
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "INSERT INTO events SELECT position, event_id, type, decision_id, "
            "CAST(timestamp AS TIMESTAMPTZ), actor, fr FROM batch"
        )
        con.execute("COMMIT")
        last = rows[-1][0]
        done += len(rows)
    con.close()
    src.close()
    return done


def projector(store: Path, target: Path, batch_size: int, limit: int | None = None) -> int:
    """
    ``projections.runner.catch_up`` from position 0 into an empty file, under the collector
    tuning every read verb of the CLI runs with (``ledger.ingest.bulk_gc``).
    """
    with GovernanceLedger(LedgerConfig(store=str(store))) as ledger, bulk_gc():
        con = _duckdb.connect(target)
        try:
            done = runner.catch_up(ledger, con, batch_size=batch_size, stop=limit)
        finally:
            con.close()
    return done.events


def sealed_copy(store: Path) -> tuple[Path, Any]:
    """
    A copy of ``store`` sealed every 100,000 events (made once, then reused), and its key.
    """
    from ledger.trust import SigningKey, seal

    target = store.with_name(store.stem + "-sealed.db")
    key_path = Path(str(target) + ".key")
    if not target.exists():
        import shutil

        shutil.copy(store, target)
        key = SigningKey.generate("bench.invalid/project")
        key_path.write_text(key.to_text())
        with GovernanceLedger(LedgerConfig(store=str(target))) as ledger:
            total = ledger.max_position()
            step = 100_000

            def upto(after: int, limit: int, stop: int) -> Any:
                return ledger.stored_events(start=after + 1, limit=limit, stop=stop)

            for stop in range(step, total + step, step):
                seal(ledger, key, entries=lambda _, after, limit, s=stop: upto(after, limit, s))
    return target, SigningKey.from_text(key_path.read_text()).verifier


_CHECKED: dict[str, Any] = {}


def checked_projector(_store: Path, target: Path, batch_size: int, limit: int | None = None) -> int:
    """
    ``catch_up`` on the sealed copy, checking every event against the checkpoints (with
    ``bulk_gc``, as the CLI runs it).
    """
    sealed, key = _CHECKED["store"], _CHECKED["key"]
    with GovernanceLedger(LedgerConfig(store=str(sealed))) as ledger, bulk_gc():
        con = _duckdb.connect(target)
        try:
            done = runner.catch_up(ledger, con, batch_size=batch_size, stop=limit, key=key)
        finally:
            con.close()
    return done.events


def _timed(fn: Callable[[Path, Path, int, int | None], int], store: Path, work: Path,
           batch_size: int, limit: int | None, label: str) -> tuple[int, float]:
    target = work / f"{label}-{uuid.uuid4().hex}.duckdb"
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    n = fn(store, target, batch_size, limit)
    elapsed = time.perf_counter() - started
    _CPU.setdefault(label, []).append(time.process_time() - cpu)
    target.unlink(missing_ok=True)
    Path(str(target) + ".wal").unlink(missing_ok=True)
    return n, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.project", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--store", type=Path, help="reuse or create this SQLite store")
    parser.add_argument("--batch-size", type=int, default=runner.DEFAULT_BATCH)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each (median)")
    parser.add_argument("--limit", type=int, help="time only the first LIMIT events")
    args = parser.parse_args(argv)

    store = args.store or _DATA / f"store-{args.events}.db"
    store.parent.mkdir(parents=True, exist_ok=True)
    if not store.exists():
        build_store(store, args.events)
    _CHECKED["store"], _CHECKED["key"] = sealed_copy(store)
    with tempfile.TemporaryDirectory(prefix="govledger-bench-") as tmp:
        work = Path(tmp)
        # Warm-up: imports, page cache, DuckDB's first-connection costs.
        _timed(raw_baseline, store, work, args.batch_size, 20_000, "warm-raw")
        _timed(projector, store, work, args.batch_size, 20_000, "warm-proj")
        _timed(checked_projector, store, work, args.batch_size, 20_000, "warm-checked")
        raws, tuneds, projs, checks = [], [], [], []
        n_raw = n_proj = 0
        for _ in range(args.repeat):
            n_raw, t = _timed(raw_baseline, store, work, args.batch_size, args.limit, "raw")
            raws.append(n_raw / t)
            n_raw, t = _timed(raw_tuned, store, work, args.batch_size, args.limit, "tuned")
            tuneds.append(n_raw / t)
            n_proj, t = _timed(projector, store, work, args.batch_size, args.limit, "proj")
            projs.append(n_proj / t)
            n_check, t = _timed(checked_projector, store, work, args.batch_size, args.limit,
                                "checked")
            checks.append(n_check / t)
    raw, tuned, proj, checked = (statistics.median(x) for x in (raws, tuneds, projs, checks))
    print(f"store: {store} ({n_proj:,} events; batch {args.batch_size:,}; "
          f"median of {args.repeat})")
    cpu = {k: statistics.median(v) for k, v in _CPU.items()}
    print(f"raw baseline (sqlite3 + orjson + Arrow insert, DuckDB defaults): {raw:>10,.0f} ev/s"
          f"  CPU {cpu['raw']:.2f}s")
    print(f"raw baseline, given the projector's checkpoint_threshold:      {tuned:>10,.0f} ev/s"
          f"  CPU {cpu['tuned']:.2f}s")
    print(f"projector (catch_up: 5 tables + tracking):                     {proj:>10,.0f} ev/s"
          f"  CPU {cpu['proj']:.2f}s")
    print(f"projector, checking every event against the checkpoints:       {checked:>10,.0f} ev/s"
          f"  CPU {cpu['checked']:.2f}s")
    print(f"ratio projector/raw (goal >= 0.5): wall {proj / raw:.2f}, "
          f"CPU {cpu['raw'] / cpu['proj']:.2f} | against the tuned raw: "
          f"wall {proj / tuned:.2f}, CPU {cpu['tuned'] / cpu['proj']:.2f}")
    print(f"ratio checked projector/raw (goal >= 0.5): wall {checked / raw:.2f}, "
          f"CPU {cpu['raw'] / cpu['checked']:.2f} | against the tuned raw: "
          f"wall {checked / tuned:.2f}, CPU {cpu['tuned'] / cpu['checked']:.2f} | "
          f"checking costs {cpu['checked'] / cpu['proj'] - 1:+.0%} CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
