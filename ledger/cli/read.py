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
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import duckdb

import projections
from ledger import _time
from ledger.application import GovernanceLedger
from ledger.bootstrap import Runtime
from ledger.cli import evidence
from ledger.cli._args import example, moment, period, period_options, positive
from ledger.cli.output import output_path, render, replace_directory, say, write_atomically
from ledger.errors import ConfigurationError, OutputUnavailableError
from ledger.ingest import bulk_gc
from ledger.trust import CheckpointStore
from projections import ProjectionBusyError, ProjectionError, report

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["register"]


def register(sub: Any) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    """
    Add the read-side subcommands to ``sub``; returns ``audit``'s own subcommands (the
    evidence pack's verbs join them).
    """
    p = sub.add_parser(
        "project",
        help="catch the DuckDB projection up with the store",
        epilog=example(
            "govledger project", "govledger project --follow", "govledger project --rebuild"
        ),
    )
    p.add_argument("--follow", action="store_true", help="keep catching up until Ctrl-C/SIGTERM")
    p.add_argument(
        "--interval",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="seconds between polls with --follow",
    )
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="drop the tables and replay everything (also rebinds a govledger projection "
        "built from another store)",
    )
    _batch_option(p)
    p.set_defaults(handler=_duckdb_errors(_project))

    p = sub.add_parser(
        "audit",
        help="audit reports over the projection (catch up first), and the evidence pack",
        description="Each report reads the projection after catching it up with the store. "
        "--since (inclusive) and --until (exclusive) restrict the rows by the report's own "
        "time column (named in its --help); --limit caps the rows.",
        epilog=example(
            "govledger audit summary",
            "govledger audit pending --limit 20",
            "govledger audit overrides --since 2026-11-01T00:00:00Z -f csv > overrides.csv",
            "govledger audit evidence -o pack.zip --since 2026-11-01T00:00:00Z "
            "--until 2026-12-01T00:00:00Z",
        ),
    )
    reports = p.add_subparsers(dest="report", required=True, metavar="REPORT")
    for name in sorted(projections.REPORTS):
        report = projections.REPORTS[name]
        q = reports.add_parser(
            name,
            help=report.help,
            description=f"{report.help[0].upper()}{report.help[1:]}. --since and --until "
            f"restrict {report.period.removeprefix('e.')}.",
            epilog=example(*_AUDIT_EXAMPLES[name]),
        )
        if report.argument is not None:
            q.add_argument("argument", metavar=report.argument, help="the target_ref to trace")
        period_options(q, what=report.period.removeprefix("e."))
        q.add_argument("--limit", type=positive, metavar="N", help="at most N rows")
        _catch_up_option(q)
        q.set_defaults(handler=_duckdb_errors(_audit))

    p = sub.add_parser(
        "query",
        help="read-only SQL over the projection (catches up first)",
        epilog=example(
            'govledger query "SELECT status, count(*) FROM decisions GROUP BY status"',
            'govledger query "SELECT * FROM refusals" -f json',
        ),
    )
    p.add_argument(
        "sql", metavar="SQL", help="one SELECT-like statement over the projection's tables"
    )
    _catch_up_option(p)
    p.set_defaults(handler=_duckdb_errors(_query))

    p = sub.add_parser(
        "replay",
        help="build a projection as of a moment",
        description="Project the ledger as it stood at a moment into another file, which is "
        "frozen at that cut. By event time (the default) each decision is folded up to its "
        "last event stamped at or before the moment; by commit time the cut is the events "
        "the store had committed by then.",
        epilog=example(
            "govledger replay --as-of 2026-02-19T15:00:00Z --to feb19.duckdb",
            "govledger replay --as-of 2026-02-19T15:00:00Z --by commit-time --to feb19.duckdb",
        ),
    )
    p.add_argument(
        "--as-of",
        required=True,
        type=moment,
        metavar="RFC3339",
        help="e.g. 2026-02-19T15:00:00Z (a time zone is required)",
    )
    p.add_argument(
        "--by",
        choices=("event-time", "commit-time"),
        default="event-time",
        help="event-time: the events' own timestamps; commit-time: when the store recorded them",
    )
    p.add_argument("--to", required=True, metavar="FILE", help="DuckDB file to (re)build")
    _batch_option(p)
    p.set_defaults(handler=_duckdb_errors(_replay))

    p = sub.add_parser(
        "report",
        help="the oversight report: one self-contained HTML file (catches up first)",
        epilog=example(
            "govledger report -o report.html",
            "govledger report -o nov.html --since 2026-11-01T00:00:00Z "
            "--until 2026-12-01T00:00:00Z",
        ),
    )
    p.add_argument(
        "-o", "--out", required=True, metavar="FILE", help="HTML file to write (replaced)"
    )
    period_options(p, what="every figure")
    p.set_defaults(handler=_duckdb_errors(_report))

    p = sub.add_parser(
        "export",
        help="write each projection table as Parquet",
        epilog=example("govledger export --parquet audit-export/"),
    )
    p.add_argument(
        "--parquet",
        required=True,
        metavar="DIR",
        help="directory to write (replaced as a whole, atomically)",
    )
    _catch_up_option(p)
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace DIR even if it holds files an export did not write",
    )
    p.set_defaults(handler=_duckdb_errors(_export))
    evidence.register(reports)
    return reports  # type: ignore[no-any-return]


