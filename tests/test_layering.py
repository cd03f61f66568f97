"""Layering: a pure domain, adapters at the edges, one composition root (ledger/bootstrap.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = [
    "errors",
    "vocabulary",
    "policy",
    "decision_state",
    "gate",
    "events",
    "artifacts",
    "validation",  # through _schemas, which reads schemas/ once: the source of truth
    "_plan",
    "_replay",
    "_batch",
    "_time",
]
IO_MODULES = {
    "sqlite3",
    "duckdb",
    "psycopg",
    "psycopg_pool",
    "pyarrow",
    "eventsourcing.sqlite",
    "eventsourcing.postgres",
    "ledger.application",
    "ledger.stores",
    "ledger.ingest",
    "ledger.bootstrap",
    "ledger._repository",
    "socket",
    "subprocess",
    "pathlib",
    "os",
}
#: What the read side may know of the write side: the pure domain, and the store's port.
PROJECTIONS_MAY_USE = {
    "ledger.trust",  # the pure Merkle tree and checkpoints: the read side checks what it projects
    "ledger.events",
    "ledger.vocabulary",
    "ledger.policy",
    "ledger.decision_state",
    "ledger.errors",
    "ledger.stores",
    "ledger._time",
}
#: Where the read side may be wired into the write side: the composition root and the CLI.
WIRING = {ROOT / "ledger" / "bootstrap.py", *(ROOT / "ledger" / "cli").glob("*.py")}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imports(path: Path) -> set[str]:
    """
    Every module ``path`` imports; ``from ledger import x`` counts as ``ledger.x``.
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in ("ledger", "projections"):
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return names


@pytest.mark.parametrize("module", DOMAIN)
def test_the_domain_does_no_io(module):
    """
    The aggregate, policy, fold and error taxonomy import no database, file or network adapter.
    """
    found = imports(ROOT / "ledger" / f"{module}.py")
    assert not {m for m in found if m in IO_MODULES or m.split(".")[0] in IO_MODULES}


def test_the_error_taxonomy_imports_nothing_from_ledger():
    """
    errors.py stands alone so that every layer can raise its errors.
    """
    assert not {m for m in imports(ROOT / "ledger" / "errors.py") if m.startswith("ledger")}


def test_only_the_composition_root_and_the_cli_wire_the_read_side_into_the_write_side():
    """
    ledger/ imports nothing from projections/ except bootstrap.py and the CLI's verbs.
    """
    for path in modules("ledger"):
        if path in WIRING:
            continue
        assert not {m for m in imports(path) if m.startswith("projections")}, path.name


def test_projections_depend_only_on_the_pure_write_side_and_the_store_port():
    """
    The read side sees events, vocabulary, policy and the decision fold; never the write
    side's application, and a store only through its port.
    """
    for path in modules("projections"):
        used = {m for m in imports(path) if m.startswith("ledger")}
        assert used <= PROJECTIONS_MAY_USE, (path.name, used - PROJECTIONS_MAY_USE)


def test_only_the_store_package_names_a_store():
    """
    A new store implements ledger.stores.EventStore in stores/: nothing else names one.
    """
    concrete = {"ledger.stores.sqlite", "ledger.stores.postgres", "sqlite3", "psycopg"}
    concrete |= {"eventsourcing.sqlite", "eventsourcing.postgres"}
    for path in [*modules("ledger"), *modules("projections")]:
        if path.parent.name == "stores":
            continue
        assert not imports(path) & concrete, path.relative_to(ROOT)


def test_only_the_composition_root_builds_the_ledger():
    """
    bootstrap() is where GovernanceLedger is constructed; entry points ask it for one.
    """
    for path in [*modules("ledger"), *modules("projections")]:
        if path.name in ("bootstrap.py", "application.py"):
            continue
        calls = [
            node
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "GovernanceLedger"
        ]
        assert not calls, path.relative_to(ROOT)


def test_only_the_config_reads_the_environment():
    """
    LedgerConfig.from_env is the only reader of os.environ in the library.
    """
    for path in [*modules("ledger"), *modules("projections")]:
        if path.name == "config.py":
            continue
        source = path.read_text()
        assert "os.environ" not in source, path.name
        assert "getenv" not in source, path.name


def test_the_servers_reach_the_domain_only_through_the_application_service():
    """
    Issue 12: ledger/serve/ (HTTP and MCP) are adapters: they use the GovernanceLedger that
    bootstrap gives them, never the aggregate, the judge, the fold or the read side directly.
    """
    inner = {"ledger.gate", "ledger._batch", "ledger._plan", "ledger.decision_state"}
    inner |= {"ledger._mapper", "ledger.events", "ledger.policy", "ledger.validation"}
    for path in modules("ledger/serve"):
        used = {m for m in imports(path) if m.startswith(("ledger", "projections"))}
        assert not used & inner, (path.name, used & inner)
        assert not {m for m in used if m.startswith("projections")}, path.name
