"""The embedded event store: eventsourcing's SQLite recorder plus an ``event_id`` index.

The library's table keys events by (aggregate, version); the FR contract also
needs ``event_id`` to be unique across the whole store, duplicate checks to
find an event by it, and as-of replay to know when the ledger recorded it (the
commit's wall-clock time in UTC). Two small tables, written in the same
transaction as the events, serve that:

* ``govledger_event_index(event_id, position)``: the event_id as its 16 UUID bytes
  (the schema admits only canonical UUIDs, so this is lossless up to case), and
  the event's store position. Its PRIMARY KEY makes a second copy of an event_id
  impossible, even between processes.
* ``govledger_commits(position, recorded_at, policy)``: one row per transaction, its
  last position, when it committed, and the digest of the gate policy the decisions it
  created were judged under (``govledger_policies`` keeps each policy once).
* ``govledger_refusals``: the refusal journal, written in the same transaction as the
  batch the refused events arrived with.
* ``govledger_meta(key, value)``: the store's id (a UUID made with the store) and
  its layout, which a projection records to know which store it was built from.

A file is checked before the library opens it (``prepare``): a SQLite database
with other tables and no govledger tables, a newer layout, or a file that is not
SQLite at all is refused and left byte-for-byte as it was (never adopted, never
switched to WAL); a missing file is created only when asked to. Creating is safe
for many processes at once: the first one to take the write lock creates, the
others find the store made, and a busy database is waited for, never reported.

Compact on purpose: random event_ids make every insert touch a random page of
the index, so its row size decides how many pages a 1,000-event transaction
writes (measured at 150k events: 92 us/event with the first layout, which keyed
text ids to (aggregate, version) and stamped every row, against 55 us/event).
"""

from __future__ import annotations

import random
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote
from uuid import UUID

from eventsourcing.persistence import InterfaceError, StoredEvent
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType

from ledger._time import utc_text
from ledger.errors import StoreError, TamperDetectedError
from ledger.stores import (
    META_TABLE,
    REFUSAL_COLUMNS,
    ROTATING_INSERT,
    PolicyRecord,
    RefusalRecord,
    SqlDialect,
    StoreMeta,
    StoreTally,
)

__all__ = ["GovSQLiteRecorder", "SQLiteStoreFactory", "prepare"]

_META_DDL: Final = (
    f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
)
#: Tables whose presence marks a govledger store (older stores have no meta table yet).
_OURS: Final = frozenset({META_TABLE, "govledger_event_index"})
#: How long a creator waits for other processes holding the new file.
_CREATE_WAIT_SECONDS: Final = 30.0

_INSERT_REFUSAL = (
    f"INSERT INTO govledger_refusals ({', '.join(REFUSAL_COLUMNS)}) "
    f"VALUES ({','.join('?' * len(REFUSAL_COLUMNS))})"
)

_IN_CHUNK = 500
#: Prepared statements kept per connection. The library opens its connections with
#: ``cached_statements=True``, which is 1: every statement of a transaction was parsed and
#: planned again each time (BEGIN, the three inserts and SELECT MAX alternate). Measured:
#: ~70 us of CPU per small commit with 1, ~42 us with this cache.
_STATEMENT_CACHE = 128  # SQLite's default limit is 32766 host parameters; stay far below it


