"""Read-side verbs: project, audit, query, replay, export.

DuckDB allows one writing process or many readers, so each command opens the
projection file as late and closes it as early as it can. A command that
catches up does so on a writable connection bound to the store, then reads
through a read-only, sandboxed one: an auditor's SQL reaches nothing but the
projection. None of them creates a store.
"""

from __future__ import annotations

import argparse
import functools
import re
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import duckdb

import projections
from ledger import _time
from ledger.application import GovernanceLedger
from ledger.bootstrap import Runtime
from ledger.cli.output import FORMATS, render, replace_directory, say, write_atomically
from ledger.trust import CheckpointStore
from projections import ProjectionBusyError, ProjectionError, report

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["register"]


def register(sub: Any) -> None:
    """
    Add the read-side subcommands to ``sub``.
    """
    p = sub.add_parser("project", help="catch the DuckDB projection up with the store")
    p.add_argument("--follow", action="store_true", help="keep catching up until Ctrl-C/SIGTERM")
    p.add_argument(
        "--interval", type=float, default=0.5, help="seconds between polls with --follow"
    )
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="drop the tables and replay everything (also rebinds a govledger projection "
        "built from another store)",
    )
    p.add_argument("--batch-size", type=_positive, default=projections.DEFAULT_BATCH)
    p.set_defaults(handler=_duckdb_errors(_project))

    p = sub.add_parser("audit", help="an audit report (catches up first)")
    p.add_argument(
        "report",
        choices=sorted(projections.REPORTS),
        metavar="REPORT",
        help="one of: " + ", ".join(sorted(projections.REPORTS)),
    )
    p.add_argument("argument", nargs="?", help="TARGET_REF for `audit target`")
    _format_option(p)
    p.add_argument(
        "--no-catch-up",
        action="store_true",
        help="report what the projection holds without reading the store",
    )
    p.set_defaults(handler=_duckdb_errors(_audit))

    p = sub.add_parser("query", help="read-only SQL over the projection (catches up first)")
    p.add_argument("sql")
    _format_option(p)
    p.add_argument(
        "--no-catch-up",
        action="store_true",
        help="query what the projection holds without reading the store",
    )
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
    p.add_argument("--batch-size", type=_positive, default=projections.DEFAULT_BATCH)
    p.set_defaults(handler=_duckdb_errors(_replay))

    p = sub.add_parser(
        "report", help="the oversight report: one self-contained HTML file (catches up first)"
    )
    p.add_argument("--out", required=True, metavar="FILE", help="HTML file to write (replaced)")
    p.add_argument("--since", metavar="RFC3339", help="period start, inclusive (default: all)")
    p.add_argument("--until", metavar="RFC3339", help="period end, exclusive (default: all)")
    p.set_defaults(handler=_duckdb_errors(_report))

    p = sub.add_parser("export", help="write each projection table as Parquet")
    p.add_argument(
        "--parquet",
        required=True,
        metavar="DIR",
        help="directory to write (replaced as a whole, atomically)",
    )
    p.add_argument("--no-catch-up", action="store_true")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace DIR even if it holds files an export did not write",
    )
    p.set_defaults(handler=_duckdb_errors(_export))


def _duckdb_errors(handler: Callable[[argparse.Namespace, Runtime], int]) -> Any:
    """
    A DuckDB failure becomes a ledger error (one JSON line, an exit status), not a traceback.
    """

    @functools.wraps(handler)
    def run(args: argparse.Namespace, runtime: Runtime) -> int:
        try:
            return handler(args, runtime)
        except duckdb.Error as exc:
            if not isinstance(exc, duckdb.IOException) and not _UNWRITABLE.search(str(exc)):
                raise ProjectionError(
                    f"the projection {runtime.config.projection} failed: {_one_line(str(exc))}",
                    rule="projection",
                ) from None
            # A full disk, a vanished file: nothing of the failed batch was committed.
            raise ProjectionBusyError(
                f"the projection {runtime.config.projection} could not be written or read: "
                f"{_one_line(str(exc))}; nothing of the failed batch was committed",
                rule="projection",
            ) from None

    return run


