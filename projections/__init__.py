"""govledger's read side: DuckDB projections of decisions, signatures, interventions and halts.

``open_projection`` opens the projection file; ``catch_up``, ``rebuild``,
``replay_as_of`` and ``follow`` move it along the store (exactly once: rows and
the position they reach commit together); ``REPORTS``, ``run_report``,
``run_query`` and ``export_parquet`` read it, and ``build_report`` writes the HTML
oversight report from it. ``TABLES`` declares every table.
"""

from projections._duckdb import connect as open_projection
from projections._duckdb import create_tables, cut, drop_tables, position, table_checksums
from projections._errors import (
    ProjectionBusyError,
    ProjectionError,
    QuerySqlError,
    ReadOnlyQueryError,
)
from projections._tables import TABLES, Column, Table
from projections.queries import (
    REPORTS,
    Report,
    Result,
    decisions_by_status,
    export_parquet,
    run_query,
    run_report,
)
from projections.report import VerificationState, build_report
from projections.runner import (
    DEFAULT_BATCH,
    CatchUp,
    NotificationLog,
    Replay,
    Wakeups,
    catch_up,
    follow,
    rebuild,
    replay_as_of,
)

__all__ = [
    "DEFAULT_BATCH",
    "REPORTS",
    "TABLES",
    "CatchUp",
    "Column",
    "NotificationLog",
    "ProjectionBusyError",
    "ProjectionError",
    "QuerySqlError",
    "ReadOnlyQueryError",
    "Replay",
    "Report",
    "Result",
    "Table",
    "VerificationState",
    "Wakeups",
    "build_report",
    "catch_up",
    "create_tables",
    "cut",
    "decisions_by_status",
    "drop_tables",
    "export_parquet",
    "follow",
    "open_projection",
    "position",
    "rebuild",
    "replay_as_of",
    "run_query",
    "run_report",
    "table_checksums",
]
