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
from ledger.cli._results import RESULTS, ResultsView, summary
from ledger.config import DEFAULT_STORE
from ledger.errors import ConfigurationError, InputUnavailableError
from ledger.events import canonical_bytes
from ledger.ingest import bulk_gc, ingest_lines, validate_lines
from ledger.serve import UnknownDecisionError
from ledger.trust import autoseal

__all__ = ["register"]


def register(sub: Any) -> None:
    """
    Add the write-side subcommands to ``sub``.
    """
    p = sub.add_parser(
        "validate",
        help="per-event checks only (no history, no store)",
        description="The checks one event decides alone (shape, type, bounds, credentials, "
        "the policy's per-event rules); nothing is stored and no store is opened.",
        epilog=_example(
            "govledger validate events.jsonl", "cat events.jsonl | govledger validate -f json"
        ),
    )
    p.add_argument("file", nargs="?", default="-", help="JSON Lines file, or - for stdin")
    _results_options(p)
    p.set_defaults(handler=_validate)

    p = sub.add_parser(
        "ingest",
        help="validate and store FR-EVT-GOV events (JSON Lines)",
        description="Judge each line with every rule and store the accepted events in "
        "batches; a line is reported accepted only after its batch committed.",
        epilog=_example(
            "govledger ingest events.jsonl",
            "govledger ingest events.jsonl --results all > results.jsonl",
            "upstream-runtime --emit | govledger ingest -q --results none",
        ),
    )
    p.add_argument("file", nargs="?", default="-", help="JSON Lines file, or - for stdin")
    p.add_argument(
        "--batch-size", type=int, metavar="N", help="events per store transaction (default 1000)"
    )
    _results_options(p)
    p.add_argument(
        "--workers",
        type=int,
        help="processes that parse and validate ahead of the writer (0: none; default 1)",
    )
    p.set_defaults(handler=_ingest)

    p = sub.add_parser(
        "events",
        help="stored events as JSON Lines, in store order",
        description="The stored events exactly as they were judged and sealed (their "
        "canonical bytes, the Merkle leaves' input), one JSON line each, in store order.",
        epilog=_example(
            "govledger events | head",
            "govledger events --decision-id run-42.gate-7",
            "govledger events --positions",
        ),
    )
    p.add_argument("--decision-id", metavar="ID", help="only this decision's events")
    p.add_argument(
        "--positions",
        action="store_true",
        help='each line {"position", "recorded_at", "event"}: the store position and commit '
        "time with the event",
    )
    p.set_defaults(handler=_events)

    p = sub.add_parser(
        "show",
        help="a decision's artifacts and event sequence",
        epilog=_example("govledger show run-42.gate-7"),
    )
    p.add_argument("decision_id", metavar="DECISION_ID", help="the decision to show")
    p.set_defaults(handler=_show)

    p = sub.add_parser(
        "demo",
        help="record a realistic orchestrator workload",
        description="Records a sample workload through the command API. It writes only "
        "into a new store, or one holding nothing but earlier demo data: it never mixes "
        "sample data into a real ledger.",
        epilog=_example("govledger demo", "govledger --store demo.db demo --work-packets 40"),
    )
    p.add_argument("--work-packets", type=int, default=12, metavar="N", help="work packets to run")
    p.add_argument("--seed", type=int, default=7, help="random seed of the workload")
    p.set_defaults(handler=_demo)


def _example(*lines: str) -> str:
    return (
        "example"
        + ("s" if len(lines) > 1 else "")
        + ":\n"
        + "\n".join(f"  {line}" for line in lines)
    )


def _results_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--results",
        choices=RESULTS,
        help="which result lines to print: every line, the refused ones, or none "
        "(default: all when stdout is not a terminal, refused on a terminal)",
    )
    p.add_argument(
        "--no-results", action="store_true", help="the same as --results none (kept for scripts)"
    )


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