def _state(value: Any, where: int | tuple[UUID, int]) -> bytes:
    """
    A stored event's state as bytes. The ledger writes BLOBs, but SQLite keeps whatever
    type an UPDATE made by hand puts in the column: text is read as its UTF-8 bytes (the
    readers then judge its content, and ``verify`` its hash); anything else is no event.
    """
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    at = f"at position {where}" if isinstance(where, int) else f"{where[0]}@{where[1]}"
    msg = (
        f"the stored event {at} has a state of type {type(value).__name__}, which the "
        "ledger never writes; the store was changed behind the ledger's back (run govledger "
        "verify)"
    )
    position = where if isinstance(where, int) else None
    raise TamperDetectedError(msg, position=position, field="state", rule="decodable")


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _StatementCachingPool(SQLiteConnectionPool):
    """
    The library's SQLite pool, with connections that keep their prepared statements.

    ``_create_connection`` is the library's own (eventsourcing 9.5.6), but for
    ``cached_statements``.
    """

    def _create_connection(self) -> SQLiteConnection:
        try:
            c = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # auto-commit: transactions BEGIN explicitly
                cached_statements=_STATEMENT_CACHE,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as e:
            raise InterfaceError(e) from e
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            cursor = c.cursor()
            cursor.execute("PRAGMA journal_mode;")
            if cursor.fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL;")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        c.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=c, max_age=self.max_age)


