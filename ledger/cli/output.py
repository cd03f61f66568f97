"""What the CLI prints: errors, notes to people, and tables in three formats."""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from ledger import _time
from ledger.errors import LedgerError

__all__ = ["FORMATS", "print_error", "render", "say", "write_atomically"]

FORMATS = ("table", "json", "csv")


def print_error(error: LedgerError) -> None:
    """
    One JSON line on stderr: ``{"error": {"code", "field", "rule", "message"}}``.
    """
    sys.stderr.write(orjson.dumps({"error": error.as_dict()}).decode() + "\n")


def say(text: str) -> None:
    """
    One line for people on stderr, prefixed ``govledger:``.
    """
    sys.stderr.write(f"govledger: {text}\n")


def _plain(value: Any) -> Any:
    """
    A JSON/CSV-friendly form of one DuckDB value.
    """
    if isinstance(value, datetime):
        return _time.display(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def render(columns: Sequence[str], result_rows: Sequence[Sequence[Any]], fmt: str) -> None:
    """
    Rows on stdout: aligned columns (``table``), a JSON array of objects, or CSV.
    """
    out = sys.stdout
    rows = [tuple(_plain(v) for v in row) for row in result_rows]
    if fmt == "json":
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        out.write(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([";".join(v) if isinstance(v, list) else v for v in row] for row in rows)
    else:
        out.write(_aligned(columns, rows))
    out.flush()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:,.0f}"  # noqa: PLR2004
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _aligned(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows) and bool(rows)
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    lines = [line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """
    Write ``path`` through a temporary file beside it: readers see the old file or the new.
    """
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).chmod(mode)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