#: DuckDB errors that are the file system's, whatever exception class carries them.
_UNWRITABLE: Final = re.compile(
    r"Could not (write|read|open|truncate)|No space left|File too large|Disk quota", re.IGNORECASE
)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _format_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=FORMATS,
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
    try:
        moment.astimezone(UTC)
    except OverflowError:
        msg = f"{text!r} is out of range in UTC"
        raise argparse.ArgumentTypeError(msg) from None
    return moment


# --- project ----------------------------------------------------------------------


class _StopFlag:
    """
    Set by SIGTERM/SIGINT; the follower finishes its committed batch and exits.
    """

    def __init__(self) -> None:
        self.stopped = False
        self.wakeups: projections.Wakeups | None = None

    def __call__(self) -> bool:
        return self.stopped

    def handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopped = True
        if self.wakeups is not None:
            self.wakeups.wake()


def _project(args: argparse.Namespace, runtime: Runtime) -> int:
    key = runtime.checking_key()
    label = runtime.config.store_label
    with runtime.ledger(create=False) as ledger:
        if args.follow:
            return _follow(args, runtime, ledger)
        con = runtime.projection(store=ledger.store.meta, rebuild=args.rebuild)
        try:
            if args.rebuild:
                done = projections.rebuild(
                    ledger, con, batch_size=args.batch_size, key=key, label=label
                )
            else:
                done = projections.catch_up(
                    ledger, con, batch_size=args.batch_size, key=key, label=label
                )
        finally:
            con.close()
    say(
        f"project: applied {done.events} events (position {done.start} -> {done.end}) "
        f"to {runtime.config.projection}"
    )
    return 0


def _follow(args: argparse.Namespace, runtime: Runtime, ledger: GovernanceLedger) -> int:
    flag = _StopFlag()
    previous = {s: signal.signal(s, flag.handle) for s in (signal.SIGTERM, signal.SIGINT)}
    where = runtime.config.projection
    store = ledger.store.meta
    try:
        con = runtime.projection(store=store, rebuild=args.rebuild)
        try:
            if args.rebuild:
                projections.drop_tables(con)
                projections.create_tables(con, store)
            after = projections.position(con)
        finally:
            con.close()
        wakeups = projections.Wakeups(ledger, after)
        flag.wakeups = wakeups
        how = "store pushes" if wakeups.pushed else f"polling every {args.interval}s"
        say(f"project --follow: from position {after} into {where} ({how})")

        def progress(done: projections.CatchUp) -> None:
            say(f"project: applied {done.events} events (position {done.start} -> {done.end})")

        try:
            total = projections.follow(
                ledger,
                functools.partial(runtime.projection, store=store),
                interval=args.interval,
                batch_size=args.batch_size,
                should_stop=flag,
                on_progress=progress,
                wakeups=wakeups,
                key=runtime.checking_key(),
                label=runtime.config.store_label,
            )
        finally:
            wakeups.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say(f"project --follow: stopped; applied {total} events")
    return 0


# --- audit, query, export -----------------------------------------------------------


def _open_caught_up(
    runtime: Runtime, *, catch_up: bool, allow: tuple[Path, ...] = ()
) -> duckdb.DuckDBPyConnection:
    """
    The projection, read-only and sandboxed, caught up with the store first unless told
    not to or frozen (as-of). Without catching up the store is not read at all.
    """
    if not catch_up:
        return runtime.projection(read_only=True, allow=allow)
    key = runtime.checking_key()
    with runtime.ledger(create=False) as ledger:
        store = ledger.store.meta
        con = runtime.projection(store=store)
        try:
            frozen = projections.cut(con)
            if frozen is not None:
                say(
                    f"{runtime.config.projection} is an as-of replay (cut at position "
                    f"{frozen[1]}, {frozen[0]}); reporting it as it is"
                )
            else:
                projections.catch_up(ledger, con, key=key, label=runtime.config.store_label)
        finally:
            con.close()
    return runtime.projection(read_only=True, store=store, allow=allow)


