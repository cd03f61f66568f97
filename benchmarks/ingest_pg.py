"""Ingest throughput on PostgreSQL: 1 and 4 writer processes, against a raw baseline.

    python -m benchmarks.ingest_pg [--events 30000] [--url postgresql://postgres@127.0.0.1:5432/test]

For each writer count, the same JSON Lines go (each writer its own share of the
decisions, all starting together) through:

* **ledger**: ``ingest_lines`` into a ``GovernanceLedger`` on PostgreSQL (parse,
  validate, judge every rule against the decision, store each batch in one
  transaction under the library's table lock, event_id index);
* **raw COPY**: ``orjson.loads`` -> the same validation (``normalise``) -> ``COPY`` of
  the same rows into an equivalent pair of tables, one transaction per batch: what a
  hand-written bulk loader with no rules and no ordering lock would do;
* **raw executemany**: the same with ``executemany`` instead of ``COPY``;
* **COPY only**: the already-validated rows, ``COPY`` alone (the database's floor).

It prints events/s and the ledger's ratio to raw COPY, and where the 1-writer
ledger run spends its time (store writes, store reads, the rest = Python: parse,
validate, judge, encode). Every run uses fresh schemas, dropped afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import statistics
import time
import uuid
from typing import Any

import orjson
import psycopg

from ledger import stores
from ledger.config import LedgerConfig

BATCH = 1000


# --- workload ------------------------------------------------------------------------


def workload(events: int) -> list[list[bytes]]:
    """
    ~``events`` valid FR events as JSON Lines, in decisions of 3 and 4 events.
    """
    from ledger.application import GovernanceLedger

    with GovernanceLedger(LedgerConfig(store=":memory:")) as mem:
        mem.evaluate_gate("SpecApproval", "wp", "AUTONOMOUS", "approve", 0.99, "ok", [], "m")
        hybrid = mem.evaluate_gate("ScopeChange", "wp", "HYBRID", "approve", 0.5, "ok", [], "m")
        mem.record_human_decision(hybrid.decision_id, "alice", "approve", "fine")
        shapes: dict[str, list[dict[str, Any]]] = {}
        for _, state in mem.stored_events():
            fr = orjson.loads(state)
            shapes.setdefault(fr["decision_id"], []).append(fr)
    templates = list(shapes.values())
    decisions: list[list[bytes]] = []
    total = 0
    while total < events:
        template = templates[len(decisions) % len(templates)]
        decision_id = str(uuid.uuid4())
        sequence = [
            orjson.dumps(
                {
                    **fr,
                    "decision_id": decision_id,
                    "event_id": str(uuid.uuid4()),
                    "target_ref": f"wp-{len(decisions)}",
                }
            )
            for fr in template
        ]
        decisions.append(sequence)
        total += len(sequence)
    return decisions


def shards(decisions: list[list[bytes]], writers: int) -> list[list[bytes]]:
    """
    Each writer's lines: whole decisions, interleaved so that sequences span batches.
    """
    out: list[list[bytes]] = []
    for w in range(writers):
        mine = decisions[w::writers]
        lines: list[bytes] = []
        for start in range(0, len(mine), 200):
            window = mine[start : start + 200]
            for step in range(4):
                lines.extend(d[step] for d in window if step < len(d))
        out.append(lines)
    return out


# --- the ledger ----------------------------------------------------------------------


def _timed(owner: Any, name: str, clock: dict[str, float]) -> None:
    method = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            clock[name] = clock.get(name, 0.0) + time.perf_counter() - started

    setattr(owner, name, wrapper)


def ledger_writer(url: str, lines: list[bytes], workers: int, barrier: Any, out: Any) -> None:
    from ledger.application import GovernanceLedger
    from ledger.ingest import ingest_lines

    clock: dict[str, float] = {}
    with GovernanceLedger(LedgerConfig(store=url, batch_size=BATCH)) as ledger:
        for name in ("insert_events", "find_event_ids", "select_events_many"):
            _timed(ledger.store, name, clock)
        barrier.wait()
        started = time.perf_counter()
        # As ``govledger ingest FILE`` does: read ahead (the next batch is judged while one
        # commits), with ``workers`` processes judging lines alone.
        statuses = [r.status for r in ingest_lines(ledger, lines, read_ahead=True, workers=workers)]
        ended = time.perf_counter()
    if statuses.count("accepted") != len(lines):
        msg = "the benchmark input must all be accepted"
        raise SystemExit(msg)
    out.put((started, ended, clock))


# --- the raw baseline ----------------------------------------------------------------

RAW_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE {s}.raw_events (originator_id uuid NOT NULL, originator_version bigint NOT NULL,
  topic text, state bytea, notification_id bigserial,
  PRIMARY KEY (originator_id, originator_version));
CREATE UNIQUE INDEX ON {s}.raw_events (notification_id);
CREATE TABLE {s}.raw_event_ids (event_id text PRIMARY KEY, originator_id uuid NOT NULL,
  originator_version bigint NOT NULL, recorded_at timestamptz NOT NULL DEFAULT clock_timestamp());
"""


