"""What the CLI prints: errors, notes to people, and tables in three formats."""

from __future__ import annotations

import contextlib
import csv
import ctypes
import os
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Collection, Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import orjson

from ledger import _time
from ledger.errors import LedgerError, OutputUnavailableError

__all__ = [
    "FORMATS",
    "escape",
    "print_error",
    "render",
    "replace_directory",
    "say",
    "write_atomically",
]

FORMATS = ("table", "json", "csv")


def print_error(error: LedgerError) -> None:
    """
    One JSON line on stderr: ``{"error": {"code", "field", "rule", "message"}}``.

    An error with a ``detail`` for people (a SQL mistake's caret) also prints it, as
    plain lines, when stderr is a terminal: the JSON line stays the only one for programs.
    """
    sys.stderr.write(orjson.dumps({"error": error.as_dict()}).decode() + "\n")
    detail = getattr(error, "detail", "")
    if detail and sys.stderr.isatty():
        sys.stderr.write("".join(f"govledger: {escape(line)}\n" for line in detail.splitlines()))


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


#: Categories shown escaped in tables: control characters, and format characters (the
#: bidirectional overrides and isolates among them), which could fake a row on screen.
_HIDDEN: Final = frozenset({"Cc", "Cf", "Zl", "Zp"})


def escape(text: str) -> str:
    """
    ``text`` with control, format and bidi characters as ``\\uXXXX`` (and ``\\`` doubled).
    """
    if text.isprintable() and "\\" not in text:
        return text
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif unicodedata.category(ch) in _HIDDEN:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")  # noqa: PLR2004
        else:
            out.append(ch)
    return "".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:,.0f}"  # noqa: PLR2004
    if isinstance(value, list):
        return escape(",".join(str(v) for v in value))
    return escape(str(value))


def _aligned(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    columns = [escape(c) for c in columns]
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


@contextlib.contextmanager
def replace_directory(target: Path, *, ours: Collection[str], overwrite: bool) -> Iterator[Path]:
    """
    Build a directory in a temporary one beside ``target``, then put it in place whole.

    Readers, and a crash at any point, see the old directory or the new one. A
    ``target`` that is a file, or a directory holding files not named in ``ours``, is
    refused and left unchanged unless ``overwrite`` (a file is refused always).
    """
    if target.exists() and not target.is_dir():
        msg = f"{target} exists and is not a directory; it was left unchanged"
        raise OutputUnavailableError(msg, field="directory", rule="exists")
    if target.is_dir() and not overwrite:
        foreign = sorted(p.name for p in target.iterdir() if p.name not in ours)
        if foreign:
            shown = ", ".join(escape(name) for name in foreign[:3])
            msg = (
                f"{target} holds files an export did not write ({shown}"
                f"{', ...' if len(foreign) > 3 else ''}); it was left unchanged (--overwrite "  # noqa: PLR2004
                "replaces it as a whole)"
            )
            raise OutputUnavailableError(msg, field="directory", rule="foreign")
    parent = target.absolute().parent
    try:
        building = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        msg = f"cannot write {target}: {exc.strerror or exc}"
        raise OutputUnavailableError(msg, field="directory", rule="writable") from None
    try:
        yield building
        for path in building.iterdir():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        building.chmod(0o755)
        if target.is_dir():
            _exchange(building, target)  # building now holds the old export
        else:
            building.rename(target)
    finally:
        shutil.rmtree(building, ignore_errors=True)


_RENAME_EXCHANGE: Final = 2
_AT_FDCWD: Final = -100


def _exchange(a: Path, b: Path) -> None:
    """
    Swap two directories in one step (Linux ``renameat2``); two renames where it is missing.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
        if done == 0:
            return
    # Not atomic: between the two renames neither is in place (only on other systems).
    aside = a.with_name(a.name + ".old")
    b.rename(aside)
    a.rename(b)
    aside.rename(a)
