"""Write-side verbs: validate, ingest, events, show, demo."""

from __future__ import annotations

import argparse
import os
import stat
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson

from ledger.application import ACCEPTED, DUPLICATE
from ledger.bootstrap import Runtime
from ledger.cli import output
from ledger.cli._progress import progress
from ledger.errors import ConfigurationError, InputUnavailableError
from ledger.events import canonical_bytes
from ledger.ingest import LineResult, bulk_gc, ingest_lines, validate_lines
from ledger.trust import autoseal

__all__ = ["register"]


def register(sub: Any) -> None:
    """
    Add the write-side subcommands to ``sub``.
    """
    p = sub.add_parser("validate", help="per-event checks only (no history, no store)")
    p.add_argument("file", nargs="?", default="-", help="JSON Lines file, or - for stdin")
    p.set_defaults(handler=_validate)

    p = sub.add_parser("ingest", help="validate and store FR-EVT-GOV events (JSON Lines)")
    p.add_argument("file", nargs="?", default="-", help="JSON Lines file, or - for stdin")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument("--batch-size", type=int, help="events per store transaction")
    p.add_argument(
        "--no-results", action="store_true", help="do not print one result line per input line"
    )
    p.add_argument(
        "--workers",
        type=int,
        help="processes that parse and validate ahead of the writer (0: none; default 1)",
    )
    p.set_defaults(handler=_ingest)

    p = sub.add_parser("events", help="stored events as JSON Lines, in store order")
    p.add_argument("--decision-id", help="only this decision's events")
    p.set_defaults(handler=_events)

    p = sub.add_parser("show", help="a decision's artifacts and event sequence")
    p.add_argument("decision_id")
    p.set_defaults(handler=_show)

    p = sub.add_parser("demo", help="record a realistic orchestrator workload")
    p.add_argument("--work-packets", type=int, default=12)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(handler=_demo)


@contextmanager
def _input(name: str) -> Iterator[IO[bytes]]:
    if name == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = Path(name).open("rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        msg = f"cannot read {name}: {exc.strerror}"
        raise InputUnavailableError(msg, field="file", rule="readable") from None
    with handle:
        yield handle


def _is_file(handle: IO[bytes]) -> bool:
    try:
        return stat.S_ISREG(os.fstat(handle.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def _lines(handle: IO[bytes]) -> Iterator[bytes]:
    for raw in handle:
        yield raw.rstrip(b"\r\n")


def _write_results(
    results: Iterator[LineResult], *, show: bool = True, counts: Counter[str] | None = None
) -> Counter[str]:
    counts = Counter() if counts is None else counts
    out = sys.stdout.buffer
    for result in results:
        counts[result.status] += 1
        if result.status not in (ACCEPTED, DUPLICATE):
            counts[f"code:{result.code}"] += 1
        if show:
            out.write(result.to_json() + b"\n")
    out.flush()
    return counts


def _status(counts: Counter[str]) -> int:
    return 1 if counts["rejected"] else 0


def _validate(args: argparse.Namespace, runtime: Runtime) -> int:
    try:
        with _input(args.file) as handle:
            return _status(_write_results(validate_lines(_lines(handle), runtime.policy)))
    except KeyboardInterrupt:
        output.say("validate: interrupted; validate stores nothing")
        return 130


def _ingest(args: argparse.Namespace, runtime: Runtime) -> int:
    if args.batch_size is not None and args.batch_size < 1:
        msg = "--batch-size must be at least 1"
        raise ConfigurationError(msg, field="batch_size", rule="minimum")
    if args.workers is not None and args.workers < 0:
        msg = "--workers must be at least 0"
        raise ConfigurationError(msg, field="workers", rule="minimum")
    workers = runtime.config.ingest_workers if args.workers is None else args.workers
    # Before anything is stored: a misconfigured key must not silently leave a run unsealed.
    key = runtime.signing_key()
    if key is None and not runtime.config.is_memory:
        print(
            "govledger ingest: no signing key, the store is not sealed "
            "(run govledger keygen, or set GOVLEDGER_SIGNING_KEY)",
            file=sys.stderr,
        )
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    try:
        with _input(args.file) as handle, runtime.ledger() as ledger, bulk_gc():
            # A file is read ahead (and by the workers); a stream (a pipe, a terminal) is
            # answered batch by batch, so no result waits for lines not yet written.
            ahead = _is_file(handle)
            results = ingest_lines(
                ledger,
                _lines(handle),
                batch_size=args.batch_size,
                workers=workers if ahead else 0,
                read_ahead=ahead,
            )
            if key is not None:
                results = autoseal(ledger, key, results, every=runtime.config.seal_every)
            shown = progress(results, enabled=not args.quiet and sys.stderr.isatty())
            _write_results(shown, show=not args.no_results, counts=counts)
    except KeyboardInterrupt:
        sys.stdout.flush()
        print(
            f"govledger ingest: interrupted; {counts[ACCEPTED]} events accepted and stored, "
            f"{counts[DUPLICATE]} duplicate, {counts['rejected']} rejected (each reported "
            "above); a batch in flight may have been stored unreported: run the same input "
            "again (what was stored is reported duplicate)",
            file=sys.stderr,
        )
        return 130
    elapsed = max(time.perf_counter() - started, 1e-9)
    if not args.quiet:
        total = counts[ACCEPTED] + counts[DUPLICATE] + counts["rejected"]
        codes = ", ".join(
            f"{key.removeprefix('code:')}={n}"
            for key, n in sorted(counts.items())
            if key.startswith("code:")
        )
        print(
            f"govledger ingest: {total} lines, {counts[ACCEPTED]} accepted, "
            f"{counts[DUPLICATE]} duplicate, {counts['rejected']} rejected"
            f"{' (' + codes + ')' if codes else ''}, {total / elapsed:,.0f} events/s",
            file=sys.stderr,
        )
    return _status(counts)


def _events(args: argparse.Namespace, runtime: Runtime) -> int:
    out = sys.stdout.buffer
    with runtime.ledger(create=False) as ledger:
        if args.decision_id:
            agg = ledger.gate(args.decision_id)
            for fr in agg.history if agg is not None else []:
                out.write(canonical_bytes(fr) + b"\n")
        else:
            for _, state in ledger.stored_events():
                out.write(state + b"\n")
    out.flush()
    return 0


def _show(args: argparse.Namespace, runtime: Runtime) -> int:
    with runtime.ledger(create=False) as ledger:
        record = ledger.decision(args.decision_id)
    if record is None:
        output.say(f"no decision {args.decision_id!r} in the store")
        return 1
    sys.stdout.buffer.write(
        orjson.dumps(record.model_dump(mode="json"), option=orjson.OPT_INDENT_2) + b"\n"
    )
    return 0


def _demo(args: argparse.Namespace, runtime: Runtime) -> int:
    from ledger.demo import run_demo  # noqa: PLC0415

    with runtime.ledger() as ledger:
        report = run_demo(ledger, work_packets=args.work_packets, seed=args.seed)
    print(report)
    return 0