class GovSQLiteRecorder(SQLiteApplicationRecorder):
    """
    Inserts a whole batch with ``executemany`` and keeps the event_id index.
    """

    dialect = SqlDialect(placeholder="?", bytes_type="BLOB")
    pushes = False  # SQLite has no notifications: readers poll
    meta = StoreMeta("", 0)  # read by ``open_meta`` when the ledger opens the store

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Any]:
        """
        A cursor in one transaction on the store's database, answering plain tuples (every
        read of this store goes through it; the checkpoint store reads 100,000 leaf hashes
        at a time).
        """
        with self.datastore.transaction(commit=commit) as c:
            # The transaction's own cursor (made for it, closed with it): the connection's
            # ``sqlite3.Row`` objects cost more than reading the rows (measured: 1.4-1.7 us
            # against 0.75 us per event when a projection pages through the log).
            c.sqlite_cursor.row_factory = None
            yield c

    def open_meta(self, *, create: bool, label: str) -> StoreMeta:
        """
        The store's identity, created with the store (an older store gets one now).
        """
        with self.datastore.transaction(commit=True) as c:
            rows = _meta_rows(c)
            if "store_id" not in rows:
                c.execute("SELECT name FROM sqlite_master WHERE type='table'")
                tables = {str(r[0]) for r in c.fetchall()}
                if not create and self.events_table_name not in tables:
                    msg = f"no event store at {label} (govledger ingest or demo creates one)"
                    raise StoreError(msg, field="store", rule="exists")
                c.execute(_META_DDL)
                c.executemany(
                    f"INSERT OR IGNORE INTO {META_TABLE} VALUES (?,?)", StoreMeta.new().rows()
                )
                rows = _meta_rows(c)
        self.meta = StoreMeta.from_rows(rows, label)
        return self.meta

    def commit_times(self, start: int, stop: int) -> list[tuple[int, str]]:
        """
        (last position, recorded_at) of each commit holding a position in ``start``..``stop``.
        """
        with self.transaction(commit=False) as c:
            c.execute(
                "SELECT position, recorded_at FROM govledger_commits WHERE position >= ? AND "
                "position <= (SELECT coalesce(min(position), ?) FROM govledger_commits "
                "WHERE position >= ?) ORDER BY position",
                [start, stop, stop],
            )
            return [(int(row[0]), str(row[1])) for row in c.fetchall()]

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            (
                "CREATE TABLE IF NOT EXISTS govledger_event_index ("
                "event_id BLOB PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID"
            ),
            (
                "CREATE TABLE IF NOT EXISTS govledger_commits ("
                "position INTEGER PRIMARY KEY, recorded_at TEXT NOT NULL, policy TEXT)"
            ),
            (
                "CREATE TABLE IF NOT EXISTS govledger_policies ("
                "digest TEXT PRIMARY KEY, version TEXT NOT NULL, canonical TEXT NOT NULL)"
            ),
            (
                "CREATE TABLE IF NOT EXISTS govledger_refusals ("
                "position INTEGER PRIMARY KEY, refused_at TEXT NOT NULL, "
                "entry_point TEXT NOT NULL, event_id TEXT, decision_id TEXT, type TEXT, "
                "code TEXT NOT NULL, rule TEXT, field TEXT, sha256 TEXT NOT NULL)"
            ),
            # API tokens: the SHA-256 of each token, never the token (ledger.serve._tokens).
            (
                "CREATE TABLE IF NOT EXISTS govledger_tokens ("
                "name TEXT PRIMARY KEY, role TEXT NOT NULL, token_hash BLOB NOT NULL UNIQUE, "
                "created_at TEXT NOT NULL, revoked_at TEXT)"
            ),
            _META_DDL,
        ]

    def create_table(self) -> None:
        super().create_table()
        # A store made before commits named their policy: the column is added, empty (such
        # decisions were judged under the built-in table, the only policy there was).
        with self.datastore.transaction(commit=True) as c:
            c.execute("PRAGMA table_info(govledger_commits)")
            if "policy" not in {row[1] for row in c.fetchall()}:
                c.execute("ALTER TABLE govledger_commits ADD COLUMN policy TEXT")

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        *,
        policy: PolicyRecord | None = None,
        refusals: Sequence[RefusalRecord] = (),
        **_: Any,
    ) -> Sequence[int] | None:
        if refusals:
            c.executemany(_INSERT_REFUSAL, refusals)
        if not stored_events:
            return []
        if policy is not None:
            c.execute("INSERT OR IGNORE INTO govledger_policies VALUES (?,?,?)", policy)
        c.executemany(
            self.insert_events_statement,
            [
                (
                    s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                    s.originator_version,
                    s.topic,
                    s.state,
                )
                for s in stored_events
            ],
        )
        # Writers are serialised by SQLite's write lock and rowids are max+1, so one
        # batch gets consecutive notification ids ending at the current maximum.
        c.execute(self.select_max_notification_id_statement)
        last = int(c.fetchone()[0])
        first = last - len(stored_events) + 1
        c.executemany(
            "INSERT INTO govledger_event_index VALUES (?,?)",
            [
                (_uuid_bytes(getattr(s, "event_id", "")), position)
                for position, s in enumerate(stored_events, start=first)
            ],
        )
        c.execute(
            "INSERT INTO govledger_commits VALUES (?,?,?)",
            (last, utc_text(), None if policy is None else policy.digest),
        )
        return list(range(first, last + 1))

    def write_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        policy: PolicyRecord | None = None,
        refusals: Sequence[RefusalRecord] = (),
    ) -> Callable[[], Sequence[int]]:
        """
        Write the batch now, in an open transaction on the writer connection (a unique
        violation is raised here); the returned call commits it (the fsync of
        ``synchronous=FULL``, with the GIL released) and returns its positions. Until then
        the batch is invisible to every other connection; a failed commit rolls it back.
        """
        transaction = self.datastore.transaction(commit=True)
        cursor = transaction.__enter__()
        try:
            positions = list(
                self._insert_events(cursor, stored_events, policy=policy, refusals=refusals) or ()
            )
        except BaseException:
            # Rolls back, returns the connection and raises the library's own error.
            if not transaction.__exit__(*sys.exc_info()):
                raise
            raise  # pragma: no cover - the transaction never swallows an error

        def commit() -> Sequence[int]:
            transaction.__exit__(None, None, None)
            return positions

        return commit

    def policy_pins(self, originator_ids: Sequence[UUID]) -> dict[UUID, str]:
        """
        The digest of the gate policy each decision was created under (where one is kept).
        """
        found: dict[UUID, str] = {}
        with self.transaction(commit=False) as c:
            for chunk in _chunks(list(originator_ids)):
                c.execute(
                    "SELECT s.originator_id, (SELECT c.policy FROM govledger_commits c "
                    "WHERE c.position >= s.rowid ORDER BY c.position LIMIT 1) "
                    f"FROM {self.events_table_name} s "
                    f"WHERE s.originator_version = 1 "
                    f"AND s.originator_id IN ({','.join('?' * len(chunk))})",
                    [o.hex for o in chunk],
                )
                found.update((UUID(row[0]), row[1]) for row in c.fetchall() if row[1])
        return found

    def commit_policies(self, start: int, stop: int) -> list[tuple[int, str | None]]:
        """
        (last position, policy digest) of each commit holding a position in [start, stop].
        """
        with self.transaction(commit=False) as c:
            c.execute(
                "SELECT position, policy FROM govledger_commits WHERE position >= ? AND "
                "position <= coalesce((SELECT min(position) FROM govledger_commits "
                "WHERE position >= ?), ?) ORDER BY position",
                [start, stop, stop],
            )
            return [(int(row[0]), row[1]) for row in c.fetchall()]

    def policy_records(self, digests: Sequence[str]) -> dict[str, PolicyRecord]:
        """
        The stored policies with these digests.
        """
        if not digests:
            return {}
        with self.transaction(commit=False) as c:
            c.execute(
                "SELECT digest, version, canonical FROM govledger_policies "
                f"WHERE digest IN ({','.join('?' * len(digests))})",
                list(digests),
            )
            return {row[0]: PolicyRecord(row[0], row[1], row[2]) for row in c.fetchall()}

    def select_refusals(self, start: int, limit: int) -> list[tuple[int, RefusalRecord]]:
        """
        (position, record) of the refusal journal from ``start`` on, at most ``limit``.
        """
        with self.transaction(commit=False) as c:
            c.execute(
                f"SELECT position, {', '.join(REFUSAL_COLUMNS)} FROM govledger_refusals "
                "WHERE position >= ? ORDER BY position LIMIT ?",
                [start, limit],
            )
            return [(int(row[0]), RefusalRecord(*row[1:])) for row in c.fetchall()]

    def position_at(self, moment: str) -> int:
        """
        The last store position recorded at or before ``moment`` (UTC ISO 8601), 0 if none.
        """
        with self.transaction(commit=False) as c:
            c.execute(
                "SELECT MAX(position) FROM govledger_commits WHERE recorded_at <= ?", [moment]
            )
            row = c.fetchone()
        return int(row[0] or 0)

    def select_states(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, bytes]]:
        """
        (position, state) from ``start`` on, at most ``limit``, up to ``stop`` (inclusive).

        The notification log without the library's per-row ``Notification`` and UUID
        objects, which cost more than the read itself when a projection replays millions.
        """
        statement = f"SELECT rowid, state FROM {self.events_table_name} WHERE rowid >= ?"
        params: list[int] = [start]
        if stop is not None:
            statement += " AND rowid <= ?"
            params.append(stop)
        statement += " ORDER BY rowid LIMIT ?"
        params.append(limit)
        with self.transaction(commit=False) as c:
            c.execute(statement, params)
            found: list[tuple[int, bytes]] = c.fetchall()
        if all(type(state) is bytes for _, state in found):
            return found
        return [(position, _state(state, position)) for position, state in found]

    def find_event_ids(self, event_ids: Sequence[str]) -> dict[str, bytes]:
        """
        Stored state of each already-stored (lower-case) ``event_id``.
        """
        wanted = _by_key(event_ids)
        found: dict[str, bytes] = {}
        with self.transaction(commit=False) as c:
            for chunk in _chunks(list(wanted)):
                c.execute(
                    "SELECT i.event_id, s.state, i.position FROM govledger_event_index i "
                    f"JOIN {self.events_table_name} s ON s.rowid = i.position "
                    f"WHERE i.event_id IN ({','.join('?' * len(chunk))})",
                    list(chunk),
                )
                found.update(
                    (wanted[bytes(row[0])], _state(row[1], int(row[2]))) for row in c.fetchall()
                )
        return found

    def event_positions(self, event_ids: Sequence[str]) -> dict[str, int]:
        """
        The store position of each already-stored (lower-case) ``event_id``.
        """
        wanted = _by_key(event_ids)
        found: dict[str, int] = {}
        with self.transaction(commit=False) as c:
            for chunk in _chunks(list(wanted)):
                c.execute(
                    "SELECT event_id, position FROM govledger_event_index "
                    f"WHERE event_id IN ({','.join('?' * len(chunk))})",
                    list(chunk),
                )
                found.update((wanted[bytes(row[0])], int(row[1])) for row in c.fetchall())
        return found

    def tally(self) -> StoreTally:
        """
        Events, decisions (first events of their aggregates) and refusal journal rows.
        """
        with self.transaction(commit=False) as c:
            c.execute(
                "SELECT count(*), coalesce(sum(originator_version = 1), 0) "
                f"FROM {self.events_table_name}"
            )
            events, decisions = c.fetchone()
            c.execute("SELECT count(*), coalesce(max(position), 0) FROM govledger_refusals")
            refusals, last = c.fetchone()
        return StoreTally(int(events), int(decisions), int(refusals), int(last))

    def select_events_many(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """
        The stored events of many aggregates in one round trip, each in version order.
        """
        out: dict[UUID, list[StoredEvent]] = {}
        with self.transaction(commit=False) as c:
            for chunk in _chunks(list(originator_ids)):
                c.execute(
                    f"SELECT originator_id, originator_version, topic, state "
                    f"FROM {self.events_table_name} "
                    f"WHERE originator_id IN ({','.join('?' * len(chunk))}) "
                    "ORDER BY originator_id, originator_version",
                    [o.hex for o in chunk],
                )
                for row in c.fetchall():
                    oid = UUID(row[0])
                    state = _state(row[3], (oid, row[1]))
                    out.setdefault(oid, []).append(StoredEvent(oid, row[1], row[2], state))
        return out

    # --- API tokens ---------------------------------------------------------------------

    def add_token(self, name: str, role: str, token_hash: bytes, created_at: str) -> bool:
        """
        Keep a token's hash under ``name`` (a revoked name is reused); False if it is active.
        """
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                ROTATING_INSERT.format(tokens="govledger_tokens", p="?"),
                (name, role, token_hash, created_at),
            )
            c.execute("SELECT changes()")  # the library's cursor does not expose rowcount
            return bool(c.fetchone()[0])

    def find_token(self, token_hash: bytes) -> tuple[str, str] | None:
        """
        (name, role) of the active token with this hash, or None.
        """
        with self.transaction(commit=False) as c:
            c.execute(
                "SELECT name, role FROM govledger_tokens "
                "WHERE token_hash = ? AND revoked_at IS NULL",
                (token_hash,),
            )
            row = c.fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def list_tokens(self) -> list[tuple[str, str, str, str | None]]:
        """
        (name, role, created_at, revoked_at) of every token, by name.
        """
        with self.transaction(commit=False) as c:
            c.execute(
                "SELECT name, role, created_at, revoked_at FROM govledger_tokens ORDER BY name"
            )
            return [(row[0], row[1], row[2], row[3]) for row in c.fetchall()]

    def revoke_token(self, name: str, revoked_at: str) -> bool:
        """
        Revoke ``name``'s active token; False if it has none.
        """
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                "UPDATE govledger_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (revoked_at, name),
            )
            c.execute("SELECT changes()")  # the library's cursor does not expose rowcount
            return bool(c.fetchone()[0])