class _Lines:
    """
    The input's lines without their line ends, counting the bytes read (for the bar).
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.read = 0
        #: The input's size when it is a regular file (a redirect included), else None.
        self.size: int | None = None
        try:
            info = os.fstat(handle.fileno())
        except (OSError, ValueError, AttributeError):  # an in-memory stream has no descriptor
            return
        if stat.S_ISREG(info.st_mode):
            self.size = info.st_size

    def __iter__(self) -> Iterator[bytes]:
        for raw in self._handle:
            self.read += len(raw)
            yield raw.rstrip(b"\r\n")

    def done(self) -> int:
        return self.read


def _status(counts: Counter[str]) -> int:
    return 1 if counts["rejected"] else 0


def _view(args: argparse.Namespace) -> ResultsView:
    return ResultsView.choose(args.results, args.format, no_results=args.no_results)


def _bar(console: output.Console) -> bool:
    return console.stderr_tty and not console.quiet


def _validate(args: argparse.Namespace, runtime: Runtime) -> int:
    view = _view(args)
    console = output.current()
    counts: Counter[str] = Counter()
    try:
        with _input(args.file) as handle:
            lines = _Lines(handle)
            results = progress(
                validate_lines(lines, runtime.policy),
                enabled=_bar(console) and view.format == "table",
                total=lines.size,
                done=lines.done,
            )
            view.show(results, counts)
    except KeyboardInterrupt:
        output.say("validate: interrupted; validate stores nothing", always=True)
        return 130
    if view.format == "table" and not console.quiet:
        sys.stderr.write(summary("validate", counts) + "\n")
    return _status(counts)


def _ingest(args: argparse.Namespace, runtime: Runtime) -> int:
    if args.batch_size is not None and args.batch_size < 1:
        msg = "--batch-size must be at least 1"
        raise ConfigurationError(msg, field="batch_size", rule="minimum")
    view = _view(args)
    console = output.current()
    if args.workers is not None and args.workers < 0:
        msg = "--workers must be at least 0"
        raise ConfigurationError(msg, field="workers", rule="minimum")
    workers = runtime.config.ingest_workers if args.workers is None else args.workers
    # Before anything is stored: a misconfigured key must not silently leave a run unsealed.
    key = runtime.signing_key()
    if key is None and not runtime.config.is_memory:
        output.say(
            "govledger ingest: no signing key, the store is not sealed "
            "(run govledger keygen, or set GOVLEDGER_SIGNING_KEY)",
            prefix="",
        )
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    try:
        with _input(args.file) as handle, runtime.ledger() as ledger, bulk_gc():
            lines = _Lines(handle)
            # A file is read ahead (and by the workers); a stream (a pipe, a terminal) is
            # answered batch by batch, so no result waits for lines not yet written.
            ahead = lines.size is not None
            results = ingest_lines(
                ledger,
                lines,
                batch_size=args.batch_size,
                workers=workers if ahead else 0,
                read_ahead=ahead,
            )
            if key is not None:
                results = autoseal(ledger, key, results, every=runtime.config.seal_every)
            shown = progress(results, enabled=_bar(console), total=lines.size, done=lines.done)
            view.show(shown, counts)
    except KeyboardInterrupt:
        sys.stdout.flush()
        output.say(
            f"govledger ingest: interrupted; {counts[ACCEPTED]} events accepted and stored, "
            f"{counts[DUPLICATE]} duplicate, {counts['rejected']} rejected (each reported "
            "above); a batch in flight may have been stored unreported: run the same input "
            "again (what was stored is reported duplicate)",
            always=True,
            prefix="",
        )
        return 130
    elapsed = max(time.perf_counter() - started, 1e-9)
    if not console.quiet:
        sys.stderr.write(summary("ingest", counts, elapsed) + "\n")
    return _status(counts)


def _events(args: argparse.Namespace, runtime: Runtime) -> int:
    out = sys.stdout.buffer
    with runtime.ledger(create=False) as ledger:
        if args.decision_id:
            agg = ledger.gate(args.decision_id)
            states = [canonical_bytes(fr) for fr in (agg.history if agg is not None else [])]
            if not args.positions:
                out.writelines(state + b"\n" for state in states)
            else:
                ids = [fr["event_id"] for fr in (agg.history if agg is not None else [])]
                where = ledger.event_positions(ids)
                for event_id, state in zip(ids, states, strict=True):
                    position = where.get(event_id.lower())
                    at = None if position is None else ledger.commit_time(position)
                    out.write(_positioned(position, at, state))
        elif not args.positions:
            for _, state in ledger.stored_events():
                out.write(state + b"\n")
        else:
            page: list[tuple[int, bytes]] = []
            for item in ledger.stored_events():
                page.append(item)
                if len(page) == 1000:  # noqa: PLR2004 - one commit-time read per page
                    _write_positioned(out, ledger, page)
                    page = []
            _write_positioned(out, ledger, page)
    out.flush()
    return 0


def _positioned(position: int | None, recorded_at: str | None, state: bytes) -> bytes:
    # The event's canonical bytes, untouched inside the envelope: what the Merkle leaf hashes.
    head = orjson.dumps({"position": position, "recorded_at": recorded_at})
    return head[:-1] + b',"event":' + state + b"}\n"


def _write_positioned(out: IO[bytes], ledger: Any, page: list[tuple[int, bytes]]) -> None:
    if not page:
        return
    times = ledger.commit_times(page[0][0], page[-1][0])
    i = 0
    for position, state in page:
        while i < len(times) and times[i][0] < position:
            i += 1
        out.write(_positioned(position, times[i][1] if i < len(times) else None, state))


def _show(args: argparse.Namespace, runtime: Runtime) -> int:
    with runtime.ledger(create=False) as ledger:
        record = ledger.decision(args.decision_id)
    if record is None:
        raise UnknownDecisionError(
            f"no decision {args.decision_id!r} in the store", field="decision_id", rule="exists"
        )
    sys.stdout.buffer.write(
        orjson.dumps(record.model_dump(mode="json"), option=orjson.OPT_INDENT_2) + b"\n"
    )
    return 0


def _demo(args: argparse.Namespace, runtime: Runtime) -> int:
    from ledger.demo import mark_demo, refuse_unless_demo, run_demo  # noqa: PLC0415

    with runtime.ledger() as ledger:
        refuse_unless_demo(ledger)
        report = run_demo(ledger, work_packets=args.work_packets, seed=args.seed)
        mark_demo(ledger)
    print(report)
    if runtime.config.is_memory:
        print("(the store was in memory: it is gone now)")
        return 0
    default = not runtime.config.is_postgres and (
        Path(runtime.config.store).resolve() == Path(DEFAULT_STORE).resolve()
    )
    store = "" if default else f" --store {_quoted(runtime.config.store_label)}"
    steps = (
        ("status", "what the store and its projection hold"),
        ("audit summary", "decisions by gate type, automation level and status"),
        ("report -o report.html", "the oversight report, one HTML file"),
    )
    commands = [f"govledger{store} {verb}" for verb, _ in steps]
    width = max(len(c) for c in commands)
    print("\nnext:")
    for command, (_, what) in zip(commands, steps, strict=True):
        print(f"  {command.ljust(width)}  {what}")
    return 0


def _quoted(text: str) -> str:
    return text if text and all(c.isalnum() or c in "._/:-@+=" for c in text) else repr(text)
