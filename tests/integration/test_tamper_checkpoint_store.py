"""The checkpoint tables on both backends: the same rows, the same refusal of a second seal."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ledger._checkpoint_store import CheckpointRow, CheckpointStore, LeafRow, StaleSealError
from tests.conftest import PG_DB, PG_HOST, PG_PORT, require_postgres


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def datastore(request: pytest.FixtureRequest, tmp_path) -> Iterator[Any]:
    """
    The datastore a recorder writes through: a SQLite file, or a fresh PostgreSQL schema.
    """
    if request.param == "sqlite":
        from eventsourcing.sqlite import SQLiteDatastore

        store = SQLiteDatastore(str(tmp_path / "cp.db"))
        yield store
        store.close()
        return
    require_postgres()
    import psycopg
    from eventsourcing.postgres import PostgresDatastore

    user = os.environ.get("PGUSER", "postgres")
    schema = f"gl_cp_{uuid.uuid4().hex[:10]}"
    connect = {"host": PG_HOST, "port": PG_PORT, "dbname": PG_DB, "user": user}
    with psycopg.connect(**connect, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    store = PostgresDatastore(PG_DB, PG_HOST, PG_PORT, user, "", schema=schema)
    yield store
    store.close()
    with psycopg.connect(**connect, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_checkpoints_and_leaves_round_trip_and_a_taken_seq_is_refused(datastore):
    """Sealing is append-only: a second checkpoint with a taken number is refused, not merged."""
    store = CheckpointStore(datastore, "test store")
    assert (store.checkpoints(), store.latest(), store.leaves()) == ([], None, [])
    store.create_tables()
    first = CheckpointRow(1, 2, 2, b"r" * 32, b"f" * 32, "2026-01-01T00:00:00.000000Z", "note")
    leaves = [LeafRow(0, 1, b"a" * 32), LeafRow(1, 2, b"b" * 32)]
    store.append(first, leaves)
    assert store.latest() == first
    assert store.checkpoints() == [first]
    assert store.leaves() == leaves
    assert store.leaves(limit=1) == leaves[:1]
    with pytest.raises(StaleSealError):
        store.append(first, [])
    with pytest.raises(StaleSealError):
        store.append(CheckpointRow(2, 3, 3, b"s" * 32, b"", "t", "n"), [LeafRow(1, 3, b"c" * 32)])
    assert store.checkpoints() == [first], "a refused seal leaves nothing behind"