class SQLiteStoreFactory(SQLiteFactory):
    """
    The library's SQLite factory, building the ledger's recorder on connections that keep
    their prepared statements.
    """

    application_recorder_class = GovSQLiteRecorder

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        library_pool = self.datastore.pool
        # The library's datastore always builds its own pool; no connection is open yet.
        self.datastore.pool = _StatementCachingPool(
            db_name=library_pool.db_name, lock_timeout=library_pool.lock_timeout
        )
        library_pool.close()


def _meta_rows(c: Any) -> dict[str, str]:
    c.execute(f"SELECT count(*) FROM sqlite_master WHERE type='table' AND name='{META_TABLE}'")
    if not c.fetchone()[0]:
        return {}
    c.execute(f"SELECT key, value FROM {META_TABLE}")
    return {str(row[0]): str(row[1]) for row in c.fetchall()}


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def prepare(path: str, *, create: bool) -> None:
    """
    Make sure ``path`` is a govledger store before anything else opens it.

    A missing file is created (with its identity, switched to WAL) only when
    ``create``; a file that is not SQLite, a SQLite database of something else, or a
    store of a newer layout is refused with ``StoreError`` and left untouched. Other
    processes creating the same store at the same moment are waited for.
    """
    deadline = time.monotonic() + _CREATE_WAIT_SECONDS
    while True:
        try:
            _prepare_once(Path(path), create=create)
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() >= deadline:
                msg = f"cannot open the event store {path}: {exc}"
                raise StoreError(msg, field="store", rule="store") from None
            time.sleep(random.uniform(0.005, 0.05))  # noqa: S311 - jitter, not secrecy
        except sqlite3.DatabaseError as exc:
            msg = f"{path} is not a govledger store: {exc}; it was left unchanged"
            raise StoreError(msg, field="store", rule="not_a_store") from None
        else:
            return


