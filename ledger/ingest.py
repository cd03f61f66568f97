"""The ingestion API: JSON Lines in, one result per line out, in input order, streaming.

Lines are read and judged in batches (``LedgerConfig.batch_size``); each batch's
accepted events are stored in one transaction, and a line is reported
``accepted`` only after that transaction committed. Memory stays flat in the
size of the input: nothing but the current batch is held.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import itertools
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

import orjson

from ledger._guard import is_credential_shaped
from ledger.application import ACCEPTED, REJECTED, GovernanceLedger
from ledger.errors import InvalidSchemaError, LedgerError
from ledger.gate import check_event_alone
from ledger.policy import BUILTIN, GatePolicy
from ledger.validation import ValidatedFR, normalise, normalise_parsed, revive

__all__ = ["LineResult", "bulk_gc", "ingest_lines", "validate_lines"]

_MAX_ECHOED_ID = 64


@dataclass(frozen=True, slots=True)
class LineResult:
    """
    The result line for one input line.
    """

    line: int
    event_id: str | None
    status: str
    code: str | None = None
    field: str | None = None
    message: str | None = None

    @classmethod
    def failed(cls, line: int, event_id: str | None, error: LedgerError, status: str) -> LineResult:
        """
        A rejected (or duplicate) line, from its error.
        """
        return cls(line, event_id, status, error.code, error.field, error.message)

    def to_json(self) -> bytes:
        """
        ``{"line", "event_id", "status", "code", "field", "message"}`` as one JSON line.
        """
        return orjson.dumps(
            {
                "line": self.line,
                "event_id": self.event_id,
                "status": self.status,
                "code": self.code,
                "field": self.field,
                "message": self.message,
            }
        )


def _parse(raw: bytes | str) -> tuple[Any, str | None]:
    """
    (parsed event or LedgerError, event_id to echo): never raises.
    """
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return (
            InvalidSchemaError(
                f"line is not valid JSON: {exc.msg} (position {exc.pos})", rule="json"
            ),
            None,
        )
    event_id = obj.get("event_id") if isinstance(obj, dict) else None
    shown = event_id if isinstance(event_id, str) and len(event_id) <= _MAX_ECHOED_ID else None
    if shown is not None and (not shown.isprintable() or is_credential_shaped(shown)):
        shown = None  # 11.5.4: an event_id that reads as a secret is not repeated either
    return obj, shown


def ingest_lines(
    ledger: GovernanceLedger,
    lines: Iterable[bytes | str],
    *,
    batch_size: int | None = None,
    entry_point: str = "ingest",
    workers: int = 0,
    read_ahead: bool = False,
) -> Iterator[LineResult]:
    """
    Ingest JSON Lines into ``ledger``; yield each line's result after it is durable.

    Refused lines are recorded in the refusal journal with ``entry_point`` and the
    SHA-256 of the line as it arrived.

    ``read_ahead``: the next batch is read and judged while this one commits (the fsync
    with the GIL released), so each batch's results come once the next batch has been
    read: right for a file or lines in memory, not for an interactive stream, where a
    result would wait for the next batch's lines (the default: batch after batch).
    ``workers`` (implies ``read_ahead``): processes that parse and judge each line alone
    (shape, bounds, the credential guard) ahead of this one, so that a second core works
    while this process judges events against their decisions and stores them (one
    writer, in input order); at most two batches per worker are ahead. With 0, every
    line is judged in this process. Results, rules and durability are the same either way.
    """
    size = batch_size or ledger.config.batch_size
    numbered = enumerate(lines, start=1)
    batches = iter(lambda: list(itertools.islice(numbered, size)), [])
    if not read_ahead and workers <= 0:
        for batch in batches:
            alone = [_alone(raw) for _, raw in batch]
            items, submitted = _arguments(alone, batch)
            results = ledger.append(items, entry_point=entry_point, submitted=submitted)
            yield from _line_results(batch, alone, results)
        return
    # append_batches judges one batch ahead while the one before commits: the batches it
    # has taken and not yet answered wait here (two at most).
    waiting: deque[tuple[_Batch, _Alone]] = deque()

    def feed() -> Iterator[tuple[list[Any], list[bytes | None]]]:
        for batch, alone in _judged_alone(batches, workers):
            waiting.append((batch, alone))
            yield _arguments(alone, batch)

    for results in ledger.append_batches(feed(), entry_point=entry_point, fresh=True):
        yield from _line_results(*waiting.popleft(), results)


def _arguments(alone: _Alone, batch: _Batch) -> tuple[list[Any], list[bytes | None]]:
    # The events judged alone (or the input append refuses), and each line's bytes.
    return (
        [item for _, item in alone],
        [
            raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
            for _, raw in batch
        ],
    )


def _line_results(batch: _Batch, alone: _Alone, results: list[Any]) -> Iterator[LineResult]:
    for (number, _), (shown, _), result in zip(batch, alone, results, strict=True):
        if result.status == ACCEPTED:
            yield LineResult(number, shown, ACCEPTED)
        else:
            assert result.error is not None  # noqa: S101 - refused results carry their error
            yield LineResult.failed(number, shown, result.error, result.status)


_Batch = list[tuple[int, bytes | str]]
#: Per line: the event_id to echo, and the event judged alone (or the parsed input that
#: ``GovernanceLedger.append`` will refuse with the exact error, or the parse error).
_Alone = list[tuple[str | None, Any]]


def _alone(raw: bytes | str) -> tuple[str | None, Any]:
    """
    One line parsed and judged on its own, in this process.
    """
    obj, shown = _parse(raw)
    if isinstance(obj, LedgerError):
        return shown, obj
    try:
        return shown, normalise_parsed(obj)
    except LedgerError:
        # ``append`` judges the parsed input again and refuses it with this very error,
        # while the refusal journal reads the event_id and decision_id from the input.
        return shown, obj


def _alone_remote(lines: list[bytes | str]) -> list[tuple[str | None, bytes | None]]:
    """
    In a worker process: each line's event_id to echo and its judged bytes (None: refused).
    """
    out: list[tuple[str | None, bytes | None]] = []
    for raw in lines:
        shown, judged = _alone(raw)
        out.append((shown, judged.canonical if isinstance(judged, ValidatedFR) else None))
    return out


def _from_remote(batch: _Batch, remote: list[tuple[str | None, bytes | None]]) -> _Alone:
    alone: _Alone = []
    for (_, raw), (shown, canonical) in zip(batch, remote, strict=True):
        # A refused line is parsed again here: append refuses it with the same error.
        alone.append((shown, revive(canonical)) if canonical is not None else _alone(raw))
    return alone


def _judged_alone(batches: Iterator[_Batch], workers: int) -> Iterator[tuple[_Batch, _Alone]]:
    """
    Each batch with its lines judged alone, in input order: here, or in worker processes.
    """
    if multiprocessing.current_process().daemon:
        workers = 0  # a daemonic process may not start processes: judge here instead
    first = next(batches, None)
    second = next(batches, None) if first is not None and workers > 0 else None
    if first is None or second is None:
        # Nothing to overlap (or no workers asked for): no process is started.
        for batch in itertools.chain([first] if first is not None else [], batches):
            yield batch, [_alone(raw) for _, raw in batch]
        return
    pool = [_Worker(_worker_context()) for _ in range(workers)]
    # Batch n goes to worker n % workers; each worker has at most 2 batches ahead of the
    # one being stored, so memory stays bounded whatever the input's size.
    ahead: deque[tuple[_Batch, _Worker]] = deque()
    try:
        for n, batch in enumerate(itertools.chain([first, second], batches)):
            worker = pool[n % workers]
            worker.submit([raw for _, raw in batch])
            ahead.append((batch, worker))
            if len(ahead) > 2 * workers:
                yield _finish(*ahead.popleft())
        while ahead:
            yield _finish(*ahead.popleft())
    finally:
        for worker in pool:
            worker.close()


def _finish(batch: _Batch, worker: _Worker) -> tuple[_Batch, _Alone]:
    remote = worker.result()
    if remote is not None:
        return batch, _from_remote(batch, remote)
    # The worker died (killed, out of memory): this batch is judged here instead. Nothing
    # of it was stored, and nothing is judged twice: a worker only ever judges alone.
    return batch, [_alone(raw) for _, raw in batch]


class _Worker:
    """
    One process judging lines alone, fed batches over its own pipe, answering in order.

    Each side closes the other's end of the pipe, so the death of either is an end of
    file to the other (never a read that waits for ever); a worker that died answers
    None from then on, and the caller judges those batches itself.
    """

    def __init__(self, context: BaseContext) -> None:
        ours, theirs = context.Pipe(duplex=True)
        self._conn: Connection | None = ours
        self._pending = 0
        self._process = context.Process(  # type: ignore[attr-defined]
            target=_worker_main,
            args=(theirs, ours, os.getpid()),
            name="govledger-ingest-worker",
            daemon=True,
        )
        self._process.start()
        theirs.close()

    def submit(self, lines: list[bytes | str]) -> None:
        self._pending += 1
        if self._conn is None:
            return
        try:
            self._conn.send(lines)
        except (OSError, EOFError):
            self._died()

    def result(self) -> list[tuple[str | None, bytes | None]] | None:
        self._pending -= 1
        if self._conn is None:
            return None
        try:
            answer: list[tuple[str | None, bytes | None]] = self._conn.recv()
        except (OSError, EOFError):
            self._died()
            return None
        return answer

    def _died(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(None)  # no more batches: the worker ends
            self._conn.close()
            self._conn = None
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def _worker_main(conn: Connection, parents: Connection, parent: int) -> None:
    """
    A worker process: read batches, answer each in order, until told to stop or orphaned.
    """
    parents.close()  # only the ingesting process keeps its end: its death is our EOF
    # Ctrl-C reaches the whole process group: the ingesting process answers it (and ends
    # this one by closing the pipe), so the worker neither prints nor dies on it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(parent)
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
    # A reader thread takes batches off the pipe as they come, so the ingesting process
    # never waits to hand one over while this one is sending an answer back (and at most
    # the few batches it has ahead wait here).
    tasks: queue.SimpleQueue[list[bytes | str] | None] = queue.SimpleQueue()

    def read() -> None:
        try:
            while True:
                lines = conn.recv()
                tasks.put(lines)
                if lines is None:
                    return
        except (OSError, EOFError):
            tasks.put(None)

    threading.Thread(target=read, name="govledger-worker-reader", daemon=True).start()
    while (lines := tasks.get()) is not None:
        try:
            conn.send(_alone_remote(lines))
        except (OSError, EOFError):
            return


def _worker_context() -> BaseContext:
    # fork starts a worker at once (it compiles the schemas and the guard itself, while
    # this process goes on); it is safe while this process runs one Python thread (the
    # child only judges lines, and touches no connection or lock of this one). With other
    # threads about (a PostgreSQL pool), a fresh interpreter is started instead.
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _die_with(parent: int) -> None:
    # A forked worker holds both ends of its task queue, so it never reads an end of input
    # when its parent dies: Linux ends it at once (PR_SET_PDEATHSIG); elsewhere, and for a
    # parent that died before that was set, a watchdog thread looks every half second.
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="govledger-worker-watchdog", daemon=True).start()


_PR_SET_PDEATHSIG = 1


@contextmanager
def bulk_gc(young: int = 50_000) -> Iterator[None]:
    """
    Tune Python's cyclic garbage collector for a process whose main work is one bulk ingest.

    Ingestion allocates millions of short-lived objects while the interpreter holds a large,
    stable heap (modules, compiled schemas, cached decisions); with the default thresholds the
    collector rescans that heap over and over (measured: ~15% of ingest time). Inside this
    block, what already exists is frozen out of the scans (``gc.freeze``) and young
    collections run every ``young`` allocations instead of 700. Both are restored on exit.
    Nothing is left uncollected: it is collected later. ``govledger ingest`` uses it; an
    embedding application may, if it owns the process.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def validate_lines(
    lines: Iterable[bytes | str], policy: GatePolicy = BUILTIN
) -> Iterator[LineResult]:
    """
    The per-event checks only (under ``policy``), with no history and no store.
    """
    for number, raw in enumerate(lines, start=1):
        obj, shown = _parse(raw)
        try:
            if isinstance(obj, LedgerError):
                raise obj
            check_event_alone(normalise(obj), policy)
        except LedgerError as exc:
            yield LineResult.failed(number, shown, exc, REJECTED)
        else:
            yield LineResult(number, shown, ACCEPTED)
