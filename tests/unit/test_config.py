"""LedgerConfig is a frozen value: equal settings are equal configurations."""

from __future__ import annotations

from ledger import stores
from ledger.config import LedgerConfig


def test_equal_settings_make_equal_configurations():
    """
    A configuration names a store; two built from the same settings are the same value.
    """
    assert LedgerConfig(store="x.db") == LedgerConfig(store="x.db")
    assert hash(LedgerConfig(store="x.db")) == hash(LedgerConfig(store="x.db"))
    assert LedgerConfig(store="x.db") != LedgerConfig(store="y.db")


def test_each_in_memory_ledger_gets_a_database_of_its_own():
    """
    ``:memory:`` is private to the ledger opened on it, so two never share rows by accident.
    """
    config = LedgerConfig(store=":memory:")
    first, second = stores.environment(config), stores.environment(config)
    assert first["SQLITE_DBNAME"] != second["SQLITE_DBNAME"]
