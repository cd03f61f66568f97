"""The store contract on both stores, and what only the PostgreSQL store must add.

Issue 6: the same rules and the same recorder methods on SQLite and PostgreSQL;
a lost race arrives as the library's ``IntegrityError`` (the application judges
again) and reaches callers as a rule's code; credentials come from the URL or the
``PG*`` variables and a password is never shown; live readers are woken by
LISTEN/NOTIFY.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from eventsourcing.persistence import IntegrityError

from ledger import cli, stores
from ledger._mapper import GovStoredEvent
from ledger.application import DUPLICATE, GovernanceLedger
from ledger.config import LedgerConfig
from ledger.errors import DuplicateEventError, StoreError
from ledger.gate import aggregate_id
from tests.conftest import PG_DB, PG_HOST, PG_PORT, postgres_url, require_postgres


def _decision(ledger: GovernanceLedger, **kwargs):
    return ledger.evaluate_gate(
        "SpecApproval",
        "wp-1",
        kwargs.pop("level", "AUTONOMOUS"),
        "approve",
        kwargs.pop("confidence", 0.99),
        "ok",
        [],
        "m",
        **kwargs,
    )


# --- the contract, on both stores ---------------------------------------------------


def test_batch_positions_are_ascending_and_match_store_order(ledger):
    """
    11.5.7: each accepted event is acknowledged with its store position, in store order.
    """
    first = _decision(ledger)
    second = _decision(ledger, level="HYBRID", confidence=0.5)
    stored = list(ledger.stored_events())
    positions = [p for p, _ in stored]
    assert positions == sorted(positions)
    assert len(stored) == len(first.event_ids) + len(second.event_ids)
    assert ledger.max_position() == positions[-1]


def test_event_ids_are_found_across_decisions(ledger):
    """
    FR contract: event_id is unique across the store, and found by it (lower case).
    """
    outcome = _decision(ledger)
    ids = [e.lower() for e in outcome.event_ids]
    found = ledger.store.find_event_ids([*ids, str(uuid.uuid4())])
    assert set(found) == set(ids)
    assert all(isinstance(state, bytes) and state.startswith(b"{") for state in found.values())


def test_many_decisions_load_in_version_order(ledger):
    """
    2.6.8.12.6.4: a decision replays in the order its events were recorded.
    """
    a = _decision(ledger)
    b = _decision(ledger, level="HYBRID", confidence=0.5)
    ledger.record_human_decision(b.decision_id, "alice", "approve")
    loaded = ledger.store.select_events_many(
        [aggregate_id(a.decision_id), aggregate_id(b.decision_id), uuid.uuid4()]
    )
    assert [e.originator_version for e in loaded[aggregate_id(a.decision_id)]] == [1, 2, 3]
    assert [e.originator_version for e in loaded[aggregate_id(b.decision_id)]] == [1, 2, 3, 4]
    assert len(loaded) == 2


def test_position_at_follows_the_recording_clock(ledger):
    """
    As-of replay: nothing was recorded before the first write; everything by now.
    """
    before = datetime.now(UTC) - timedelta(seconds=5)
    _decision(ledger)
    assert ledger.position_at(before) == 0
    assert ledger.position_at(datetime.now(UTC) + timedelta(seconds=5)) == ledger.max_position()


def test_resubmitted_events_are_duplicates_not_errors(ledger):
    """
    FR contract: an identical event_id already stored is ``duplicate``, even in a new process.
    """
    outcome = _decision(ledger)
    events = [orjson.loads(s) for _, s in ledger.stored_events()]
    with GovernanceLedger(ledger.config) as other:
        results = other.append(events)
    assert [r.status for r in results] == [DUPLICATE] * len(outcome.event_ids)


# --- PostgreSQL only ----------------------------------------------------------------


@pytest.fixture
def pg_config():
    require_postgres()
    schema = f"gl_{uuid.uuid4().hex[:12]}"
    yield LedgerConfig(store=postgres_url(schema))
    import psycopg

    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, dbname=PG_DB, user="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_second_copy_of_an_event_id_is_an_integrity_error(pg_config):
    """
    FR contract: the event_id index refuses a second copy inside the write transaction,
    as the library's IntegrityError, which the application re-judges; nothing is written.
    """
    with GovernanceLedger(pg_config) as ledger:
        recorder = ledger.store
        recorder.insert_events([GovStoredEvent(uuid.uuid4(), 1, "t", b"{}", event_id="e-1")])
        clash = [
            GovStoredEvent(uuid.uuid4(), 1, "t", b"{}", event_id="e-2"),
            GovStoredEvent(uuid.uuid4(), 1, "t", b"{}", event_id="e-1"),
        ]
        with pytest.raises(IntegrityError):
            recorder.insert_events(clash)
        assert set(recorder.find_event_ids(["e-1", "e-2"])) == {"e-1"}


@pytest.mark.postgres
def test_writer_with_a_stale_view_gets_the_rule_not_a_database_error(pg_config):
    """
    2.6.8.12.6.4 across processes: two orchestrators answer the same request; the second,
    whose view predates the first answer, loses the race and gets the rule's code
    (``duplicate``: the decision already has another human's answer, issue 12).
    """
    with GovernanceLedger(pg_config) as a, GovernanceLedger(pg_config) as b:
        outcome = _decision(a, level="HYBRID", confidence=0.5)
        assert b.gate(outcome.decision_id).status == "awaiting_human"  # b caches nothing, a does
        b.record_human_decision(outcome.decision_id, "bob", "reject")
        with pytest.raises(DuplicateEventError):
            a.record_human_decision(outcome.decision_id, "alice", "approve")
        assert a.gate(outcome.decision_id).status == "human_rejected"


@pytest.mark.postgres
def test_many_processes_may_create_the_schema_at_once(pg_config):
    """
    Issue 6: orchestrators starting together on an empty database all come up.
    """
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with GovernanceLedger(pg_config) as ledger:
                _decision(ledger)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.postgres
def test_unreachable_server_is_a_store_error_without_the_password(capsys):
    """
    Issue 6: a password never appears in output or errors; the reason does.
    """
    url = "postgresql://postgres:hunter2-secret@127.0.0.1:1/test?connect_timeout=1"
    with pytest.raises(StoreError) as caught:
        GovernanceLedger(LedgerConfig(store=url))
    assert "hunter2" not in str(caught.value)
    assert "postgres:***@127.0.0.1:1" in str(caught.value)
    assert "refused" in str(caught.value).lower()
    assert cli.main(["--store", url, "events"]) == cli.EXIT_STORE
    captured = capsys.readouterr()
    assert "hunter2" not in captured.out + captured.err


@pytest.mark.postgres
def test_credentials_come_from_pg_variables_through_the_config(pg_config):
    """
    Issue 6: what the URL leaves out comes from PG*; only from_env reads them; never shown.
    """
    require_postgres()
    schema = pg_config.store.rsplit("schema=", 1)[1]
    environ = {
        "GOVLEDGER_STORE": f"postgresql:///?schema={schema}",
        "PGHOST": PG_HOST,
        "PGPORT": str(PG_PORT),
        "PGDATABASE": PG_DB,
        "PGUSER": "postgres",
        "PGPASSWORD": "pg-secret-from-env",
    }
    config = LedgerConfig.from_env(environ)
    env = stores.environment(config)
    assert (env["POSTGRES_HOST"], env["POSTGRES_DBNAME"], env["POSTGRES_USER"]) == (
        PG_HOST,
        PG_DB,
        "postgres",
    )
    assert env["POSTGRES_PASSWORD"] == "pg-secret-from-env"  # noqa: S105
    assert "pg-secret" not in repr(config)
    assert "pg-secret" not in config.store_label
    with GovernanceLedger(config) as ledger:  # trust auth accepts any password
        assert _decision(ledger).status == "auto_approved"
    url = stores.environment(
        LedgerConfig.from_env(
            {
                "GOVLEDGER_STORE": "postgresql://u:url-pw@h:6543/d",
                "PGUSER": "x",
                "PGPASSWORD": "env-pw",
            }
        )
    )
    assert (url["POSTGRES_USER"], url["POSTGRES_PASSWORD"], url["POSTGRES_PORT"]) == (
        "u",
        "url-pw",
        "6543",
    )


@pytest.mark.postgres
def test_subscription_delivers_events_as_they_are_committed(pg_config):
    """
    Live projections: a subscriber after position N is woken (LISTEN/NOTIFY) by another
    process's commit and gets the new events in store order, then stops cleanly.
    """
    with GovernanceLedger(pg_config) as reader, GovernanceLedger(pg_config) as writer:
        _decision(writer)
        start = reader.max_position()
        received: list[int] = []
        with reader.store.subscribe(gt=start) as subscription:
            give_up = threading.Timer(10, subscription.stop)  # never hang the suite
            give_up.start()
            outcome = _decision(writer)
            for notification in subscription:
                received.append(notification.id)
                if len(received) == len(outcome.event_ids):
                    subscription.stop()
            give_up.cancel()
        positions = [p for p, _ in writer.stored_events(start=start + 1)]
        assert received == positions
        assert len(received) == len(outcome.event_ids)
        assert all(p > start for p in received)
