"""Where checkpoints live: two tables per log, next to the events, written through the recorder.

A store can hold more than one tamper-evident log (``Log``): each has its own
checkpoint and leaf tables and its own count of checkpoints issued. Today there is
one, ``EVENTS``: the stored governance events in store order.

``govledger_checkpoints``: one row per seal, ``seq`` 1, 2, 3... with the tree size,
the store position of the last leaf, the root hash, the tree's right edge (so the
next seal continues without rereading old events), the time, and the signed note.
``govledger_leaves``: the leaf hash and store position of every sealed event. The
leaves are authenticated by the signed roots; verification compares them with the
events it rehashes to name the exact position that was changed.
``govledger_meta`` keeps ``checkpoints_issued:<log>``, raised (never lowered) in
the same transaction as each checkpoint, so checkpoints removed later are missed,
and ``signer:<log>``, the key that signed the first checkpoint, so a key replaced
beside the store (``keygen --force``) is noticed.

Both tables are plain SQL (integers, text, bytes) so any SQL backend can hold them:
the dialect only decides the placeholder, the bytes type and how names are qualified.
Nothing here judges what it reads: ``ledger._seal`` does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from eventsourcing.persistence import IntegrityError, PersistenceError

from ledger.errors import StaleSealError, StoreError
from ledger.stores import META_TABLE, EventStore

__all__ = ["EVENTS", "REFUSALS", "CheckpointRow", "CheckpointStore", "LeafRow", "Log"]

CHECKPOINTS: Final = "govledger_checkpoints"
LEAVES: Final = "govledger_leaves"


@dataclass(frozen=True, slots=True)
class Log:
    """
    One tamper-evident log in a store: its name and the tables of its checkpoints and leaves.
    """

    #: Short name: in messages, in the ``checkpoints_issued:<name>`` counter.
    name: str
    checkpoints: str
    leaves: str
    #: Added to the signing key's name to make the checkpoints' origin line ("" = the key's).
    origin_suffix: str = ""

    @property
    def issued_key(self) -> str:
        """
        The ``govledger_meta`` key counting the checkpoints this log has issued.
        """
        return f"checkpoints_issued:{self.name}"

    @property
    def signer_key(self) -> str:
        """
        The ``govledger_meta`` key naming the key that signed this log's first checkpoint.
        """
        return f"signer:{self.name}"


#: The stored governance events, in store order.
EVENTS: Final = Log("events", CHECKPOINTS, LEAVES)
#: The refusal journal, in journal order: a second log with an origin of its own, so a
#: checkpoint of one can never be taken for a checkpoint of the other.
REFUSALS: Final = Log(
    "refusals", "govledger_refusal_checkpoints", "govledger_refusal_leaves", "/refusals"
)


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    """
    One stored checkpoint.
    """

    seq: int
    tree_size: int
    last_position: int
    root_hash: bytes
    frontier: bytes
    sealed_at: str
    note: str


@dataclass(frozen=True, slots=True)
class LeafRow:
    """
    One sealed leaf: its 0-based index, the event's store position and its hash.
    """

    index: int
    position: int
    leaf_hash: bytes


def _values(row: Any) -> tuple[Any, ...]:
    # SQLite cursors return tuples; the PostgreSQL datastore returns dict rows.
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


class CheckpointStore:
    """
    The checkpoint and leaf tables in the ledger's own database.
    """

    def __init__(self, store: EventStore, label: str, log: Log = EVENTS) -> None:
        self._store = store
        self._label = label
        self.log = log
        dialect = store.dialect
        self._checkpoints, self._leaves = dialect.table(log.checkpoints), dialect.table(log.leaves)
        self._meta = dialect.table(META_TABLE)
        self._p, self._bytes = dialect.placeholder, dialect.bytes_type
        self._exists_sql, self._exists_args = dialect.exists(log.checkpoints)
        self._meta_exists_sql, self._meta_exists_args = dialect.exists(META_TABLE)

    @classmethod
    def of(cls, ledger: Any, log: Log = EVENTS) -> CheckpointStore:
        """
        The checkpoint store of ``log`` in a ``GovernanceLedger``.
        """
        return cls(ledger.store, ledger.config.store_label, log)

    @contextmanager
    def _transaction(self, *, commit: bool, doing: str) -> Iterator[Any]:
        try:
            with self._store.transaction(commit=commit) as cursor:
                yield cursor
        except IntegrityError as exc:
            raise StaleSealError(str(exc)) from None
        except PersistenceError as exc:
            raise StoreError(
                f"could not {doing} the checkpoints of the event store {self._label}: {exc}",
                rule="store",
            ) from None

    def create_tables(self) -> None:
        """
        Create both tables if they do not exist (sealing does this; reading never writes).
        """
        with self._transaction(commit=True, doing="create") as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self._checkpoints} ("
                "seq INTEGER PRIMARY KEY, tree_size BIGINT NOT NULL, "
                f"last_position BIGINT NOT NULL, root_hash {self._bytes} NOT NULL, "
                f"frontier {self._bytes} NOT NULL, sealed_at TEXT NOT NULL, note TEXT NOT NULL)"
            )
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self._leaves} ("
                "leaf_index BIGINT PRIMARY KEY, position BIGINT NOT NULL, "
                f"leaf_hash {self._bytes} NOT NULL)"
            )

    def _exists(self, c: Any) -> bool:
        c.execute(self._exists_sql, self._exists_args)
        return bool(_values(c.fetchone())[0])

    def checkpoints(self) -> list[CheckpointRow]:
        """
        Every stored checkpoint, in ``seq`` order.
        """
        with self._transaction(commit=False, doing="read") as c:
            if not self._exists(c):
                return []
            c.execute(
                "SELECT seq, tree_size, last_position, root_hash, frontier, sealed_at, note "
                f"FROM {self._checkpoints} ORDER BY seq"
            )
            return [_checkpoint(row) for row in c.fetchall()]

    def latest(self) -> CheckpointRow | None:
        """
        The checkpoint with the highest ``seq``.
        """
        with self._transaction(commit=False, doing="read") as c:
            if not self._exists(c):
                return None
            c.execute(
                "SELECT seq, tree_size, last_position, root_hash, frontier, sealed_at, note "
                f"FROM {self._checkpoints} ORDER BY seq DESC LIMIT 1"
            )
            row = c.fetchone()
        return None if row is None else _checkpoint(row)

    def leaves(self, limit: int | None = None, start: int = 0) -> list[LeafRow]:
        """
        The sealed leaves in index order (``limit`` of them from index ``start``).
        """
        with self._transaction(commit=False, doing="read") as c:
            if not self._exists(c):
                return []
            sql = (
                f"SELECT leaf_index, position, leaf_hash FROM {self._leaves} "
                f"WHERE leaf_index >= {int(start)} ORDER BY leaf_index"
            )
            if limit is not None:
                sql += f" LIMIT {int(limit)}"
            c.execute(sql)
            return [LeafRow(int(v[0]), int(v[1]), bytes(v[2])) for v in map(_values, c.fetchall())]

    def leaf_hashes(self, start: int, limit: int) -> list[bytes]:
        """
        Only the hashes of ``limit`` sealed leaves from index ``start`` (a fast path for
        readers that check many events: no row objects).
        """
        with self._transaction(commit=False, doing="read") as c:
            if not self._exists(c):
                return []
            c.execute(
                f"SELECT leaf_hash FROM {self._leaves} WHERE leaf_index >= {int(start)} "
                f"ORDER BY leaf_index LIMIT {int(limit)}"
            )
            return [
                bytes(v[0] if not isinstance(v, dict) else v["leaf_hash"]) for v in c.fetchall()
            ]

    def _remembered(self, key: str) -> str | None:
        with self._transaction(commit=False, doing="read") as c:
            c.execute(self._meta_exists_sql, self._meta_exists_args)
            if not bool(_values(c.fetchone())[0]):
                return None
            c.execute(f"SELECT value FROM {self._meta} WHERE key = {self._p}", [key])
            row = c.fetchone()
        return None if row is None else str(_values(row)[0])

    def issued(self) -> int:
        """
        How many checkpoints this log has issued (what the store remembers, removed ones too).
        """
        return int(self._remembered(self.log.issued_key) or 0)

    def signer(self) -> str | None:
        """
        ``"<key name> <key id hex>"`` of the key that signed this log's first checkpoint.
        """
        return self._remembered(self.log.signer_key)

    def append(self, row: CheckpointRow, leaves: Sequence[LeafRow], signer: str = "") -> None:
        """
        Store a checkpoint and the leaves it adds, in one transaction (``signer``: the
        signing key, remembered with the first checkpoint).
        """
        p = self._p
        with self._transaction(commit=True, doing="write") as c:
            if leaves:
                c.executemany(
                    f"INSERT INTO {self._leaves} (leaf_index, position, leaf_hash) "
                    f"VALUES ({p},{p},{p})",
                    [(leaf.index, leaf.position, leaf.leaf_hash) for leaf in leaves],
                )
            c.execute(
                f"INSERT INTO {self._checkpoints} (seq, tree_size, last_position, root_hash, "
                f"frontier, sealed_at, note) VALUES ({p},{p},{p},{p},{p},{p},{p})",
                [
                    row.seq,
                    row.tree_size,
                    row.last_position,
                    row.root_hash,
                    row.frontier,
                    row.sealed_at,
                    row.note,
                ],
            )
            # Remembered with the checkpoint: removing checkpoints later leaves this behind.
            self._remember(c, self.log.issued_key, str(row.seq), keep_higher=True)
            if signer:
                self._remember(c, self.log.signer_key, signer, keep=True)

    def _remember(
        self, c: Any, key: str, value: str, *, keep: bool = False, keep_higher: bool = False
    ) -> None:
        p = self._p
        c.execute(f"SELECT value FROM {self._meta} WHERE key = {p}", [key])
        found = c.fetchone()
        if found is not None:
            old = str(_values(found)[0])
            if keep or (keep_higher and old.isdigit() and int(old) >= int(value)):
                return
            c.execute(f"DELETE FROM {self._meta} WHERE key = {p}", [key])
        c.execute(f"INSERT INTO {self._meta} (key, value) VALUES ({p},{p})", [key, value])


def _checkpoint(row: Any) -> CheckpointRow:
    v = _values(row)
    return CheckpointRow(
        int(v[0]), int(v[1]), int(v[2]), bytes(v[3]), bytes(v[4]), str(v[5]), str(v[6])
    )
