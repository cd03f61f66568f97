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

__all__ = ["EventStore", "PolicyRecord", "RefusalRecord", "SqlDialect", "environment"]


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


#: The refusal journal's columns, in RefusalRecord's order (after its position).
REFUSAL_COLUMNS: Final = RefusalRecord._fields


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


def environment(config: LedgerConfig) -> dict[str, str]:
    """
    The ``eventsourcing`` environment of the store ``config.store`` names.

    ``postgresql://`` (or ``postgres://``) URLs are PostgreSQL; ``:memory:`` is a
    private in-memory SQLite database (a new one for each ledger opened); anything
    else is a SQLite file path.
    """
    env = {"MAPPER_TOPIC": "ledger._mapper:ValidatingMapper"}
    if config.is_postgres:
        from ledger.stores._pgurl import eventsourcing_env  # noqa: PLC0415 - Postgres users only

        env.update(eventsourcing_env(config.store, dict(config.pg_defaults)))
        env["PERSISTENCE_MODULE"] = "ledger.stores.postgres:PostgresStoreFactory"
        return env
    db_name = (
        f"file:govledger-{uuid.uuid4().hex}?mode=memory&cache=shared"
        if config.is_memory
        else str(Path(config.store))
    )
    env.update(
        {
            "PERSISTENCE_MODULE": "ledger.stores.sqlite:SQLiteStoreFactory",
            "SQLITE_DBNAME": db_name,
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    )
    return env
