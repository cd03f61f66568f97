"""Layering: a pure domain, adapters at the edges, one composition root (ledger/cli.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = ["errors", "vocabulary", "policy", "gate", "events", "artifacts", "validation", "_schemas"]
IO_MODULES = {
    "sqlite3",
    "duckdb",
    "psycopg",
    "psycopg_pool",
    "pyarrow",
    "eventsourcing.sqlite",
    "eventsourcing.postgres",
    "ledger.application",
    "ledger._store",
    "ledger._pgstore",
    "ledger.ingest",
    "socket",
    "subprocess",
}
PROJECTIONS_MAY_USE = {
    "ledger.events",
    "ledger.vocabulary",
    "ledger.policy",
    "ledger.gate",
    "ledger.errors",
}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", DOMAIN)
def test_the_domain_does_no_io(module):
    """
    The aggregate, policy table and error taxonomy import no database, file or network adapter.
    """
    found = imports(ROOT / "ledger" / f"{module}.py")
    assert not {m for m in found if m in IO_MODULES or m.split(".")[0] in IO_MODULES}


def test_the_error_taxonomy_imports_nothing_from_ledger():
    """
    errors.py stands alone so that every layer can raise its errors.
    """
    assert not {m for m in imports(ROOT / "ledger" / "errors.py") if m.startswith("ledger")}


def test_only_the_cli_wires_the_read_side_into_the_write_side():
    """
    ledger/ imports nothing from projections/ except the composition root, cli.py.
    """
    for path in (ROOT / "ledger").glob("*.py"):
        if path.name == "cli.py":
            continue
        assert not {m for m in imports(path) if m.startswith("projections")}, path.name


def test_projections_depend_only_on_the_pure_write_side_modules():
    """
    The read side sees events and vocabulary, never the write side's application or store.
    """
    for path in (ROOT / "projections").glob("*.py"):
        if path.name == "cli.py":  # the read side's own entry point is wired by ledger/cli.py
            continue
        used = {m for m in imports(path) if m.startswith("ledger")}
        assert used <= PROJECTIONS_MAY_USE, (path.name, used - PROJECTIONS_MAY_USE)


def test_only_the_config_reads_the_environment():
    """
    LedgerConfig.from_env is the only reader of os.environ in the library.
    """
    for path in [*(ROOT / "ledger").glob("*.py"), *(ROOT / "projections").glob("*.py")]:
        if path.name == "config.py":
            continue
        source = path.read_text()
        assert "os.environ" not in source, path.name
        assert "getenv" not in source, path.name
