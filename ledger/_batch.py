"""Judging one batch of submitted events: each on its own, in order, against its decision.

``prepare`` judges each event alone (shape, type, normalisation); ``judge``
judges it against its decision as it stands after the events before it in the
batch (duplicates, order, binding, the gate table), collecting the events to
store in input order. Refused events never block or undo the accepted ones,
unless the batch is ``atomic`` (a sequence the ledger decided itself, which is
stored whole or not at all). No I/O: the caller loads and stores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

from ledger import events as ev
from ledger.errors import DuplicateEventError, LedgerError
from ledger.events import canonical_bytes
from ledger.gate import GateEvaluation, aggregate_id, duplicate_error
from ledger.policy import GatePolicy
from ledger.validation import ValidatedFR, normalise

__all__ = ["ACCEPTED", "DUPLICATE", "REJECTED", "AppendResult", "Judged", "judge", "prepare"]

ACCEPTED: Final = "accepted"
DUPLICATE: Final = "duplicate"
REJECTED: Final = "rejected"


@dataclass(frozen=True, slots=True)
class AppendResult:
    """
    What happened to one submitted event.
    """

    event_id: str | None
    status: str
    error: LedgerError | None = None
    #: Store position, for accepted events.
    position: int | None = None


@dataclass(slots=True)
class Judged:
    """
    A judged batch: a result per input (an event_id where accepted, until it has a
    position), the events to store in input order, and the decisions they moved on.
    """

    results: list[AppendResult | str] = field(default_factory=list)
    pending: list[ev.GovEvent] = field(default_factory=list)
    touched: dict[UUID, GateEvaluation] = field(default_factory=dict)
    #: The judged bytes of the events to store, by lower-case event_id.
    written: dict[str, bytes] = field(default_factory=dict)

    def acknowledged(self, positions: Sequence[int]) -> list[AppendResult]:
        """
        The results, once the pending events are stored at ``positions``.
        """
        stored = iter(positions)
        return [
            AppendResult(r, ACCEPTED, None, next(stored)) if isinstance(r, str) else r
            for r in self.results
        ]


def prepare(items: Sequence[Any], *, fresh: bool = False) -> list[ValidatedFR | LedgerError]:
    """
    Each item judged alone: its normalised form, or why it was refused.

    ``fresh``: the caller made every ``ValidatedFR`` among ``items`` itself, just now, and
    shares none of them (``ledger.ingest``), so they are taken as judged without encoding
    them again here; the mapper still checks each against its judged bytes before storing.
    """
    judged: list[ValidatedFR | LedgerError] = []
    for item in items:
        if isinstance(item, LedgerError) or (fresh and type(item) is ValidatedFR):
            judged.append(item)
            continue
        try:
            judged.append(normalise(item))
        except LedgerError as exc:
            judged.append(exc)
    return judged


def judge(
    judged: Sequence[ValidatedFR | LedgerError],
    stored: Mapping[str, bytes],
    aggregates: dict[UUID, GateEvaluation],
    policy: GatePolicy,
    *,
    atomic: bool,
    into: Judged | None = None,
) -> Judged:
    """
    Judge each event against its decision; new decisions are created under ``policy``.

    ``stored``: the stored bytes of the batch's event_ids already in the store.
    ``aggregates`` is updated in place (the caller forgets them if the batch fails);
    ``into`` receives the outcome as it is judged, so a caller still knows what was
    touched when an atomic batch stops at a refusal.
    """
    out = into if into is not None else Judged()
    seen = out.written
    for fr in judged:
        if isinstance(fr, LedgerError):
            if atomic:
                raise fr
            out.results.append(AppendResult(fr.event_id, REJECTED, _detached(fr)))
            continue
        key = fr["event_id"].lower()
        try:
            previous = seen.get(key) or stored.get(key)
            if previous is not None:
                raise duplicate_error(fr, identical=previous == fr.canonical)
            oid = aggregate_id(fr["decision_id"])
            aggregate = aggregates.get(oid)
            if aggregate is None:
                aggregate = aggregates[oid] = GateEvaluation.create(fr, policy)
            else:
                _record(aggregate, fr)
        except DuplicateEventError as exc:
            if atomic:
                raise
            status = DUPLICATE if exc.identical else REJECTED
            out.results.append(AppendResult(fr["event_id"], status, _detached(exc)))
            continue
        except LedgerError as exc:
            if atomic:
                raise
            out.results.append(AppendResult(fr["event_id"], REJECTED, _detached(exc)))
            continue
        seen[key] = fr.canonical
        out.touched[oid] = aggregate
        out.pending.extend(aggregate.collect_events())  # type: ignore[arg-type]
        out.results.append(fr["event_id"])
    return out


def _record(aggregate: GateEvaluation, fr: ValidatedFR) -> None:
    """
    ``aggregate.record(fr)``; a refused event the decision already holds is a duplicate.

    The event_ids were looked up before the decisions were loaded: a concurrent writer
    may have stored this very event in between, and the decision then shows it. An
    identical re-send is ``duplicate`` whatever the interleaving of writers.
    """
    try:
        aggregate.record(fr)
    except LedgerError:
        held = aggregate.stored_copy(fr["event_id"])
        if held is None:
            raise
        raise duplicate_error(fr, identical=canonical_bytes(held) == fr.canonical) from None


def _detached(error: LedgerError) -> LedgerError:
    """
    ``error`` without its traceback and chained exceptions, to be kept in a result.

    Their frames reference the batch being judged (and, through it, ``error`` again): a
    cycle that only the garbage collector frees, holding a whole batch until it runs.
    """
    error.__traceback__ = None
    error.__context__ = None
    error.__cause__ = None
    return error
