"""The projection file: connection, tables, transactions and the tracking position.

DuckDB allows one writing process or many reading ones, never both, so callers
open the file for as short a time as they can (``connect`` retries briefly
while another process holds it). Every write goes through ``transaction``, our
own BEGIN/COMMIT/ROLLBACK: rows and the position they reach commit together or
not at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]

from ledger.events import FR_IDS
from projections._errors import ProjectionBusyError, ProjectionError, ReadOnlyQueryError

__all__ = [
    "CHECKPOINT_THRESHOLD",
    "SOURCE",
    "TABLES",
    "ProjectionBusyError",
    "ProjectionError",
    "ReadOnlyQueryError",
    "connect",
    "create_tables",
    "cut",
    "drop_tables",
    "load_decisions",
    "position",
    "record_cut",
    "record_position",
    "table_checksums",
    "transaction",
    "write_tables",
]

#: The tracking row's source: the notification log of the govledger application.
SOURCE: Final = "govledger"


#: Table name -> DDL. Typed columns, one row per fact; README documents every column.
#: Keys (events.position, decisions.decision_id, ...) are unique by construction: a
#: batch and its position commit together, and a batch folds each decision to one row.
#: They carry no PRIMARY KEY index on purpose: maintaining the ART indexes (and
#: INSERT OR REPLACE through them) made a catch-up more than twice as slow.
TABLES: Final[Mapping[str, str]] = {
    "events": """
        CREATE TABLE IF NOT EXISTS events (
            position BIGINT NOT NULL,
            event_id VARCHAR NOT NULL,
            type VARCHAR NOT NULL,
            fr_id VARCHAR NOT NULL,
            decision_id VARCHAR NOT NULL,
            timestamp TIMESTAMPTZ NOT NULL,
            actor VARCHAR NOT NULL,
            fr JSON NOT NULL
        )""",
    "decisions": """
        CREATE TABLE IF NOT EXISTS decisions (
            decision_id VARCHAR NOT NULL,
            gate_type VARCHAR NOT NULL,
            target_ref VARCHAR NOT NULL,
            automation_level VARCHAR NOT NULL,
            model_decision VARCHAR,
            confidence DOUBLE,
            threshold DOUBLE,
            verdict VARCHAR NOT NULL,
            effective_decision VARCHAR,
            status VARCHAR NOT NULL,
            actor VARCHAR NOT NULL,
            model_id VARCHAR,
            wp_id VARCHAR,
            mt_id VARCHAR,
            job_id VARCHAR,
            rationale VARCHAR,
            evidence_refs VARCHAR[],
            created_at TIMESTAMPTZ NOT NULL,
            signed_at TIMESTAMPTZ,
            applied_at TIMESTAMPTZ,
            applied_decision VARCHAR,
            human_decision VARCHAR,
            human_user_id VARCHAR,
            human_decided_at TIMESTAMPTZ,
            awaiting_since TIMESTAMPTZ,
            pending_request_id VARCHAR,
            created_position BIGINT NOT NULL,
            last_position BIGINT NOT NULL,
            event_count INTEGER NOT NULL
        )""",
    "auto_signatures": """
        CREATE TABLE IF NOT EXISTS auto_signatures (
            auto_signature_id VARCHAR NOT NULL,
            schema_version VARCHAR NOT NULL,
            decision_id VARCHAR NOT NULL,
            gate_type VARCHAR NOT NULL,
            target_ref VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            actor_kind VARCHAR NOT NULL,
            model_id VARCHAR NOT NULL,
            position BIGINT NOT NULL
        )""",
    "human_interventions": """
        CREATE TABLE IF NOT EXISTS human_interventions (
            request_event_id VARCHAR NOT NULL,
            decision_id VARCHAR NOT NULL,
            gate_type VARCHAR NOT NULL,
            target_ref VARCHAR NOT NULL,
            automation_level VARCHAR NOT NULL,
            requested_at TIMESTAMPTZ NOT NULL,
            request_reason VARCHAR,
            received_event_id VARCHAR,
            received_at TIMESTAMPTZ,
            user_id VARCHAR,
            decision VARCHAR,
            rationale VARCHAR,
            wait_seconds DOUBLE,
            requested_position BIGINT NOT NULL,
            received_position BIGINT
        )""",
    "locked_halts": """
        CREATE TABLE IF NOT EXISTS locked_halts (
            decision_id VARCHAR NOT NULL,
            gate_type VARCHAR NOT NULL,
            target_ref VARCHAR NOT NULL,
            decision VARCHAR NOT NULL,
            confidence DOUBLE,
            threshold DOUBLE,
            model_id VARCHAR,
            halted_at TIMESTAMPTZ NOT NULL,
            rule VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            position BIGINT NOT NULL
        )""",
}

_BOOKKEEPING: Final = {
    # One row per committed batch; the PRIMARY KEY makes a replayed position a no-op.
    "tracking": """
        CREATE TABLE IF NOT EXISTS tracking (
            source VARCHAR NOT NULL,
            notification_id BIGINT NOT NULL,
            PRIMARY KEY (source, notification_id)
        )""",
    # Present only in an as-of replay: the moment and the store position it was cut at.
    "replay_cut": """
        CREATE TABLE IF NOT EXISTS replay_cut (
            as_of TIMESTAMPTZ NOT NULL,
            position BIGINT NOT NULL,
            events BIGINT NOT NULL
        )""",
}

_FR_ID_CASES: Final = " ".join(f"WHEN '{t}' THEN '{i}'" for t, i in sorted(FR_IDS.items()))

# Timestamps arrive as RFC 3339 text (``t``/``z`` allowed); DuckDB wants upper case.
_TS = "CAST(upper({0}) AS TIMESTAMPTZ)"

#: How each table's rows are written from an Arrow batch of the same column names.
_WRITES: Final[Mapping[str, str]] = {
    "events": (
        "INSERT INTO events SELECT position, j[1], j[2], "
        f"CASE j[2] {_FR_ID_CASES} END, j[3], {_TS.format('j[4]')}, j[5], fr FROM ("
        "SELECT position, fr, json_extract_string(fr, "
        "['$.event_id', '$.type', '$.decision_id', '$.timestamp', '$.actor']) AS j FROM batch)"
    ),
    # Later events move a decision on: the batch is folded in Python first, so each
    # decision_id appears once here; its stored row (if any) was deleted just before.
    "decisions_replaced": (
        "DELETE FROM decisions WHERE decision_id IN (SELECT decision_id FROM batch)"
    ),
    "decisions": (
        "INSERT INTO decisions SELECT decision_id, gate_type, target_ref, "
        "automation_level, model_decision, confidence, threshold, verdict, "
        "effective_decision, status, actor, model_id, wp_id, mt_id, job_id, rationale, "
        f"evidence_refs, {_TS.format('created_at')}, {_TS.format('signed_at')}, "
        f"{_TS.format('applied_at')}, applied_decision, human_decision, human_user_id, "
        f"{_TS.format('human_decided_at')}, {_TS.format('awaiting_since')}, "
        "pending_request_id, created_position, last_position, event_count FROM batch"
    ),
    "auto_signatures": (
        "INSERT INTO auto_signatures SELECT auto_signature_id, schema_version, decision_id, "
        f"gate_type, target_ref, {_TS.format('created_at')}, actor_kind, model_id, position "
        "FROM batch"
    ),
    "human_interventions_answers": (
        "UPDATE human_interventions h SET received_event_id = b.received_event_id, "
        f"received_at = {_TS.format('b.received_at')}, user_id = b.user_id, "
        "decision = b.decision, rationale = b.rationale, "
        "received_position = b.received_position, "
        f"wait_seconds = (epoch_us({_TS.format('b.received_at')}) "
        "- epoch_us(h.requested_at)) / 1e6 "
        "FROM batch b WHERE h.request_event_id = b.request_event_id"
    ),
    "human_interventions": (
        "INSERT INTO human_interventions SELECT request_event_id, decision_id, "
        f"gate_type, target_ref, automation_level, {_TS.format('requested_at')}, "
        f"request_reason, received_event_id, {_TS.format('received_at')}, user_id, decision, "
        f"rationale, (epoch_us({_TS.format('received_at')}) "
        f"- epoch_us({_TS.format('requested_at')})) / 1e6, "
        "requested_position, received_position FROM batch"
    ),
    "locked_halts": (
        "INSERT INTO locked_halts SELECT decision_id, gate_type, target_ref, decision, "
        f"confidence, threshold, model_id, {_TS.format('halted_at')}, rule, reason, position "
        "FROM batch"
    ),
}

_LOCK_WAIT_SECONDS: Final = 5.0
#: WAL size at which a writing connection checkpoints (and always on close).
CHECKPOINT_THRESHOLD: Final = "1GB"


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """
    Open the projection file, waiting briefly while another process holds it.

    A read-only open of a file that does not exist is an error (there is nothing
    to read); a writable open creates the file and its tables.
    """
    target = str(path)
    if read_only and target != ":memory:" and not Path(target).exists():
        raise ProjectionBusyError(
            f"no projection at {target}: run `govledger project` first", rule="projection"
        )
    deadline = time.monotonic() + _LOCK_WAIT_SECONDS
    while True:
        try:
            con = duckdb.connect(target, read_only=read_only)
            break
        except duckdb.IOException as exc:
            # Another process has the file (DuckDB: one writer or many readers).
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise ProjectionBusyError(
                    f"cannot open the projection {target}: {exc}", rule="projection"
                ) from None
            time.sleep(0.05)
        except duckdb.Error as exc:
            raise ProjectionBusyError(
                f"cannot open the projection {target}: {exc}", rule="projection"
            ) from None
    # Deterministic text for TIMESTAMPTZ, whatever the machine's zone.
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        # Fewer checkpoints: each one rewrites the row groups that later batches touched
        # (decision rows are replaced, answers update requests), so checkpointing every
        # 16 MB of WAL (the default) made commits the largest cost of a long catch-up.
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
    if not read_only:
        create_tables(con)
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """
    BEGIN ... COMMIT, or ROLLBACK on any exception (including KeyboardInterrupt).
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """
    Create every table that does not exist yet.
    """
    with transaction(con):
        for ddl in (*TABLES.values(), *_BOOKKEEPING.values()):
            con.execute(ddl)


