"""Read-side subcommands: project, audit, query, replay, export.

DuckDB allows one writing process or many readers, so each command opens the
projection file as late and closes it as early as it can; ``query`` opens it
read-only and never catches up.
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

from ledger.application import GovernanceLedger
from projections import _duckdb, queries, report, runner
from projections._errors import ProjectionError

if TYPE_CHECKING:
    from types import FrameType

    from ledger.config import LedgerConfig

__all__ = ["register"]

_FORMATS = ("table", "json", "csv")


def register(sub: Any) -> None:
    """
    Add the read-side subcommands to ``sub``.
    """
    p = sub.add_parser("project", help="catch the DuckDB projection up with the store")
    p.add_argument("--follow", action="store_true", help="keep catching up until Ctrl-C/SIGTERM")
    p.add_argument(
        "--interval", type=float, default=0.5, help="seconds between polls with --follow"
    )
    p.add_argument("--rebuild", action="store_true", help="drop the tables and replay everything")
    p.add_argument("--batch-size", type=_positive, default=runner.DEFAULT_BATCH)
    p.set_defaults(handler=_duckdb_errors(_project))

    p = sub.add_parser("audit", help="an audit report (catches up first)")
    p.add_argument(
        "report",
        choices=sorted(queries.REPORTS),
        metavar="REPORT",
        help="one of: " + ", ".join(sorted(queries.REPORTS)),
    )
    p.add_argument("argument", nargs="?", help="TARGET_REF for `audit target`")
    _format_option(p)
    p.add_argument(
        "--no-catch-up",
        action="store_true",
        help="report what the projection holds without reading the store",
    )
    p.set_defaults(handler=_duckdb_errors(_audit))

    p = sub.add_parser("query", help="read-only SQL over the projection")
    p.add_argument("sql")
    _format_option(p)
    p.set_defaults(handler=_duckdb_errors(_query))

    p = sub.add_parser("replay", help="build a projection as of a moment")
    p.add_argument(
        "--as-of",
        required=True,
        type=_moment,
        metavar="RFC3339",
        help="e.g. 2026-02-19T15:00:00Z (a time zone is required)",
    )
    p.add_argument("--to", required=True, metavar="FILE", help="DuckDB file to (re)build")
    p.add_argument("--batch-size", type=_positive, default=runner.DEFAULT_BATCH)
    p.set_defaults(handler=_duckdb_errors(_replay))

    p = sub.add_parser("export", help="write each projection table as Parquet")
    p.add_argument("--parquet", required=True, metavar="DIR")
    p.add_argument("--no-catch-up", action="store_true")
    p.set_defaults(handler=_duckdb_errors(_export))

    p = sub.add_parser(
        "report", help="the oversight report: one self-contained HTML file (catches up first)"
    )
    p.add_argument("--out", required=True, metavar="FILE", help="HTML file to write (replaced)")
    p.add_argument("--since", metavar="RFC3339", help="period start, inclusive (default: all)")
    p.add_argument("--until", metavar="RFC3339", help="period end, exclusive (default: all)")
    p.set_defaults(handler=_duckdb_errors(_report))


def _duckdb_errors(handler: Callable[[argparse.Namespace, LedgerConfig], int]) -> Any:
    """
    A DuckDB failure becomes a ledger error (one JSON line, an exit status), not a traceback.
    """

    @functools.wraps(handler)
    def run(args: argparse.Namespace, config: LedgerConfig) -> int:
        try:
            return handler(args, config)
        except duckdb.Error as exc:
            raise ProjectionError(
                f"the projection {config.projection} failed: {exc}. A file written by an "
                "older layout is rebuilt with `govledger project --rebuild`",
                rule="projection",
            ) from None

    return run


def _format_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=_FORMATS,
        default="table",
        help="table (aligned, default), json (array of row objects) or csv",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        msg = "must be at least 1"
        raise argparse.ArgumentTypeError(msg)
    return value


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.upper())  # 3.11 reads Z as UTC
    except ValueError:
        msg = f"not an RFC 3339 moment: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if moment.tzinfo is None:
        msg = f"{text!r} has no time zone (add Z or +hh:mm)"
        raise argparse.ArgumentTypeError(msg)
    return moment


def _say(text: str) -> None:
    sys.stderr.write(f"govledger: {text}\n")


# --- project ----------------------------------------------------------------------


class _StopFlag:
    """
    Set by SIGTERM/SIGINT; the follower finishes its committed batch and exits.
    """

    def __init__(self) -> None:
        self.stopped = False
        self.wakeups: runner.Wakeups | None = None

    def __call__(self) -> bool:
        return self.stopped

    def handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopped = True
        if self.wakeups is not None:
            self.wakeups.wake()


def _project(args: argparse.Namespace, config: LedgerConfig) -> int:
    with GovernanceLedger(config) as ledger:
        if args.follow:
            return _follow(args, config, ledger)
        con = _duckdb.connect(config.projection)
        try:
            if args.rebuild:
                done = runner.rebuild(ledger, con, batch_size=args.batch_size)
            else:
                done = runner.catch_up(ledger, con, batch_size=args.batch_size)
        finally:
            con.close()
    _say(
        f"project: applied {done.events} events (position {done.start} -> {done.end}) "
        f"to {config.projection}"
    )
    return 0


def _follow(args: argparse.Namespace, config: LedgerConfig, ledger: GovernanceLedger) -> int:
    flag = _StopFlag()
    previous = {s: signal.signal(s, flag.handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        con = _duckdb.connect(config.projection)
        try:
            if args.rebuild:
                _duckdb.drop_tables(con)
                _duckdb.create_tables(con)
            after = _duckdb.position(con)
        finally:
            con.close()
        wakeups = runner.Wakeups(ledger, after)
        flag.wakeups = wakeups
        how = "store pushes" if wakeups.pushed else f"polling every {args.interval}s"
        _say(f"project --follow: from position {after} into {config.projection} ({how})")

        def progress(done: runner.CatchUp) -> None:
            _say(f"project: applied {done.events} events (position {done.start} -> {done.end})")

        try:
            total = runner.follow(
                ledger,
                lambda: _duckdb.connect(config.projection),
                interval=args.interval,
                batch_size=args.batch_size,
                should_stop=flag,
                on_progress=progress,
                wakeups=wakeups,
            )
        finally:
            wakeups.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _say(f"project --follow: stopped; applied {total} events")
    return 0


# --- audit, query, export -----------------------------------------------------------


def _open_caught_up(config: LedgerConfig, *, catch_up: bool) -> Any:
    """
    The projection, caught up with the store first unless told not to or frozen (as-of).
    """
    if not catch_up:
        return _duckdb.connect(config.projection, read_only=True)
    con = _duckdb.connect(config.projection)
    try:
        frozen = _duckdb.cut(con)
        if frozen is not None:
            _say(
                f"{config.projection} is an as-of replay (cut at position {frozen[1]}, "
                f"{frozen[0]}); reporting it as it is"
            )
            return con
        with GovernanceLedger(config) as ledger:
            runner.catch_up(ledger, con)
    except BaseException:
        con.close()
        raise
    return con


def _audit(args: argparse.Namespace, config: LedgerConfig) -> int:
    report = queries.REPORTS[args.report]
    if report.argument is not None and args.argument is None:
        _say(f"audit {args.report} needs {report.argument}")
        return 2
    if report.argument is None and args.argument is not None:
        _say(f"audit {args.report} takes no argument")
        return 2
    con = _open_caught_up(config, catch_up=not args.no_catch_up)
    try:
        result = queries.run_report(con, args.report, args.argument)
    finally:
        con.close()
    _render(result, args.format)
    return 0


def _query(args: argparse.Namespace, config: LedgerConfig) -> int:
    con = _duckdb.connect(config.projection, read_only=True)
    try:
        result = queries.run_query(con, args.sql)
    finally:
        con.close()
    _render(result, args.format)
    return 0


def _export(args: argparse.Namespace, config: LedgerConfig) -> int:
    con = _open_caught_up(config, catch_up=not args.no_catch_up)
    try:
        counts = queries.export_parquet(con, args.parquet)
    finally:
        con.close()
    shown = ", ".join(f"{name} {n}" for name, n in counts.items())
    _say(f"export: wrote {len(counts)} Parquet files to {args.parquet} (rows: {shown})")
    return 0


def _replay(args: argparse.Namespace, config: LedgerConfig) -> int:
    if Path(args.to).resolve() == Path(config.projection).resolve():
        _say(
            f"replay: {args.to} is the live projection; an as-of replay is frozen at its "
            "cut, so write it to another file"
        )
        return 2
    with GovernanceLedger(config) as ledger:
        done = runner.replay_as_of(ledger, args.to, args.as_of, batch_size=args.batch_size)
        total = ledger.max_position()
    moment = done.as_of.astimezone(UTC).isoformat().replace("+00:00", "Z")
    sys.stdout.write(
        f"replay: as of {moment} the store had recorded {done.events} events "
        f"(cut at position {done.position} of {total}); projected them into {args.to}\n"
    )
    return 0


# --- report -----------------------------------------------------------------------


def _report(args: argparse.Namespace, config: LedgerConfig) -> int:
    # Moments are checked here, not by argparse, so a bad one is one line (exit 2).
    moments: dict[str, datetime | None] = {}
    for option in ("since", "until"):
        text = getattr(args, option)
        try:
            moments[option] = None if text is None else _moment(text)
        except argparse.ArgumentTypeError as exc:
            _say(f"report: --{option}: {exc}")
            return 2
    since, until = moments["since"], moments["until"]
    if since is not None and until is not None and since >= until:
        _say("report: --since must be before --until")
        return 2
    out = Path(args.out)
    if not out.parent.is_dir():
        _say(f"report: cannot write {out}: no directory {out.parent}")
        return 2
    con = _open_caught_up(config, catch_up=True)
    try:
        page = report.build_report(
            con,
            since=since,
            until=until,
            verification=_verification_state(config),
            cut=_duckdb.cut(con),
        )
    finally:
        con.close()
    try:
        _write_atomically(out, page)
    except OSError as exc:
        _say(f"report: cannot write {out}: {exc.strerror or exc}")
        return 1
    _say(f"report: wrote {out} ({len(page.encode()):,} bytes)")
    return 0


def _verification_state(config: LedgerConfig) -> report.VerificationState | None:
    """
    The store's latest signed checkpoint and size: the one place ``report`` reads the store.
    """
    # The checkpoint store is moving to another module: keep every use of it here.
    from ledger._checkpoint_store import CheckpointStore  # noqa: PLC0415

    with GovernanceLedger(config) as ledger:
        latest = CheckpointStore.of(ledger).latest()
        events = ledger.max_position()
    if latest is None:
        return None
    # A C2SP signed note's signature lines are "\u2014 <key name> <base64 signature>".
    signers = [
        line.split(" ")[1]
        for line in latest.note.splitlines()
        if line.startswith("\u2014 ") and len(line.split(" ")) == 3  # noqa: PLR2004
    ]
    return report.VerificationState(
        events=events,
        checkpoint_size=latest.tree_size,
        checkpoint_time=datetime.fromisoformat(latest.sealed_at.upper()),
        key_name=signers[0] if signers else "(unnamed)",
    )


def _write_atomically(path: Path, text: str) -> None:
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


# --- output -----------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """
    A JSON/CSV-friendly form of one DuckDB value.
    """
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _render(result: queries.Result, fmt: str) -> None:
    out = sys.stdout
    rows = [tuple(_plain(v) for v in row) for row in result.rows]
    if fmt == "json":
        records = [dict(zip(result.columns, row, strict=True)) for row in rows]
        out.write(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([";".join(v) if isinstance(v, list) else v for v in row] for row in rows)
    else:
        out.write(_aligned(result.columns, rows))
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
