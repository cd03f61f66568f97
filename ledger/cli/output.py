"""What the CLI prints: errors, notes to people, and tables in three formats.

Programs and people read the same commands. ``Console`` says which is at the other end
(the terminal seam: ``ledger.cli.main(terminal=...)``, else ``isatty``) and how much to
say; ``say`` prints a note above any progress bar and stays silent under ``--quiet``;
``print_error`` prints one JSON line for programs, or one readable line (what, which
input, what to do) for a person at a terminal.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import os
import re
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import orjson

from ledger import _time
from ledger.errors import LedgerError, OutputUnavailableError

__all__ = [
    "FORMATS",
    "Console",
    "current",
    "escape",
    "format_duration",
    "print_error",
    "readable",
    "render",
    "replace_directory",
    "say",
    "using",
    "write_atomically",
]

FORMATS = ("table", "json", "csv")


@dataclass(frozen=True, slots=True)
class Console:
    """
    Who reads this run's output, and how much to tell them.
    """

    #: stdout is a terminal: a person reads the results (readable lines, not JSON Lines).
    stdout_tty: bool = False
    #: stderr is a terminal: a progress bar can be drawn there.
    stderr_tty: bool = False
    #: ``--quiet``: no progress, notes or warnings (errors and final statuses still print).
    quiet: bool = False
    #: ``--format`` as given (None: the verb's default).
    format: str | None = None
    #: The command being run (``audit summary``), for messages.
    verb: str = ""

    @property
    def people(self) -> bool:
        """
        A person is at a terminal on both streams: readable output and readable errors.
        """
        return self.stdout_tty and self.stderr_tty

    @property
    def json_errors(self) -> bool:
        """
        Errors as one JSON line: stdout or stderr is not a terminal, or ``--format json``.
        """
        return not self.people or self.format == "json"


_console = Console()
#: Set while a progress bar is drawn: writes a line above it (``tqdm.write``).
_above_bar: Callable[[str, Any], None] | None = None


def current() -> Console:
    """
    The console of the command being run.
    """
    return _console


@contextlib.contextmanager
def using(console: Console) -> Iterator[Console]:
    """
    Make ``console`` the current one for a block (``main`` sets one per command).
    """
    global _console  # noqa: PLW0603 - one command runs at a time in a process
    before, _console = _console, console
    try:
        yield console
    finally:
        _console = before


@contextlib.contextmanager
def above(write: Callable[[str, Any], None]) -> Iterator[None]:
    """
    While a progress bar is drawn, lines for people go through ``write`` (above the bar).
    """
    global _above_bar  # noqa: PLW0603 - one bar at a time
    before, _above_bar = _above_bar, write
    try:
        yield
    finally:
        _above_bar = before


def line(text: str, stream: Any = None) -> None:
    """
    One line on ``stream`` (default stderr), above a progress bar if one is drawn.
    """
    stream = sys.stderr if stream is None else stream
    if _above_bar is not None:
        _above_bar(text, stream)
    else:
        stream.write(text + "\n")


def say(text: str, *, always: bool = False, prefix: str = "govledger: ") -> None:
    """
    One line for people on stderr, prefixed ``govledger:``; silent under ``--quiet``
    unless ``always`` (a failure explained, an interruption: never silenced).
    """
    if _console.quiet and not always:
        return
    line(f"{prefix}{text}")


#: What to do next, by error code, when the message does not already say.
_NEXT: Final = {
    "store_unavailable": "check --store (or GOVLEDGER_STORE); only ingest, demo and keygen "
    "create a store",
    "projection_unavailable": "another govledger may hold the file: try again, or give "
    "another --projection",
    "projection_error": "govledger project --rebuild rebuilds it from the store",
    "configuration_error": "see {verb} --help",
    "input_unavailable": "check the file's name and permissions",
    "output_unavailable": "choose another output path",
    "key_unusable": "govledger keygen writes a key; --key names your copy of the public key",
    "checkpoint_invalid": "govledger verify --key YOUR_COPY.pub checks the store",
    "no_checkpoint": "govledger seal signs one",
    "tamper_detected": "keep this store as it is and run govledger verify --key YOUR_COPY.pub",
    "sql_error": "govledger query runs one SELECT over the projection's tables",
    "read_only_query": "govledger query reads the projection's tables only",
    "seal_failed": "run govledger verify, then govledger seal again",
    "seal_collision": "run govledger seal again",
}


def _readable(error: LedgerError, verb: str) -> str:
    """
    The error as one line for a person: what, which input (the message names it), what to do.
    """
    where = f" {verb}" if verb else ""
    text = escape(" ".join(error.message.split()))
    for said in (f"{verb}: ", f"{verb.rpartition(' ')[2]}: "):
        if verb and text.startswith(said):  # "govledger demo: demo: ..." says it once
            text = text.removeprefix(said)
            break
    field = f", {error.field}" if error.field and error.field not in text else ""
    hint = _NEXT.get(error.code, "")
    if hint and "govledger " in text and error.code != "configuration_error":
        hint = ""  # the message already says what to run
    if "--help" in text:
        hint = ""
    hint = hint.format(verb=f"govledger{where}")
    return f"govledger{where}: {text} [{error.code}{field}]" + (f"; {hint}" if hint else "")


def print_error(error: LedgerError) -> None:
    """
    The error on stderr: one JSON line ``{"error": {"code", "field", "rule", "message"}}``
    for programs (``Console.json_errors``), else one readable line for a person.

    An error with a ``detail`` for people (a SQL mistake's caret) also prints it, as
    plain lines, when stderr is a terminal: the JSON line stays the only one for programs.
    """
    if _console.json_errors:
        line(orjson.dumps({"error": error.as_dict()}).decode())
    else:
        line(_readable(error, _console.verb))
    detail = getattr(error, "detail", "")
    if detail and (_console.stderr_tty or sys.stderr.isatty()):
        for text in detail.splitlines():
            line(f"govledger: {escape(text)}")


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


#: Integer columns that are identifiers or places, not amounts: shown without separators.
_PLACES: Final = re.compile(r"(^|_)(position|line|seq|notification_id|id)$")


def format_duration(seconds: float | None) -> str:
    """
    A duration for reading: ``5d 20h``, ``3h 12m``, ``4m 10s`` (``ledger._time.duration``).
    """
    return "" if seconds is None else _time.duration(seconds)


def readable(column: str, value: Any) -> str:  # noqa: PLR0911 - one return per kind
    """
    One table cell for people: durations (``*_seconds``) as ``5d 20h``, rates and shares
    as percentages, amounts with thousands separators; ids and positions as they are.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if column.endswith("_seconds") and isinstance(value, int | float):
        return format_duration(value)
    if isinstance(value, float) and column.endswith(("_rate", "share")):
        return f"{100 * value:.1f}%"
    if isinstance(value, int) and not _PLACES.search(column):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:,.0f}"  # noqa: PLR2004
    if isinstance(value, list):
        return escape(",".join(str(v) for v in value))
    return escape(str(value))


def _header(column: str) -> str:
    # A duration column reads as what it measures: waited_seconds -> waited.
    return escape(column.removesuffix("_seconds"))


def _aligned(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[readable(c, v) for c, v in zip(columns, row, strict=True)] for row in rows]
    columns = [_header(c) for c in columns]
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


def output_path(verb: str, value: str) -> Path:
    """
    The ``--out`` file of ``verb``, refused before any work if its directory does not exist.
    """
    out = Path(value)
    if not out.parent.is_dir():
        msg = f"{verb}: cannot write {out}: no directory {out.parent}"
        raise OutputUnavailableError(msg, field="out", rule="directory")
    return out


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