def drop_tables(con: duckdb.DuckDBPyConnection) -> None:
    """
    Drop every projection table and the tracking position (rebuild starts here).
    """
    with transaction(con):
        for name in (*TABLES, *_BOOKKEEPING):
            con.execute(f"DROP TABLE IF EXISTS {name}")


def position(con: duckdb.DuckDBPyConnection) -> int:
    """
    The last store position whose rows are committed (0: none).
    """
    row = con.execute(
        "SELECT coalesce(max(notification_id), 0) FROM tracking WHERE source = ?", [SOURCE]
    ).fetchone()
    return int(row[0]) if row else 0


def record_position(con: duckdb.DuckDBPyConnection, notification_id: int) -> None:
    """
    Record that rows up to ``notification_id`` are written (inside the batch's transaction).
    """
    con.execute("INSERT INTO tracking VALUES (?, ?)", [SOURCE, notification_id])


def cut(con: duckdb.DuckDBPyConnection) -> tuple[Any, int, int] | None:
    """
    (as_of, position, events) when this file is an as-of replay, else None.
    """
    try:
        row = con.execute("SELECT as_of, position, events FROM replay_cut").fetchone()
    except duckdb.CatalogException:
        return None
    return (row[0], int(row[1]), int(row[2])) if row else None


def record_cut(con: duckdb.DuckDBPyConnection, as_of: str, at: int, events: int) -> None:
    """
    Mark the file as the projection of the events recorded up to ``as_of``.
    """
    with transaction(con):
        con.execute("DELETE FROM replay_cut")
        con.execute(f"INSERT INTO replay_cut VALUES ({_TS.format('?')}, ?, ?)", [as_of, at, events])


