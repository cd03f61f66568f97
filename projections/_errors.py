"""The read side's errors, in the ledger's taxonomy (a code, a builtin kind)."""

from __future__ import annotations

from ledger.errors import LedgerError, StoreError

__all__ = ["ProjectionBusyError", "ProjectionError", "QuerySqlError", "ReadOnlyQueryError"]


class ProjectionError(LedgerError, RuntimeError):
    """
    The projection cannot do what was asked (for example, catch up a frozen as-of file).
    """

    code = "projection_error"
    meaning = "the projection file cannot be used this way (frozen as-of replay, foreign file)"


class ProjectionBusyError(StoreError):
    """
    The projection file is missing, locked by another process, or unreadable.
    """

    code = "projection_unavailable"
    meaning = "the DuckDB projection file is missing, locked by another writer, or unreadable"


class ReadOnlyQueryError(LedgerError, PermissionError):
    """
    ``govledger query`` was given a statement that is not a read, or that reaches outside.
    """

    code = "read_only_query"
    meaning = (
        "govledger query runs only SELECT-like statements over the projection; files, the "
        "network and extensions are out of its reach"
    )


class QuerySqlError(LedgerError, ValueError):
    """
    ``govledger query`` was given SQL that does not parse or does not run (a SQL mistake).
    """

    code = "sql_error"
    meaning = (
        "govledger query's SQL does not parse or names something that does not exist; the "
        "message shows where"
    )

    def __init__(self, message: str, *, detail: str = "", **kwargs: str | None) -> None:
        super().__init__(message, **kwargs)
        #: DuckDB's own lines (the statement and a caret under the position), for people.
        self.detail = detail
