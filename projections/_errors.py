"""The read side's errors, in the ledger's taxonomy (a code, a builtin kind)."""

from __future__ import annotations

from ledger.errors import LedgerError, StoreError

__all__ = ["ProjectionBusyError", "ProjectionError", "ReadOnlyQueryError"]


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


class ReadOnlyQueryError(LedgerError, ValueError):
    """
    ``govledger query`` was given a statement that is not a read.
    """

    code = "read_only_query"
    meaning = "govledger query runs only SELECT-like statements over the projection"