def write_tables(con: duckdb.DuckDBPyConnection, tables: Mapping[str, pa.Table]) -> None:
    """
    One Arrow insert (or upsert) per table; the caller holds the transaction.
    """
    for name, table in tables.items():
        if table.num_rows == 0:
            continue
        # DuckDB finds ``batch`` among this frame's locals (a replacement scan), which
        # costs a fraction of register()/unregister() per statement.
        batch = table  # noqa: F841 - read by name from the SQL
        con.execute(_WRITES[name])


_DECISION_STATE_SQL: Final = (
    "SELECT d.* REPLACE ("
    + ", ".join(
        f"CAST({c} AS VARCHAR) AS {c}"
        for c in ("created_at", "signed_at", "applied_at", "human_decided_at", "awaiting_since")
    )
    + ") FROM decisions d SEMI JOIN wanted w ON d.decision_id = w.decision_id"
)


def load_decisions(
    con: duckdb.DuckDBPyConnection, decision_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """
    Stored rows of ``decision_ids`` as dicts (timestamps as text), for folding later events.
    """
    if not decision_ids:
        return {}
    wanted = pa.table({"decision_id": pa.array(decision_ids, pa.string())})  # noqa: F841
    cursor = con.execute(_DECISION_STATE_SQL)
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def table_checksums(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """
    (row count, order-independent hash sum) of every projection table.
    """
    out: dict[str, tuple[int, int]] = {}
    for name in TABLES:
        row = con.execute(
            f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {name} t"
        ).fetchone()
        assert row is not None  # noqa: S101 - an aggregate always returns a row
        out[name] = (int(row[0]), int(row[1]))
    return out