def _kind(c: sqlite3.Connection, path: Path) -> tuple[str, str]:
    """
    ("empty" | "ours" | "foreign", journal mode) of an open database.
    """
    tables = {str(r[0]) for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    journal = str(c.execute("PRAGMA journal_mode").fetchone()[0]).lower()
    if not tables:
        return "empty", journal
    if not tables & _OURS:
        msg = (
            f"{path} is a SQLite database of something else (tables: "
            f"{', '.join(sorted(tables)[:5])}), not a govledger store; it was left unchanged"
        )
        raise StoreError(msg, field="store", rule="not_a_store")
    if META_TABLE in tables:
        rows = dict(c.execute(f"SELECT key, value FROM {META_TABLE}").fetchall())
        if "layout" in rows:
            StoreMeta.from_rows({str(k): str(v) for k, v in rows.items()}, str(path))
    return "ours", journal


def _prepare_once(path: Path, *, create: bool) -> None:
    if path.exists():
        # Look without changing anything: read-only, so a foreign file stays as it is.
        look = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=30)
        try:
            kind, journal = _kind(look, path)
        finally:
            look.close()
        if kind == "ours" and journal == "wal":
            return
        if kind == "empty" and not create:
            msg = f"no event store at {path}: the file is an empty database"
            raise StoreError(msg, field="store", rule="exists")
    elif not create:
        msg = f"no event store at {path} (govledger ingest or demo creates one)"
        raise StoreError(msg, field="store", rule="exists")
    elif not path.parent.is_dir():
        msg = f"cannot create the event store {path}: no directory {path.parent}"
        raise StoreError(msg, field="store", rule="exists")
    con = sqlite3.connect(str(path), isolation_level=None, timeout=_CREATE_WAIT_SECONDS)
    try:
        # Under the write lock, look again: another process may have created it meanwhile.
        con.execute("BEGIN IMMEDIATE")
        try:
            _kind(con, path)
            con.execute(_META_DDL)
            con.executemany(
                f"INSERT OR IGNORE INTO {META_TABLE} VALUES (?,?)", StoreMeta.new().rows()
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        if str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def _by_key(event_ids: Sequence[str]) -> dict[bytes, str]:
    """
    The event_ids keyed as the index keys them (a non-UUID was never stored: left out).
    """
    wanted: dict[bytes, str] = {}
    for event_id in event_ids:
        try:
            wanted[_uuid_bytes(event_id)] = event_id
        except ValueError:
            continue
    return wanted


def _uuid_bytes(event_id: str) -> bytes:
    # The schema's pattern admits only the canonical 8-4-4-4-12 hex form.
    return bytes.fromhex(event_id.replace("-", ""))