_AUDIT_EXAMPLES: Final = {
    "summary": (
        "govledger audit summary",
        "govledger audit summary --since 2026-11-01T00:00:00Z -f json",
    ),
    "auto-approvals": ("govledger audit auto-approvals --limit 50",),
    "pending": ("govledger audit pending", "govledger audit pending -f csv > pending.csv"),
    "halts": ("govledger audit halts --since 2026-11-01T00:00:00Z",),
    "overrides": ("govledger audit overrides --until 2026-12-01T00:00:00Z",),
    "target": ("govledger audit target WP-12/MT-03",),
    "refusals": ("govledger audit refusals --limit 20",),
    "attribution": ("govledger audit attribution",),
    "models": ("govledger audit models -f json",),
}


def _batch_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--batch-size",
        type=positive,
        default=projections.DEFAULT_BATCH,
        metavar="N",
        help="events per DuckDB transaction",
    )


def _catch_up_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-catch-up",
        action="store_true",
        help="read what the projection holds without reading the store",
    )


def _duckdb_errors(handler: Callable[[argparse.Namespace, Runtime], int]) -> Any:
    """
    A DuckDB failure becomes a ledger error (one JSON line, an exit status), not a traceback.
    """

    @functools.wraps(handler)
    def run(args: argparse.Namespace, runtime: Runtime) -> int:
        try:
            # A catch-up folds millions of short-lived rows while the process holds a large,
            # stable heap: the collector tuning of ``govledger ingest`` (measured: the fold
            # of 202,311 events 3.4-3.5 s -> 2.7 s).
            with bulk_gc():
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


def _table_format(args: argparse.Namespace) -> str:
    return str(args.format or "table")


def _audit(args: argparse.Namespace, runtime: Runtime) -> int:
    since, until = period(args)
    con = _open_caught_up(runtime, catch_up=not args.no_catch_up)
    try:
        result = projections.run_report(
            con,
            args.report,
            getattr(args, "argument", None),
            since=since,
            until=until,
            limit=args.limit,
        )
    finally:
        con.close()
    render(result.columns, result.rows, _table_format(args))
    return 0


def _query(args: argparse.Namespace, runtime: Runtime) -> int:
    con = _open_caught_up(runtime, catch_up=not args.no_catch_up)
    try:
        result = projections.run_query(con, args.sql)
    finally:
        con.close()
    render(result.columns, result.rows, _table_format(args))
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
        msg = (
            f"replay: {args.to} is the live projection; an as-of replay is frozen at its "
            "cut, so write it to another file"
        )
        raise ConfigurationError(msg, field="to", rule="live_projection")
    key = runtime.checking_key()
    by = args.by.replace("-", "_")
    with runtime.ledger(create=False) as ledger:
        done = projections.replay_as_of(
            ledger,
            args.to,
            args.as_of,
            batch_size=args.batch_size,
            key=key,
            label=runtime.config.store_label,
            by=by,
        )
        total = ledger.max_position()
    when = _time.display(done.as_of)
    if by == "commit_time":
        sys.stdout.write(
            f"replay: as of {when} the store had recorded {done.events} events "
            f"(cut at position {done.position} of {total}); projected them into {args.to}\n"
        )
    else:
        sys.stdout.write(
            f"replay: as of {when} by event time, {done.events} of the events stored up to "
            f"position {done.position} (of {total}) had happened; each decision is folded up "
            f"to its last event stamped at or before then; projected into {args.to}\n"
        )
    return 0


# --- report -----------------------------------------------------------------------


def _report(args: argparse.Namespace, runtime: Runtime) -> int:
    since, until = period(args)
    out = output_path("report", args.out)
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
        msg = f"report: cannot write {out}: {exc.strerror or exc}"
        raise OutputUnavailableError(msg, field="out", rule="writable") from None
    say(f"report: wrote {out} ({len(page.encode()):,} bytes)")
    return 0


def _verification_state(runtime: Runtime) -> report.VerificationState | None:
    """
    The store's latest signed checkpoint and size: the one place ``report`` reads the store.
    """
    with runtime.ledger(create=False) as ledger:
        latest = CheckpointStore.of(ledger).latest()
        # Counted, not the last position: PostgreSQL positions can have gaps.
        events = ledger.tally().events
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
