"""Shared fixtures: real stores only (SQLite files, DuckDB files, PostgreSQL)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from ledger.application import GovernanceLedger
from ledger.config import LedgerConfig

PG_HOST, PG_PORT, PG_DB = "127.0.0.1", 5432, "test"


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    """
    Skip with a reason when no server is reachable, unless CI demands PostgreSQL.
    """
    if _postgres_reachable():
        return
    if os.environ.get("GOVLEDGER_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"GOVLEDGER_REQUIRE_POSTGRES=1 but no PostgreSQL at {PG_HOST}:{PG_PORT}")
    pytest.skip(
        f"no PostgreSQL server at {PG_HOST}:{PG_PORT} "
        "(set GOVLEDGER_REQUIRE_POSTGRES=1 to fail instead)"
    )


def postgres_url(schema: str) -> str:
    """
    A URL for a fresh schema in the ``test`` database (trust auth).
    """
    user = os.environ.get("PGUSER", "postgres")
    return f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{PG_DB}?schema={schema}"


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        dbname=PG_DB,
        user=os.environ.get("PGUSER", "postgres"),
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_config(request: pytest.FixtureRequest, tmp_path) -> Iterator[LedgerConfig]:
    """
    A fresh, empty store of each kind: a SQLite file, and a PostgreSQL schema.
    """
    if request.param == "sqlite":
        yield LedgerConfig(store=str(tmp_path / "ledger.db"), projection=str(tmp_path / "p.duckdb"))
        return
    require_postgres()
    schema = f"gl_{uuid.uuid4().hex[:12]}"
    yield LedgerConfig(store=postgres_url(schema), projection=str(tmp_path / "p.duckdb"))
    _drop_schema(schema)


@pytest.fixture
def ledger(store_config: LedgerConfig) -> Iterator[GovernanceLedger]:
    """
    A ledger on each kind of store.
    """
    with GovernanceLedger(store_config) as app:
        yield app


@pytest.fixture
def sqlite_ledger(tmp_path) -> Iterator[GovernanceLedger]:
    """
    A ledger on a fresh SQLite file (for tests about the embedded default).
    """
    with GovernanceLedger(LedgerConfig(store=str(tmp_path / "ledger.db"))) as app:
        yield app


@pytest.fixture
def memory_ledger() -> Iterator[GovernanceLedger]:
    """
    An in-memory ledger, for fast rule tests.
    """
    with GovernanceLedger(LedgerConfig(store=":memory:")) as app:
        yield app


def new_id() -> str:
    return str(uuid.uuid4())
