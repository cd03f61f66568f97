"""The store port: what the ledger needs of an event store, and which store a URL means.

Two stores implement ``EventStore``: the embedded SQLite file (``stores.sqlite``,
the default) and PostgreSQL (``stores.postgres``, scale-out). Both are
``eventsourcing`` application recorders with the ledger's additions (the
event_id index, batch reads, commit times, the tables of the tamper evidence),
built by the library's own infrastructure factory from the environment that
``environment(config)`` returns: the one place that chooses a store by URL.

A new store implements ``EventStore`` in a module of this package and is
chosen here; nothing else in the ledger names a store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import StoredEvent

if TYPE_CHECKING:
    from ledger.config import LedgerConfig

__all__ = [
    "LAYOUT",
    "META_TABLE",
    "ROTATING_INSERT",
    "EventStore",
    "PolicyRecord",
    "RefusalRecord",
    "SqlDialect",
    "StoreMeta",
    "StoreTally",
    "environment",
]


class PolicyRecord(NamedTuple):
    """
    A gate policy as the store keeps it: once, by digest.
    """

    digest: str
    version: str
    canonical: str


class RefusalRecord(NamedTuple):
    """
    One refused event in the refusal journal: who sent what, why it was refused; never its
    content (only the SHA-256 of the submitted bytes).
    """

    refused_at: str
    entry_point: str
    event_id: str | None
    decision_id: str | None
    type: str | None
    code: str
    rule: str | None
    field: str | None
    sha256: str


class StoreTally(NamedTuple):
    """
    What a store holds, counted (``govledger status``).
    """

    #: Stored events (on PostgreSQL positions can have gaps: this is the count).
    events: int
    #: Decisions: aggregates created (each decision's 001 is its first event).
    decisions: int
    #: Rows of the refusal journal, and the position of its last one (0: none).
    refusals: int
    last_refusal: int


#: The refusal journal's columns, in RefusalRecord's order (after its position).
REFUSAL_COLUMNS: Final = RefusalRecord._fields

#: ``add_token``'s statement: insert a token's row, or give a revoked name a new token; no row
#: is touched while the name's token is active. ``{tokens}``: the table, ``{p}``: placeholder.
ROTATING_INSERT = (
    "INSERT INTO {tokens} (name, role, token_hash, created_at, revoked_at) "
    "VALUES ({p}, {p}, {p}, {p}, NULL) "
    "ON CONFLICT (name) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash, "
    "created_at = excluded.created_at, revoked_at = NULL "
    "WHERE {tokens}.revoked_at IS NOT NULL"
)

#: The store layout this code writes and reads; a store of a newer layout is refused.
LAYOUT: Final = 1
#: ``govledger_meta(key, value)``: the store's identity, its layout, and counters the
#: tamper evidence keeps (``checkpoints_issued:<log>``). Created with the store.
META_TABLE: Final = "govledger_meta"


@dataclass(frozen=True, slots=True)
class StoreMeta:
    """
    What a store says about itself: an id created with it (a UUID), and its layout.
    """

    store_id: str
    layout: int

    @classmethod
    def new(cls) -> StoreMeta:
        """
        The identity of a store being created now.
        """
        return cls(str(uuid.uuid4()), LAYOUT)

    def rows(self) -> list[tuple[str, str]]:
        """
        The ``govledger_meta`` rows that record it.
        """
        return [("store_id", self.store_id), ("layout", str(self.layout))]

    @classmethod
    def from_rows(cls, rows: dict[str, str], label: str) -> StoreMeta:
        """
        Read back from ``govledger_meta`` rows; a newer layout is refused.
        """
        from ledger.errors import StoreError  # noqa: PLC0415 - errors import nothing back

        try:
            meta = cls(rows["store_id"], int(rows["layout"]))
        except (KeyError, ValueError):
            msg = f"the event store {label} has a damaged govledger_meta table"
            raise StoreError(msg, field="store", rule="layout") from None
        if meta.layout > LAYOUT:
            msg = (
                f"the event store {label} has layout {meta.layout}, newer than this govledger "
                f"understands ({LAYOUT}); upgrade govledger to read it"
            )
            raise StoreError(msg, field="store", rule="layout")
        return meta


@dataclass(frozen=True, slots=True)
class SqlDialect:
    """
    How the ledger's own small tables (checkpoints, leaves) are spelled in a store's SQL.
    """

    #: Query parameter placeholder.
    placeholder: str
    #: Column type of raw bytes.
    bytes_type: str
    #: Schema prefix for table names ("" when the store has none).
    prefix: str = ""
    #: ``SELECT`` that is true when the table named by the one parameter exists.
    exists_sql: str = "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type='table' AND name=?"
    #: Whether ``exists_sql`` takes the qualified name (else the bare one).
    exists_qualified: bool = False

    def exists(self, name: str) -> tuple[str, list[str]]:
        """
        The statement and parameters that tell whether table ``name`` exists.
        """
        return self.exists_sql, [self.table(name) if self.exists_qualified else name]

    def table(self, name: str) -> str:
        """
        ``name``, qualified for this store.
        """
        return f"{self.prefix}{name}"

    def params(self, count: int) -> str:
        """
        ``count`` placeholders, comma-separated.
        """
        return ",".join([self.placeholder] * count)


@runtime_checkable
class EventStore(Protocol):
    """
    Everything the ledger asks of a store.

    Writes: ``insert_events`` stores a batch in one transaction, with its event_ids
    in a unique index (a second copy of an event_id is an ``IntegrityError``, like a
    second event at the same aggregate version), and returns the positions in order.
    Reads are by event_id, by aggregate (many at once), and by position.
    """

    #: The checkpoint tables' SQL dialect (``ledger.trust``).
    dialect: SqlDialect
    #: Whether ``subscribe`` pushes new positions (LISTEN/NOTIFY) or must be polled.
    pushes: bool
    #: The store's identity and layout (``govledger_meta``), read when the ledger opens it.
    meta: StoreMeta

    def open_meta(self, *, create: bool, label: str) -> StoreMeta:
        """
        Read (creating it with the store when ``create``) and keep the store's identity.

        A store that does not exist raises ``StoreError`` unless ``create``.
        """

    def commit_times(self, start: int, stop: int) -> list[tuple[int, str]]:
        """
        (last position, recorded_at) of the commits holding positions ``start``..``stop``.

        Ascending; an event's ``recorded_at`` is that of the first entry at or after its
        position (a store that stamps each event returns one entry per event).
        """

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        policy: PolicyRecord | None = None,
        refusals: Sequence[RefusalRecord] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        """
        Store a batch in one transaction; its positions, in order.

        In the same transaction: the commit's time and the gate policy its new decisions
        were judged under (kept once per digest), and the batch's refused events.
        """

    def write_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        policy: PolicyRecord | None = None,
        refusals: Sequence[RefusalRecord] = (),
    ) -> Callable[[], Sequence[int]]:
        """
        ``insert_events`` in two steps, so that a caller can judge its next batch while
        this one becomes durable: whatever can run now runs now (a store may write the
        batch in an open transaction here, and raise ``IntegrityError`` here), and the
        returned call finishes the one transaction (commits; or writes and commits) and
        returns the positions. Call it exactly once, from any one thread; until it has
        returned, nothing of the batch may be acknowledged, and a failure there stores
        nothing of it.
        """

    def policy_pins(self, originator_ids: Sequence[UUID]) -> dict[UUID, str]:
        """
        The digest of the gate policy each decision was created under (where one is kept).
        """

    def commit_policies(self, start: int, stop: int) -> list[tuple[int, str | None]]:
        """
        (last position, policy digest) of each commit holding a position in [start, stop].
        """

    def policy_records(self, digests: Sequence[str]) -> dict[str, PolicyRecord]:
        """
        The stored policies with these digests.
        """

    def select_refusals(self, start: int, limit: int) -> list[tuple[int, RefusalRecord]]:
        """
        (position, record) of the refusal journal from ``start`` on, at most ``limit``.
        """

    def find_event_ids(self, event_ids: Sequence[str]) -> dict[str, bytes]:
        """
        The stored state of each already-stored (lower-case) event_id.
        """

    def event_positions(self, event_ids: Sequence[str]) -> dict[str, int]:
        """
        The store position of each already-stored (lower-case) event_id.
        """

    def tally(self) -> StoreTally:
        """
        The events, decisions and refusal journal rows the store holds, counted.
        """

    def select_events_many(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """
        The stored events of many aggregates, each in version order.
        """

    def select_states(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, bytes]]:
        """
        (position, state) from ``start`` on, at most ``limit``, up to ``stop`` inclusive.
        """

    def max_notification_id(self) -> int | None:
        """
        The last position (None or 0 when empty).
        """

    def position_at(self, moment: str) -> int:
        """
        The last position committed at or before ``moment`` (UTC, ISO 8601), 0 if none.
        """

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Any:
        """
        An iterator of new notifications after ``gt`` (only where ``pushes``).
        """

    def transaction(self, *, commit: bool) -> AbstractContextManager[Any]:
        """
        A cursor in one transaction (committed when ``commit``), for the ledger's own tables.
        """

    # --- API tokens (``govledger token``, ``govledger serve``): only their hashes -------------

    def add_token(self, name: str, role: str, token_hash: bytes, created_at: str) -> bool:
        """
        Keep a new token's hash under ``name``; False (nothing written) if ``name`` has an
        active token. A revoked name is given the new token (rotation).
        """

    def find_token(self, token_hash: bytes) -> tuple[str, str] | None:
        """
        (name, role) of the active token with this hash, or None (unknown or revoked).
        """

    def list_tokens(self) -> list[tuple[str, str, str, str | None]]:
        """
        (name, role, created_at, revoked_at) of every token, by name; never a hash.
        """

    def revoke_token(self, name: str, revoked_at: str) -> bool:
        """
        Revoke ``name``'s active token; False if it has none.
        """


def environment(config: LedgerConfig, *, create: bool = True) -> dict[str, str]:
    """
    The ``eventsourcing`` environment of the store ``config.store`` names.

    ``postgresql://`` (or ``postgres://``) URLs are PostgreSQL; ``:memory:`` is a
    private in-memory SQLite database (a new one for each ledger opened); anything
    else is a SQLite file path. A SQLite file is checked before anything opens it
    (``stores.sqlite.prepare``): one that is not a govledger store is refused
    untouched, and without ``create`` one that does not exist is ``StoreError``.
    """
    env = {
        "MAPPER_TOPIC": "ledger._mapper:ValidatingMapper",
        "CREATE_TABLE": "y" if create else "n",
    }
    if config.is_postgres:
        from ledger.stores._pgurl import eventsourcing_env  # noqa: PLC0415 - Postgres users only

        env.update(eventsourcing_env(config.store, dict(config.pg_defaults)))
        env["PERSISTENCE_MODULE"] = "ledger.stores.postgres:PostgresStoreFactory"
        return env
    if config.is_memory:
        db_name = f"file:govledger-{uuid.uuid4().hex}?mode=memory&cache=shared"
    else:
        from ledger.stores.sqlite import prepare  # noqa: PLC0415 - a SQLite file

        db_name = str(Path(config.store))
        prepare(db_name, create=create)
    env.update(
        {
            "PERSISTENCE_MODULE": "ledger.stores.sqlite:SQLiteStoreFactory",
            "SQLITE_DBNAME": db_name,
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    )
    return env
