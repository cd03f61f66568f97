"""How ``ingest`` and ``validate`` show their per-line results, and the summary.

For a pipeline (stdout not a terminal) nothing changes: one JSON line per input
line, in order, on stdout. For a person at a terminal the default is the refused
lines only, one readable line each, and a summary on stderr. ``--results
all|refused|none`` chooses which lines are shown, ``--format`` how.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ledger.application import ACCEPTED, DUPLICATE
from ledger.cli import output
from ledger.ingest import LineResult

__all__ = ["RESULTS", "ResultsView", "summary"]

#: ``--results``: which result lines are shown.
RESULTS: Final = ("all", "refused", "none")
_CSV_COLUMNS: Final = ("line", "event_id", "status", "code", "field", "message")


@dataclass(frozen=True, slots=True)
class ResultsView:
    """
    Which result lines to show (``all``, ``refused``, ``none``) and how (``table``:
    readable lines; ``json``: JSON Lines; ``csv``).
    """

    results: str
    format: str

    @classmethod
    def choose(cls, results: str | None, fmt: str | None, *, no_results: bool) -> ResultsView:
        """
        The defaults: JSON Lines of every line for a pipeline, the refused lines readable
        for a person (``fmt`` None: ``table`` when stdout is a terminal).
        """
        if fmt is None:
            fmt = "table" if output.current().stdout_tty else "json"
        if no_results:
            results = "none"
        if results is None:
            results = "refused" if fmt == "table" else "all"
        return cls(results, fmt)

    def show(self, results: Iterable[LineResult], counts: Counter[str]) -> Counter[str]:
        """
        Write the chosen lines while counting every outcome into ``counts`` (and codes as
        ``code:<code>``); returns ``counts``.
        """
        if self.format == "json" and self.results == "all":
            # The pipeline's path, unchanged and fast: bytes straight to stdout.
            out = sys.stdout.buffer
            for result in results:
                _count(counts, result)
                out.write(result.to_json() + b"\n")
            out.flush()
            return counts
        writer = csv.writer(sys.stdout, lineterminator="\n") if self.format == "csv" else None
        if writer is not None and self.results != "none":
            writer.writerow(_CSV_COLUMNS)
        for result in results:
            refused = _count(counts, result)
            if self.results == "none" or (self.results == "refused" and not refused):
                continue
            if writer is not None:
                writer.writerow(
                    ["" if v is None else v for v in (getattr(result, c) for c in _CSV_COLUMNS)]
                )
            elif self.format == "json":
                output.line(result.to_json().decode(), sys.stdout)
            else:
                output.line(readable(result), sys.stdout)
        sys.stdout.flush()
        return counts


def _count(counts: Counter[str], result: LineResult) -> bool:
    """
    Count ``result``; whether it was refused (rejected, not a duplicate).
    """
    counts[result.status] += 1
    if result.status in (ACCEPTED, DUPLICATE):
        return False
    counts[f"code:{result.code}"] += 1
    return True


def readable(result: LineResult) -> str:
    """
    One result line for a person: ``line 3: rejected invalid_schema (confidence): ...``.
    """
    head = f"line {result.line}: {result.status}"
    if result.status in (ACCEPTED, DUPLICATE):
        return f"{head} {output.escape(result.event_id or '')}".rstrip()
    field = f" ({output.escape(result.field)})" if result.field else ""
    message = output.escape(" ".join((result.message or "").split()))
    return f"{head} {result.code}{field}: {message}"


def summary(verb: str, counts: Counter[str], elapsed: float | None = None) -> str:
    """
    ``N lines, A accepted, D duplicate, R rejected (code=n, ...)[, rate events/s]``.
    """
    total = counts[ACCEPTED] + counts[DUPLICATE] + counts["rejected"]
    codes = ", ".join(
        f"{key.removeprefix('code:')}={n}"
        for key, n in sorted(counts.items())
        if key.startswith("code:")
    )
    text = (
        f"govledger {verb}: {total} lines, {counts[ACCEPTED]} accepted, "
        f"{counts[DUPLICATE]} duplicate, {counts['rejected']} rejected"
        f"{' (' + codes + ')' if codes else ''}"
    )
    if elapsed is not None:
        text += f", {total / max(elapsed, 1e-9):,.0f} events/s"
    return text
