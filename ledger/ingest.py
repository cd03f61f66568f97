"""The ingestion API: JSON Lines in, one result per line out, in input order, streaming.

Lines are read and judged in batches (``LedgerConfig.batch_size``); each batch's
accepted events are stored in one transaction, and a line is reported
``accepted`` only after that transaction committed. Memory stays flat in the
size of the input: nothing but the current batch is held.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from ledger._guard import is_credential_shaped
from ledger.application import ACCEPTED, REJECTED, GovernanceLedger
from ledger.errors import InvalidSchemaError, LedgerError
from ledger.gate import check_event_alone
from ledger.policy import BUILTIN, GatePolicy
from ledger.validation import normalise

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
) -> Iterator[LineResult]:
    """
    Ingest JSON Lines into ``ledger``; yield each line's result after it is durable.

    Refused lines are recorded in the refusal journal with ``entry_point`` and the
    SHA-256 of the line as it arrived.
    """
    size = batch_size or ledger.config.batch_size
    numbered = enumerate(lines, start=1)
    while batch := list(itertools.islice(numbered, size)):
        parsed = [_parse(raw) for _, raw in batch]
        results = ledger.append(
            [obj for obj, _ in parsed],
            entry_point=entry_point,
            submitted=[
                raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
                for _, raw in batch
            ],
        )
        for (number, _), (_, shown), result in zip(batch, parsed, results, strict=True):
            if result.status == ACCEPTED:
                yield LineResult(number, shown, ACCEPTED)
            else:
                assert result.error is not None  # noqa: S101 - refused results carry their error
                yield LineResult.failed(number, shown, result.error, result.status)


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
