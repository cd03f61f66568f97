"""The projection file: connection, tables, transactions and the tracking position.

DuckDB allows one writing process or many reading ones, never both, so callers
open the file for as short a time as they can (``connect`` retries briefly
while another process holds it). Every write goes through ``transaction``, our
own BEGIN/COMMIT/ROLLBACK: rows and the position they reach commit together or
not at all.

A projection is bound to the store it was built from: ``projection_meta`` records
the store's id and layout (and the projection's own layout, and how far the
signed checkpoints were checked). ``connect`` looks at a file before it writes
anything: a file that is not a govledger projection is never written to, and one
built from another store or by another layout is refused until it is rebuilt.
Every read-only connection is sandboxed before anything runs on it: no file
but the projection, no network, no extension, and the settings locked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]

from ledger.stores import StoreMeta
from projections._errors import ProjectionBusyError, ProjectionError, ReadOnlyQueryError
from projections._tables import BATCH_OPERATIONS, BOOKKEEPING, META, TABLES, timestamp

__all__ = [
    "CHECKPOINT_THRESHOLD",
    "LAYOUT",
    "REFUSALS_SOURCE",
    "SOURCE",
    "ProjectionBusyError",
    "ProjectionError",
    "ReadOnlyQueryError",
    "connect",
    "create_tables",
    "cut",
    "drop_tables",
    "inspect",
    "load_decisions",
    "position",
    "read_meta",
    "record_cut",
    "record_position",
    "sandbox",
    "table_checksums",
    "transaction",
    "write_meta",
    "write_tables",
]

#: The tracking row's source: the notification log of the govledger application.
SOURCE: Final = "govledger"
#: The tracking rows of the second log the store keeps: its refusal journal.
REFUSALS_SOURCE: Final = "govledger/refusals"
#: The projection's own layout: 2 added the store binding and events.sealed/recorded_at.
LAYOUT: Final = 2


#: How each table's (or batch operation's) rows are written from an Arrow batch.
_WRITES: Final[Mapping[str, str]] = {
    **{name: table.insert() for name, table in TABLES.items()},
    **{name: statement for name, (_, statement) in BATCH_OPERATIONS.items()},
}

_LOCK_WAIT_SECONDS: Final = 5.0
#: WAL size at which a writing connection checkpoints (and always on close).
CHECKPOINT_THRESHOLD: Final = "1GB"
#: The settings that shut a read-only connection in (DuckDB 2.x names), in order: the
#: lock goes last, so no statement can turn the others back on.
_SANDBOX: Final = (
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET lock_configuration = true",
)


def _open(target: str, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + _LOCK_WAIT_SECONDS
    while True:
        try:
            return duckdb.connect(target, read_only=read_only)
        except duckdb.IOException as exc:
            # Another process has the file (DuckDB: one writer or many readers).
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise ProjectionBusyError(
                    f"cannot open the projection {target}: {exc}", rule="projection"
                ) from None
            time.sleep(0.05)
        except duckdb.Error as exc:
            raise ProjectionBusyError(
                f"cannot open the projection {target}: {exc}; it was left unchanged",
                rule="projection",
            ) from None


def inspect(path: str | Path) -> tuple[str, dict[str, str]]:
    """
    What ``path`` is, looked at read-only: ("missing" | "empty" | "ours" | "older" |
    "foreign", its ``projection_meta`` rows).
    """
    target = str(path)
    if target == ":memory:" or not Path(target).exists():
        return "missing", {}
    if Path(target).stat().st_size == 0:
        return "empty", {}
    con = _open(target, read_only=True)
    try:
        tables = {
            str(r[0]) for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        meta: dict[str, str] = {}
        if META in tables:
            meta = {
                str(k): str(v) for k, v in con.execute(f"SELECT key, value FROM {META}").fetchall()
            }
    finally:
        con.close()
    if not tables:
        return "empty", {}
    if "layout" in meta:
        return "ours", meta
    if "tracking" in tables and "events" in tables:
        return "older", meta
    return "foreign", {}


def _describe(meta: Mapping[str, str]) -> str:
    return (
        f"store {meta.get('store_id')} (store layout {meta.get('store_layout')}, "
        f"projection layout {meta.get('layout')})"
    )


def _check(
    path: str, kind: str, meta: Mapping[str, str], store: StoreMeta | None, *, rebuild: bool
) -> None:
    """
    Refuse a file that is not ours, or ours for another store or layout (unless rebuilding).
    """
    if kind == "foreign":
        msg = (
            f"{path} is not a govledger projection (it has other tables); it was left "
            "unchanged: give another --projection"
        )
        raise ProjectionError(msg, field="projection", rule="foreign")
    if rebuild:
        return
    if kind == "older" or (kind == "ours" and meta.get("layout") != str(LAYOUT)):
        found = "an older layout" if kind == "older" else f"projection layout {meta.get('layout')}"
        msg = (
            f"the projection {path} was written by {found}, not layout {LAYOUT}: rebuild it "
            "with `govledger project --rebuild`, or give another --projection"
        )
        raise ProjectionError(msg, field="projection", rule="layout")
    if (
        kind == "ours"
        and store is not None
        and (
            meta.get("store_id") != store.store_id or meta.get("store_layout") != str(store.layout)
        )
    ):
        msg = (
            f"the projection {path} was built from {_describe(meta)}, not from this store "
            f"{store.store_id} (store layout {store.layout}): rebuild it from this store with "
            "`govledger project --rebuild`, or give another --projection"
        )
        raise ProjectionError(msg, field="projection", rule="store")


def sandbox(con: duckdb.DuckDBPyConnection, allow: Sequence[str | Path] = ()) -> None:
    """
    Shut ``con`` in: no file but the projection (and the ``allow``ed directories), no
    network, no extension installed or loaded, and the configuration locked.
    """
    if allow:
        listed = ", ".join("'" + str(Path(d)).rstrip("/").replace("'", "''") + "/'" for d in allow)
        con.execute(f"SET allowed_directories = [{listed}]")
    for statement in _SANDBOX:
        con.execute(statement)


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    store: StoreMeta | None = None,
    rebuild: bool = False,
    allow: Sequence[str | Path] = (),
) -> duckdb.DuckDBPyConnection:
    """
    Open the projection file, waiting briefly while another process holds it.

    A read-only open of a file that does not exist is an error (there is nothing
    to read), and the connection is sandboxed (``allow``: directories it may
    write, for an export). A writable open creates the file and its tables, bound
    to ``store``. A file that is not a govledger projection is refused unchanged;
    one built from another store (when ``store`` is given) or by another layout is
    refused unless ``rebuild`` (the caller then drops and recreates its tables).
    """
    target = str(path)
    if read_only and target != ":memory:" and not Path(target).exists():
        raise ProjectionBusyError(
            f"no projection at {target}: run `govledger project` first", rule="projection"
        )
    kind, meta = inspect(target)
    _check(target, kind, meta, store, rebuild=rebuild)
    if read_only and kind == "empty":
        msg = f"{target} holds no projection yet: run `govledger project` first"
        raise ProjectionBusyError(msg, rule="projection")
    con = _open(target, read_only=read_only)
    try:
        # Deterministic text for TIMESTAMPTZ, whatever the machine's zone.
        con.execute("SET TimeZone = 'UTC'")
        if read_only:
            sandbox(con, allow)
            return con
        # Fewer checkpoints: each one rewrites the row groups that later batches touched
        # (decision rows are replaced, answers update requests), so checkpointing every
        # 16 MB of WAL (the default) made commits the largest cost of a long catch-up.
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        if not rebuild or kind in ("missing", "empty"):
            create_tables(con, store)
    except BaseException:
        con.close()
        raise
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


def create_tables(con: duckdb.DuckDBPyConnection, store: StoreMeta | None = None) -> None:
    """
    Create every table that does not exist yet, and bind a new file to ``store``.
    """
    with transaction(con):
        for ddl in (*(t.ddl() for t in TABLES.values()), *BOOKKEEPING.values()):
            con.execute(ddl)
        rows = {"layout": str(LAYOUT)}
        if store is not None:
            # A file made without a store (a library caller) is bound by its first use with one.
            rows.update(store_id=store.store_id, store_layout=str(store.layout))
        con.executemany(
            f"INSERT OR IGNORE INTO {META} VALUES (?, ?)", [list(kv) for kv in rows.items()]
        )


def drop_tables(con: duckdb.DuckDBPyConnection) -> None:
    """
    Drop every projection table, the tracking position and the binding (rebuild starts here).
    """
    with transaction(con):
        for name in (*TABLES, *BOOKKEEPING):
            con.execute(f"DROP TABLE IF EXISTS {name}")


def read_meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """
    The ``projection_meta`` rows (the binding, and how far the checkpoints were checked).
    """
    return {str(k): str(v) for k, v in con.execute(f"SELECT key, value FROM {META}").fetchall()}


def write_meta(con: duckdb.DuckDBPyConnection, values: Mapping[str, str]) -> None:
    """
    Set ``projection_meta`` rows (inside the caller's transaction).
    """
    for key, value in values.items():
        con.execute(f"INSERT OR REPLACE INTO {META} VALUES (?, ?)", [key, value])


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
