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

from projections._errors import ProjectionBusyError, ProjectionError, ReadOnlyQueryError
from projections._tables import BATCH_OPERATIONS, BOOKKEEPING, TABLES, timestamp

__all__ = [
    "CHECKPOINT_THRESHOLD",
    "REFUSALS_SOURCE",
    "SOURCE",
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
#: The tracking rows of the second log the store keeps: its refusal journal.
REFUSALS_SOURCE: Final = "govledger/refusals"


#: How each table's (or batch operation's) rows are written from an Arrow batch.
_WRITES: Final[Mapping[str, str]] = {
    **{name: table.insert() for name, table in TABLES.items()},
    **{name: statement for name, (_, statement) in BATCH_OPERATIONS.items()},
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
        for ddl in (*(t.ddl() for t in TABLES.values()), *BOOKKEEPING.values()):
            con.execute(ddl)


def drop_tables(con: duckdb.DuckDBPyConnection) -> None:
    """
    Drop every projection table and the tracking position (rebuild starts here).
    """
    with transaction(con):
        for name in (*TABLES, *BOOKKEEPING):
            con.execute(f"DROP TABLE IF EXISTS {name}")


def position(con: duckdb.DuckDBPyConnection, source: str = SOURCE) -> int:
    """
    The last store position whose rows are committed (0: none).
    """
    row = con.execute(
        "SELECT coalesce(max(notification_id), 0) FROM tracking WHERE source = ?", [source]
    ).fetchone()
    return int(row[0]) if row else 0


def record_position(
    con: duckdb.DuckDBPyConnection, notification_id: int, source: str = SOURCE
) -> None:
    """
    Record that rows up to ``notification_id`` are written (inside the batch's transaction).
    """
    con.execute("INSERT INTO tracking VALUES (?, ?)", [source, notification_id])


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
        con.execute(f"INSERT INTO replay_cut VALUES ({timestamp('?')}, ?, ?)", [as_of, at, events])


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
