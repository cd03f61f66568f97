"""Deterministic replay: however the projector is stepped, it ends with the same rows."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import GovernanceLedger
from ledger.config import LedgerConfig
from projections import _duckdb, runner
from tests.strategies import projection_workload


@pytest.fixture(scope="module")
def workload_store(tmp_path_factory):
    """
    A SQLite store holding a generated workload, and the checksums of a rebuild from scratch.
    """
    root = tmp_path_factory.mktemp("determinism")
    with GovernanceLedger(LedgerConfig(store=str(root / "ledger.db"))) as app:
        results = app.append(projection_workload(60, seed=2))
        assert {r.status for r in results} == {"accepted"}
        con = _duckdb.connect(root / "rebuilt.duckdb")
        runner.rebuild(app, con)
        expected = _duckdb.table_checksums(con)
        con.close()
        yield app, expected


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(st.integers(1, 80), st.integers(3, 60), st.booleans()), min_size=1, max_size=12
    )
)
def test_catching_up_in_any_steps_equals_rebuilding_from_scratch(workload_store, steps):
    """
    Rebuilding from an empty DuckDB file and catching up in arbitrary steps (arbitrary
    stop positions and batch sizes, the file closed and reopened in between) give the
    same rows in every table (order-independent checksum per table).
    """
    app, expected = workload_store
    head = app.max_position()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stepped.duckdb"
        con = _duckdb.connect(path)
        try:
            for advance, batch_size, reopen in steps:
                runner.catch_up(
                    app, con, batch_size=batch_size, stop=min(head, _duckdb.position(con) + advance)
                )
                if reopen:
                    con.close()
                    con = _duckdb.connect(path)
            runner.catch_up(app, con, batch_size=steps[-1][1])
            assert _duckdb.position(con) == head
            assert _duckdb.table_checksums(con) == expected
        finally:
            con.close()