def validated_rows(
    lines: list[bytes], versions: dict[uuid.UUID, int] | None = None
) -> list[tuple[Any, ...]]:
    """
    (aggregate id, version, topic, canonical bytes, event_id) for each line, validated.
    """
    from ledger.events import canonical_bytes
    from ledger.gate import aggregate_id
    from ledger.validation import normalise

    versions = {} if versions is None else versions
    rows = []
    for raw in lines:
        fr = normalise(orjson.loads(raw))
        oid = aggregate_id(fr["decision_id"])
        versions[oid] = versions.get(oid, 0) + 1
        rows.append((oid, versions[oid], fr["type"], canonical_bytes(fr), fr["event_id"].lower()))
    return rows


def _copy(conn: psycopg.Connection, schema: str, rows: list[tuple[Any, ...]]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy(
            f"COPY {schema}.raw_events (originator_id, originator_version, topic, state) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row[:4])
        with cur.copy(
            f"COPY {schema}.raw_event_ids (event_id, originator_id, originator_version) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row((row[4], row[0], row[1]))


def _executemany(conn: psycopg.Connection, schema: str, rows: list[tuple[Any, ...]]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {schema}.raw_events (originator_id, originator_version, topic, state) "
            "VALUES (%s, %s, %s, %s)",
            [row[:4] for row in rows],
        )
        cur.executemany(
            f"INSERT INTO {schema}.raw_event_ids (event_id, originator_id, originator_version) "
            "VALUES (%s, %s, %s)",
            [(row[4], row[0], row[1]) for row in rows],
        )


def raw_writer(
    dsn: str, schema: str, mode: str, lines: list[bytes], barrier: Any, out: Any
) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        prepared = validated_rows(lines) if mode == "copy_only" else None
        versions: dict[uuid.UUID, int] = {}
        barrier.wait()
        started = time.perf_counter()
        for start in range(0, len(lines), BATCH):
            if prepared is not None:
                rows = prepared[start : start + BATCH]
            else:
                rows = validated_rows(lines[start : start + BATCH], versions)
            (_executemany if mode == "executemany" else _copy)(conn, schema, rows)
        ended = time.perf_counter()
    out.put((started, ended, {}))


# --- running -------------------------------------------------------------------------


def _dsn(url: str) -> str:
    env = stores.environment(LedgerConfig(store=url))
    return (
        f"host={env['POSTGRES_HOST']} port={env['POSTGRES_PORT']} "
        f"dbname={env['POSTGRES_DBNAME']} user={env['POSTGRES_USER']}"
        + (f" password={env['POSTGRES_PASSWORD']}" if env["POSTGRES_PASSWORD"] else "")
    )


def run(target: Any, args_for: list[tuple[Any, ...]]) -> tuple[float, dict[str, float]]:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(args_for))
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, barrier, out)) for a in args_for]
    for p in procs:
        p.start()
    results = []
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=1))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                for p in procs:
                    p.kill()
                msg = "a writer failed (see its traceback above)"
                raise SystemExit(msg) from None
    for p in procs:
        p.join()
        if p.exitcode != 0:
            msg = f"a writer failed (exit {p.exitcode})"
            raise SystemExit(msg)
    clock: dict[str, float] = {}
    for _, _, c in results:
        for k, v in c.items():
            clock[k] = clock.get(k, 0.0) + v
    return max(r[1] for r in results) - min(r[0] for r in results), clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--writers", default="1,4")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each path; medians")
    parser.add_argument("--workers", type=int, default=0, help="ingest_lines workers per writer")
    args = parser.parse_args()
    decisions = workload(args.events)
    total = sum(len(d) for d in decisions)
    dsn = _dsn(args.url)
    base = args.url.split("?", 1)[0]
    print(
        f"{total} events in {len(decisions)} decisions, batches of {BATCH}, "
        f"PostgreSQL at {LedgerConfig(store=base).store_label}"
    )
    print(
        f"{'writers':>7} {'path':<18} {'seconds':>8} {'events/s':>10} {'vs raw COPY':>12}"
        f"   (median of {args.repeats}; ledger: read ahead, {args.workers} worker(s) each)"
    )
    breakdown: dict[int, tuple[float, dict[str, float]]] = {}
    for writers in (int(w) for w in args.writers.split(",")):
        parts = shards(decisions, writers)
        runs: dict[str, list[float]] = {}
        schemas = []
        try:
            for _ in range(args.repeats):  # the paths alternate, so load hits them alike
                for path in ("raw COPY", "raw executemany", "COPY only", "ledger"):
                    schema = f"bench_{uuid.uuid4().hex[:10]}"
                    schemas.append(schema)
                    if path == "ledger":
                        url = f"{base}?schema={schema}"
                        from ledger.application import GovernanceLedger

                        GovernanceLedger(LedgerConfig(store=url)).close()  # tables first
                        elapsed, clock = run(
                            ledger_writer, [(url, lines, args.workers) for lines in parts]
                        )
                        breakdown[writers] = (elapsed, clock)
                    else:
                        with psycopg.connect(dsn, autocommit=True) as conn:
                            conn.execute(RAW_DDL.format(s=schema))
                        mode = {
                            "raw COPY": "copy",
                            "raw executemany": "executemany",
                            "COPY only": "copy_only",
                        }[path]
                        elapsed, _ = run(
                            raw_writer, [(dsn, schema, mode, lines) for lines in parts]
                        )
                    runs.setdefault(path, []).append(elapsed)
            copy = statistics.median(runs["raw COPY"])
            for path, times in runs.items():
                elapsed = statistics.median(times)
                shown = "/".join(f"{t:.2f}" for t in times)
                print(
                    f"{writers:>7} {path:<18} {elapsed:>8.2f} {total / elapsed:>10,.0f} "
                    f"{copy / elapsed:>11.2f}x   (runs {shown} s)"
                )
        finally:  # never leave benchmark schemas behind, even when a writer failed
            with psycopg.connect(dsn, autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    for writers, (elapsed, clock) in breakdown.items():
        busy = elapsed * writers  # process-seconds
        write = clock.get("insert_events", 0.0)
        read = clock.get("find_event_ids", 0.0) + clock.get("select_events_many", 0.0)
        print(
            f"ledger, {writers} writer(s), share of process time: store writes (lock wait, insert, "
            f"commit) {write / busy:.0%}, store reads (event_id and decision look-ups) "
            f"{read / busy:.0%}, Python (parse, validate, judge, encode) "
            f"{1 - (write + read) / busy:.0%}"
        )


if __name__ == "__main__":
    main()
