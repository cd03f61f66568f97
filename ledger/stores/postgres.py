"""The shared event store: eventsourcing's PostgreSQL recorder plus the ``event_id`` index.

Same layout and contract as the embedded store (``ledger._store``): the library's
events table, keyed by (aggregate, version) with a ``notification_id`` for store
order, and ``govledger_event_ids`` written in the same transaction, so its
PRIMARY KEY makes a second copy of an event_id impossible between processes and
machines. A writer that loses a race gets the library's ``IntegrityError`` and
the application judges its batch again.

Writers serialise on the library's ``LOCK TABLE ... IN EXCLUSIVE MODE`` (taken
first, before any row is written, so two writers can never deadlock on the
unique indexes), which makes store order the commit order: a reader tailing
the store never skips an event committed later with a lower position.
``recorded_at`` is the server's clock, read after the lock, so it rises with
the position whichever machine wrote the event.

Connection loss is never retried here: a write that fails before its commit
stored nothing and says so; one that fails during the commit cannot know, says
so, and a re-run of the same input reports what was stored as ``duplicate``.
Messages never carry the password.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from psycopg.sql import SQL, Identifier

from ledger.errors import StoreError
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

__all__ = ["GovPostgresRecorder", "PostgresStoreFactory"]

_P = ParamSpec("_P")
_R = TypeVar("_R")

EVENT_IDS_TABLE = "govledger_event_ids"
COMMITS_TABLE = "govledger_commits"
POLICIES_TABLE = "govledger_policies"
REFUSALS_TABLE = "govledger_refusals"
TOKENS_TABLE = "govledger_tokens"
#: Advisory lock key held while creating tables ("govledgr" in ASCII).
_CREATE_LOCK = 0x676F766C65646772


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "no detail from the server"


def _why_no_connection(datastore: PostgresDatastore) -> str:
    pool_kwargs = datastore.pool.kwargs
    kwargs = dict(pool_kwargs) if isinstance(pool_kwargs, dict) else {}
    kwargs.pop("row_factory", None)
    where = f"{kwargs.get('user')}@{kwargs.get('host')}:{kwargs.get('port')}/{kwargs.get('dbname')}"
    try:
        psycopg.connect(**kwargs, connect_timeout=5).close()
    except psycopg.Error as exc:
        reason = str(exc)
    else:
        reason = "the connection pool timed out"
    password = kwargs.get("password")
    if password:
        reason = reason.replace(str(password), "***")
    return f"cannot connect to PostgreSQL as {where}: {_one_line(reason)}"


def _connection_errors(what: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """
    Turn a lost connection into one clear line without the password.
    """

    def decorate(method: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(method)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return method(*args, **kwargs)
            except (OperationalError, InterfaceError) as exc:
                recorder = args[0]
                assert isinstance(recorder, GovPostgresRecorder)  # noqa: S101
                msg = f"lost the connection to PostgreSQL while {what}: {recorder.scrub(str(exc))}"
                raise type(exc)(msg) from None

        return wrapper

    return decorate


class GovPostgresRecorder(PostgresApplicationRecorder):
    """
    Inserts a batch in one statement and keeps the event_id index, like ``GovSQLiteRecorder``.
    """

    pushes = True  # LISTEN/NOTIFY wakes subscribers as soon as a batch commits
    meta = StoreMeta("", 0)  # read by ``open_meta`` when the ledger opens the store

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        try:
            super().__init__(datastore, events_table_name=events_table_name)
        except (OperationalError, InterfaceError):
            # The pool only says it timed out; ask the server once for the reason.
            datastore.close()
            raise OperationalError(_why_no_connection(datastore)) from None
        schema = Identifier(self.datastore.schema)
        events = Identifier(self.events_table_name)
        ids = Identifier(EVENT_IDS_TABLE)
        quoted = '"' + self.datastore.schema.replace('"', '""') + '"'
        self.dialect = SqlDialect(
            placeholder="%s",
            bytes_type="bytea",
            prefix=f"{quoted}.",
            exists_sql="SELECT to_regclass(%s) IS NOT NULL",
            exists_qualified=True,
        )
        # NOTIFY channels are per database, not per schema: two ledgers in two schemas of
        # one database must not wake each other's subscribers.
        self.channel_name = f"{self.datastore.schema}.{self.events_table_name}"[
            : self.MAX_IDENTIFIER_LEN
        ]
        self.meta_table = SQL("{schema}.{meta}").format(schema=schema, meta=Identifier(META_TABLE))
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (key text PRIMARY KEY, value text NOT NULL)"
            ).format(self.meta_table)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{ids} ("
                "event_id text PRIMARY KEY, "
                "originator_id uuid NOT NULL, "
                "originator_version bigint NOT NULL, "
                "recorded_at timestamptz NOT NULL)"
            ).format(schema=schema, ids=ids)
        )
        commits, policies, refusals = (
            Identifier(COMMITS_TABLE),
            Identifier(POLICIES_TABLE),
            Identifier(REFUSALS_TABLE),
        )
        self.sql_create_statements.extend(
            [
                SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.{commits} ("
                    "position bigint PRIMARY KEY, recorded_at timestamptz NOT NULL, policy text)"
                ).format(schema=schema, commits=commits),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.{policies} ("
                    "digest text PRIMARY KEY, version text NOT NULL, canonical text NOT NULL)"
                ).format(schema=schema, policies=policies),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.{refusals} ("
                    "position bigserial PRIMARY KEY, refused_at text NOT NULL, "
                    "entry_point text NOT NULL, event_id text, decision_id text, type text, "
                    "code text NOT NULL, rule text, field text, sha256 text NOT NULL)"
                ).format(schema=schema, refusals=refusals),
            ]
        )
        self.insert_policy_statement = SQL(
            "INSERT INTO {schema}.{policies} VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
        ).format(schema=schema, policies=policies)
        self.insert_commit_statement = SQL(
            "INSERT INTO {schema}.{commits} VALUES (%s, clock_timestamp(), %s)"
        ).format(schema=schema, commits=commits)
        self.insert_refusals_statement = SQL(
            "INSERT INTO {schema}.{refusals} ("
            + ", ".join(REFUSAL_COLUMNS)
            + ") SELECT * FROM unnest("
            + ", ".join(["%s::text[]"] * len(REFUSAL_COLUMNS))
            + ")"
        ).format(schema=schema, refusals=refusals)
        self.policy_pins_statement = SQL(
            "SELECT s.originator_id, (SELECT c.policy FROM {schema}.{commits} c "
            "WHERE c.position >= s.notification_id ORDER BY c.position LIMIT 1) AS policy "
            "FROM {schema}.{events} s "
            "WHERE s.originator_version = 1 AND s.originator_id = ANY(%s::uuid[])"
        ).format(schema=schema, commits=commits, events=events)
        self.commit_policies_statement = SQL(
            "SELECT position, policy FROM {schema}.{commits} WHERE position >= %s AND "
            "position <= coalesce((SELECT min(position) FROM {schema}.{commits} "
            "WHERE position >= %s), %s) ORDER BY position"
        ).format(schema=schema, commits=commits)
        self.policy_records_statement = SQL(
            "SELECT digest, version, canonical FROM {schema}.{policies} "
            "WHERE digest = ANY(%s::text[])"
        ).format(schema=schema, policies=policies)
        self.select_refusals_statement = SQL(
            "SELECT position, "
            + ", ".join(REFUSAL_COLUMNS)
            + " FROM {schema}.{refusals} WHERE position >= %s ORDER BY position LIMIT %s"
        ).format(schema=schema, refusals=refusals)
        # API tokens: the SHA-256 of each token, never the token (ledger.serve._tokens).
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{tokens} ("
                "name text PRIMARY KEY, role text NOT NULL, token_hash bytea NOT NULL UNIQUE, "
                "created_at text NOT NULL, revoked_at text)"
            ).format(schema=schema, tokens=Identifier(TOKENS_TABLE))
        )
        # One statement, one round trip: the events (positions returned in input order,
        # which is the order the sequence issued them) and their event_ids.
        self.insert_batch_statement = SQL(
            "WITH src AS MATERIALIZED ("
            " SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[], %s::text[])"
            " AS u(o, v, t, s, e)), "
            "batch AS ("
            " INSERT INTO {schema}.{events} (originator_id, originator_version, topic, state)"
            " SELECT o, v, t, s FROM src RETURNING notification_id), "
            "ids AS ("
            " INSERT INTO {schema}.{ids} (event_id, originator_id, originator_version, recorded_at)"
            " SELECT e, o, v, clock_timestamp() FROM src) "
            "SELECT notification_id FROM batch ORDER BY notification_id"
        ).format(schema=schema, events=events, ids=ids)
        # The stored event of each of an array of event_ids: its state, or its position.
        by_event_id = SQL(
            "SELECT i.event_id, s.{column} FROM {schema}.{ids} i "
            "JOIN {schema}.{events} s ON s.originator_id = i.originator_id "
            "AND s.originator_version = i.originator_version "
            "WHERE i.event_id = ANY(%s::text[])"
        )
        self.find_event_ids_statement = by_event_id.format(
            column=Identifier("state"), schema=schema, events=events, ids=ids
        )
        self.event_positions_statement = by_event_id.format(
            column=Identifier("notification_id"), schema=schema, events=events, ids=ids
        )
        self.tally_statement = SQL(
            "SELECT (SELECT count(*) FROM {schema}.{events}) AS events, "
            "(SELECT count(*) FROM {schema}.{events} WHERE originator_version = 1) AS decisions, "
            "(SELECT count(*) FROM {schema}.{refusals}) AS refusals, "
            "(SELECT coalesce(max(position), 0) FROM {schema}.{refusals}) AS last_refusal"
        ).format(schema=schema, events=events, refusals=Identifier(REFUSALS_TABLE))
        self.select_states_statement = SQL(
            "SELECT notification_id, state FROM {schema}.{events} "
            "WHERE notification_id >= %s AND notification_id <= %s "
            "ORDER BY notification_id LIMIT %s"
        ).format(schema=schema, events=events)
        self.select_events_many_statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{events} "
            "WHERE originator_id = ANY(%s::uuid[]) ORDER BY originator_id, originator_version"
        ).format(schema=schema, events=events)
        self.commit_times_statement = SQL(
            "SELECT s.notification_id, "
            "to_char(i.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS at "
            "FROM {schema}.{events} s JOIN {schema}.{ids} i ON s.originator_id = i.originator_id "
            "AND s.originator_version = i.originator_version "
            "WHERE s.notification_id >= %s AND s.notification_id <= %s ORDER BY 1"
        ).format(schema=schema, events=events, ids=ids)
        self.position_at_statement = SQL(
            "SELECT MAX(s.notification_id) AS position FROM {schema}.{events} s "
            "JOIN {schema}.{ids} i ON s.originator_id = i.originator_id "
            "AND s.originator_version = i.originator_version "
            "WHERE i.recorded_at <= %s::timestamptz"
        ).format(schema=schema, events=events, ids=ids)

    def create_table(self) -> None:
        """
        Create the schema and tables if missing; safe when many processes start at once.
        """
        # CREATE ... IF NOT EXISTS is not atomic between sessions (two can both decide
        # to create): one session-level advisory lock lets the first process do it alone.
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_CREATE_LOCK,))
            try:
                conn.execute(
                    SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(self.datastore.schema))
                )
                super().create_table()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_CREATE_LOCK,))

    @_connection_errors("reading the store's identity")
    def open_meta(self, *, create: bool, label: str) -> StoreMeta:
        """
        The store's identity, created with the store (an older store gets one now).
        """
        meta_name = f"{self.datastore.schema}.{META_TABLE}"
        events_name = f"{self.datastore.schema}.{self.events_table_name}"
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "SELECT to_regclass(%s) IS NOT NULL AS meta, to_regclass(%s) IS NOT NULL AS events",
                (_quoted(meta_name), _quoted(events_name)),
            )
            found = curs.fetchone() or {"meta": False, "events": False}
            rows: dict[str, str] = {}
            if found["meta"]:
                curs.execute(SQL("SELECT key, value FROM {0}").format(self.meta_table))
                rows = {r["key"]: r["value"] for r in curs.fetchall()}
            if "store_id" not in rows:
                if not create and not found["events"]:
                    msg = f"no event store at {label} (govledger ingest or demo creates one)"
                    raise StoreError(msg, field="store", rule="exists")
                curs.execute(
                    SQL(
                        "CREATE TABLE IF NOT EXISTS {0} (key text PRIMARY KEY, value text NOT NULL)"
                    ).format(self.meta_table)
                )
                for key, value in StoreMeta.new().rows():
                    curs.execute(
                        SQL("INSERT INTO {0} VALUES (%s, %s) ON CONFLICT (key) DO NOTHING").format(
                            self.meta_table
                        ),
                        (key, value),
                    )
                curs.execute(SQL("SELECT key, value FROM {0}").format(self.meta_table))
                rows = {r["key"]: r["value"] for r in curs.fetchall()}
        self.meta = StoreMeta.from_rows(rows, label)
        return self.meta

    @_connection_errors("reading commit times")
    def commit_times(self, start: int, stop: int) -> list[tuple[int, str]]:
        """
        (position, recorded_at) of every event in ``start``..``stop``: PostgreSQL stamps each.
        """
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.commit_times_statement, (start, stop))
            return [(int(r["notification_id"]), str(r["at"])) for r in curs.fetchall()]

    @property
    def where(self) -> str:
        """
        The store as people may see it: ``user@host:port/dbname?schema=s``, no password.
        """
        pool_kwargs = self.datastore.pool.kwargs
        kw = pool_kwargs if isinstance(pool_kwargs, dict) else {}
        return (
            f"{kw.get('user')}@{kw.get('host')}:{kw.get('port')}/{kw.get('dbname')}"
            f"?schema={self.datastore.schema}"
        )

    def scrub(self, text: str) -> str:
        """
        ``text`` on one line, with the connection's password (if any) masked.
        """
        kwargs = self.datastore.pool.kwargs
        password = kwargs.get("password") if isinstance(kwargs, dict) else None
        if password:
            text = text.replace(str(password), "***")
        return _one_line(text)

    # --- writing ----------------------------------------------------------------------

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        policy: PolicyRecord | None = None,
        refusals: Sequence[RefusalRecord] = (),
        **_: Any,
    ) -> Sequence[int] | None:
        if not stored_events and not refusals:
            return []
        params = (
            [s.originator_id for s in stored_events],
            [s.originator_version for s in stored_events],
            [s.topic for s in stored_events],
            [s.state for s in stored_events],
            [getattr(s, "event_id", "") for s in stored_events],
        )
        positions: list[int] = []
        committing = False
        try:
            with self.datastore.get_connection() as conn:
                failure: Exception | None = None
                with conn.pipeline() as pipeline, conn.transaction():
                    with conn.cursor() as curs:
                        try:
                            if refusals:
                                curs.execute(
                                    self.insert_refusals_statement,
                                    [list(column) for column in zip(*refusals, strict=True)],
                                    prepare=True,
                                )
                            if stored_events:
                                positions = self._insert_batch(curs, pipeline, params, policy)
                            else:
                                pipeline.sync()
                        except Exception as exc:  # noqa: BLE001 - re-raised below, outside the pipeline
                            failure = exc
                    committing = failure is None
                if failure is not None:
                    raise failure
        except (OperationalError, InterfaceError) as exc:
            detail = self.scrub(str(exc))
            if committing:
                msg = (
                    f"lost the connection to PostgreSQL ({self.where}) while committing a "
                    f"batch ({detail}): it may or may not be stored; run the same input "
                    "again, and what was stored is reported duplicate"
                )
                raise StoreError(msg, rule="store") from None
            msg = f"lost the connection to PostgreSQL while writing ({detail})"
            raise OperationalError(msg) from None
        if len(positions) != len(
            stored_events
        ):  # pragma: no cover - the statement returns one each
            msg = f"expected {len(stored_events)} positions, got {len(positions)}"
            raise PersistenceError(msg)
        return positions

    def write_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        policy: PolicyRecord | None = None,
        refusals: Sequence[RefusalRecord] = (),
    ) -> Callable[[], Sequence[int]]:
        """
        The whole of ``insert_events`` (lock, insert, commit: network waits, with the GIL
        released) runs in the returned call, so a caller judges its next batch meanwhile.
        """

        def write() -> Sequence[int]:
            return list(self.insert_events(stored_events, policy=policy, refusals=refusals) or ())

        return write

    def _insert_batch(
        self, curs: Any, pipeline: Any, params: Sequence[Any], policy: PolicyRecord | None
    ) -> list[int]:
        # Lock first: every writer takes the same lock before touching an index, so
        # writers queue instead of deadlocking.
        self._lock_table(curs)
        self._notify_channel(curs)
        if policy is not None:
            curs.execute(self.insert_policy_statement, policy, prepare=True)
        curs.execute(self.insert_batch_statement, params, prepare=True)
        # Sync here so a lost race surfaces as a unique violation (IntegrityError) now,
        # not as an opaque error at commit.
        pipeline.sync()
        positions = [row["notification_id"] for row in curs.fetchall()]
        curs.execute(
            self.insert_commit_statement,
            (positions[-1], None if policy is None else policy.digest),
            prepare=True,
        )
        return positions

    # --- reading ----------------------------------------------------------------------

    @_connection_errors("reading the gate policies decisions were created under")
    def policy_pins(self, originator_ids: Sequence[UUID]) -> dict[UUID, str]:
        """
        The digest of the gate policy each decision was created under (where one is kept).
        """
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.policy_pins_statement, (list(originator_ids),), prepare=True)
            return {row["originator_id"]: row["policy"] for row in curs.fetchall() if row["policy"]}

    @_connection_errors("reading commits")
    def commit_policies(self, start: int, stop: int) -> list[tuple[int, str | None]]:
        """
        (last position, policy digest) of each commit holding a position in [start, stop].
        """
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.commit_policies_statement, (start, stop, stop))
            return [(int(row["position"]), row["policy"]) for row in curs.fetchall()]

    @_connection_errors("reading gate policies")
    def policy_records(self, digests: Sequence[str]) -> dict[str, PolicyRecord]:
        """
        The stored policies with these digests.
        """
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.policy_records_statement, (list(digests),))
            return {
                row["digest"]: PolicyRecord(row["digest"], row["version"], row["canonical"])
                for row in curs.fetchall()
            }

    @_connection_errors("reading the refusal journal")
    def select_refusals(self, start: int, limit: int) -> list[tuple[int, RefusalRecord]]:
        """
        (position, record) of the refusal journal from ``start`` on, at most ``limit``.
        """
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_refusals_statement, (start, limit))
            return [
                (int(row["position"]), RefusalRecord(*(row[c] for c in REFUSAL_COLUMNS)))
                for row in curs.fetchall()
            ]

    @_connection_errors("looking up event_ids")
    def find_event_ids(self, event_ids: Sequence[str]) -> dict[str, bytes]:
        """
        Stored state of each already-stored (lower-case) ``event_id``.
        """
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.find_event_ids_statement, (list(event_ids),), prepare=True)
            return {row["event_id"]: bytes(row["state"]) for row in curs.fetchall()}

    @_connection_errors("looking up event positions")
    def event_positions(self, event_ids: Sequence[str]) -> dict[str, int]:
        """
        The store position of each already-stored (lower-case) ``event_id``.
        """
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.event_positions_statement, (list(event_ids),))
            return {row["event_id"]: int(row["notification_id"]) for row in curs.fetchall()}

    @_connection_errors("counting what the store holds")
    def tally(self) -> StoreTally:
        """
        Events, decisions (first events of their aggregates) and refusal journal rows.
        """
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.tally_statement)
            row = curs.fetchone()
        assert row is not None  # noqa: S101 - an aggregate always returns a row
        return StoreTally(
            int(row["events"]),
            int(row["decisions"]),
            int(row["refusals"]),
            int(row["last_refusal"]),
        )

    @_connection_errors("reading decisions")
    def select_events_many(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """
        The stored events of many aggregates in one round trip, each in version order.
        """
        out: dict[UUID, list[StoredEvent]] = {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_events_many_statement, (list(originator_ids),), prepare=True)
            for row in curs.fetchall():
                oid = row["originator_id"]
                out.setdefault(oid, []).append(
                    StoredEvent(oid, row["originator_version"], row["topic"], bytes(row["state"]))
                )
        return out

    @_connection_errors("reading events in store order")
    def select_states(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, bytes]]:
        """
        (position, state) from ``start`` on, at most ``limit``, up to ``stop`` (inclusive).
        """
        last = (1 << 63) - 1 if stop is None else stop
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_states_statement, (start, last, limit), prepare=True)
            return [(int(row["notification_id"]), bytes(row["state"])) for row in curs.fetchall()]

    def transaction(self, *, commit: bool) -> Any:
        """
        A cursor in one transaction on the store's database.
        """
        return self.datastore.transaction(commit=commit)

    @_connection_errors("finding a position by time")
    def position_at(self, moment: str) -> int:
        """
        The last store position recorded at or before ``moment`` (UTC ISO 8601), 0 if none.
        """
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.position_at_statement, (moment,))
            row = curs.fetchone()
        return int(row["position"] or 0) if row else 0

    # --- API tokens ---------------------------------------------------------------------

    def _tokens(self) -> str:
        return f"{self.dialect.prefix}{TOKENS_TABLE}"

    @_connection_errors("adding a token")
    def add_token(self, name: str, role: str, token_hash: bytes, created_at: str) -> bool:
        """
        Keep a token's hash under ``name`` (a revoked name is reused); False if it is active.
        """
        statement = ROTATING_INSERT.format(tokens=self._tokens(), p="%s")
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(statement, (name, role, token_hash, created_at))
            return bool(curs.rowcount)

    @_connection_errors("checking a token")
    def find_token(self, token_hash: bytes) -> tuple[str, str] | None:
        """
        (name, role) of the active token with this hash, or None.
        """
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT name, role FROM {self._tokens()} "
                "WHERE token_hash = %s AND revoked_at IS NULL",
                (token_hash,),
            )
            row = curs.fetchone()
        return None if row is None else (str(row["name"]), str(row["role"]))

    @_connection_errors("listing tokens")
    def list_tokens(self) -> list[tuple[str, str, str, str | None]]:
        """
        (name, role, created_at, revoked_at) of every token, by name.
        """
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT name, role, created_at, revoked_at FROM {self._tokens()} ORDER BY name"
            )
            return [
                (row["name"], row["role"], row["created_at"], row["revoked_at"])
                for row in curs.fetchall()
            ]

    @_connection_errors("revoking a token")
    def revoke_token(self, name: str, revoked_at: str) -> bool:
        """
        Revoke ``name``'s active token; False if it has none.
        """
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                f"UPDATE {self._tokens()} SET revoked_at = %s "
                "WHERE name = %s AND revoked_at IS NULL",
                (revoked_at, name),
            )
            return bool(curs.rowcount)


def _quoted(qualified: str) -> str:
    schema, _, name = qualified.partition(".")
    return '"' + schema.replace('"', '""') + '"."' + name.replace('"', '""') + '"'


class PostgresStoreFactory(PostgresFactory):
    """
    The library's PostgreSQL factory, building the ledger's recorder.
    """

    application_recorder_class = GovPostgresRecorder