def _audit(args: argparse.Namespace, runtime: Runtime) -> int:
    report = projections.REPORTS[args.report]
    if report.argument is not None and args.argument is None:
        say(f"audit {args.report} needs {report.argument}")
        return 2
    if report.argument is None and args.argument is not None:
        say(f"audit {args.report} takes no argument")
        return 2
    con = _open_caught_up(runtime, catch_up=not args.no_catch_up)
    try:
        result = projections.run_report(con, args.report, args.argument)
    finally:
        con.close()
    render(result.columns, result.rows, args.format)
    return 0


def _query(args: argparse.Namespace, runtime: Runtime) -> int:
    con = _open_caught_up(runtime, catch_up=not args.no_catch_up)
    try:
        result = projections.run_query(con, args.sql)
    finally:
        con.close()
    render(result.columns, result.rows, args.format)
    return 0


def _export(args: argparse.Namespace, runtime: Runtime) -> int:
    names = {f"{name}.parquet" for name in projections.TABLES}
    with replace_directory(Path(args.parquet), ours=names, overwrite=args.overwrite) as building:
        con = _open_caught_up(runtime, catch_up=not args.no_catch_up, allow=(building,))
        try:
            counts = projections.export_parquet(con, building)
        finally:
            con.close()
    shown = ", ".join(f"{name} {n}" for name, n in counts.items())
    say(f"export: wrote {len(counts)} Parquet files to {args.parquet} (rows: {shown})")
    return 0


def _replay(args: argparse.Namespace, runtime: Runtime) -> int:
    if Path(args.to).resolve() == Path(runtime.config.projection).resolve():
        say(
            f"replay: {args.to} is the live projection; an as-of replay is frozen at its "
            "cut, so write it to another file"
        )
        return 2
    key = runtime.checking_key()
    with runtime.ledger(create=False) as ledger:
        done = projections.replay_as_of(
            ledger,
            args.to,
            args.as_of,
            batch_size=args.batch_size,
            key=key,
            label=runtime.config.store_label,
        )
        total = ledger.max_position()
    sys.stdout.write(
        f"replay: as of {_time.display(done.as_of)} the store had recorded {done.events} events "
        f"(cut at position {done.position} of {total}); projected them into {args.to}\n"
    )
    return 0


# --- report -----------------------------------------------------------------------


def _report(args: argparse.Namespace, runtime: Runtime) -> int:
    # Moments are checked here, not by argparse, so a bad one is one line (exit 2).
    moments: dict[str, datetime | None] = {}
    for option in ("since", "until"):
        text = getattr(args, option)
        try:
            moments[option] = None if text is None else _moment(text)
        except argparse.ArgumentTypeError as exc:
            say(f"report: --{option}: {exc}")
            return 2
    since, until = moments["since"], moments["until"]
    if since is not None and until is not None and since >= until:
        say("report: --since must be before --until")
        return 2
    out = Path(args.out)
    if not out.parent.is_dir():
        say(f"report: cannot write {out}: no directory {out.parent}")
        return 2
    con = _open_caught_up(runtime, catch_up=True)
    try:
        page = report.build_report(
            con,
            since=since,
            until=until,
            verification=_verification_state(runtime),
            cut=projections.cut(con),
        )
    finally:
        con.close()
    try:
        write_atomically(out, page)
    except OSError as exc:
        say(f"report: cannot write {out}: {exc.strerror or exc}")
        return 1
    say(f"report: wrote {out} ({len(page.encode()):,} bytes)")
    return 0


def _verification_state(runtime: Runtime) -> report.VerificationState | None:
    """
    The store's latest signed checkpoint and size: the one place ``report`` reads the store.
    """
    with runtime.ledger(create=False) as ledger:
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
