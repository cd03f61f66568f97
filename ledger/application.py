"""``GovernanceLedger``: the application service both entry points go through.

Ingestion appends FR events emitted elsewhere; the command API (``evaluate_gate``,
``record_human_decision``) lets the ledger decide and record the sequence itself.
Both end in ``_append``: judge every event on its own against its decision's
aggregate, then store all accepted events of a batch in one transaction. Library
exceptions are translated here and never reach callers.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, PersistenceError
from eventsourcing.utils import Environment, EnvType

from ledger import events as ev
from ledger._guard import redact
from ledger.artifacts import DecisionRecord
from ledger.config import LedgerConfig
from ledger.errors import (
    DuplicateEventError,
    InvalidSchemaError,
    LedgerError,
    SequenceViolationError,
    StoreError,
)
from ledger.gate import GateEvaluation, aggregate_id, duplicate_error
from ledger.policy import Outcome, Verdict, evaluate
from ledger.validation import ValidatedFR, normalise
from ledger.vocabulary import AutomationLevel, Decision, GateType

__all__ = ["ACCEPTED", "DUPLICATE", "REJECTED", "AppendResult", "GateOutcome", "GovernanceLedger"]

ACCEPTED: Final = "accepted"
DUPLICATE: Final = "duplicate"
REJECTED: Final = "rejected"
_RETRIES: Final = 8
_CLOSED_KEPT: Final = 1024  # closed decisions kept for quick reads right after they close


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


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """
    What ``evaluate_gate`` / ``record_human_decision`` recorded.
    """

    decision_id: str
    status: str
    verdict: str
    decision: str | None
    threshold: float | None
    reason: str
    event_types: tuple[str, ...]
    event_ids: tuple[str, ...]

    @property
    def awaiting_human(self) -> bool:
        """
        A human must answer (``record_human_decision``) before the gate can close.
        """
        return self.status == "awaiting_human"

    @property
    def halted(self) -> bool:
        """
        LOCKED failed closed: the workflow must stop here (2.6.8.12.6.1).
        """
        return self.status == "halted"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class GovernanceLedger(Application[UUID]):
    """
    The governance ledger on one event store (SQLite file, in-memory, or PostgreSQL).
    """

    name = "govledger"

    def __init__(self, config: LedgerConfig | None = None) -> None:
        self.config = config or LedgerConfig()
        try:
            super().__init__(env=self.config.to_eventsourcing_env())
        except (PersistenceError, OSError) as exc:
            raise StoreError(
                f"cannot open the event store {self.config.store_label}: {exc}", rule="store"
            ) from None
        # Decisions between batches, so a lifecycle spanning batches is not replayed from the
        # store each time. Open decisions may still receive events; closed ones (after their
        # 002) only refusals, so few of them are kept: memory stays flat on long streams.
        self._cache: OrderedDict[UUID, GateEvaluation] = OrderedDict()
        self._closed: OrderedDict[UUID, GateEvaluation] = OrderedDict()

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # LedgerConfig is the only reader of the process environment: never merge it in here.
        return Environment(name, dict(env or {}))

    # --- ingestion -----------------------------------------------------------------

    def append(self, events: Iterable[Any]) -> list[AppendResult]:
        """
        Judge and store FR events (dicts, or ``LedgerError`` for inputs that did not parse).

        Every event is judged on its own, in order; refused events never block or undo
        the accepted ones. All accepted events are stored in one transaction, and are
        acknowledged only after it commits.
        """
        return self._append_retrying(list(events), atomic=False)

    def _append_retrying(self, items: Sequence[Any], **options: Any) -> list[AppendResult]:
        for attempt in range(_RETRIES):
            try:
                return self._append_once(items, **options)
            except IntegrityError:
                # Another writer got there first: forget what we believed and judge again.
                self._forget()
                if attempt == _RETRIES - 1:
                    raise StoreError(
                        "concurrent writers kept colliding; nothing in this batch was stored",
                        rule="store",
                    ) from None
        raise AssertionError  # pragma: no cover

    def append_one(self, event: Any) -> AppendResult:
        """
        ``append`` for a single event.
        """
        return self.append([event])[0]

    def _append_once(
        self,
        items: Sequence[Any],
        *,
        atomic: bool,
        new_ids: bool = False,
        new_decision: bool = False,
    ) -> list[AppendResult]:
        # 1. Each event alone: shape, type, normalisation (refusals are kept in place).
        judged: list[ValidatedFR | LedgerError] = []
        for item in items:
            if isinstance(item, LedgerError):
                judged.append(item)
                continue
            try:
                judged.append(normalise(item))
            except LedgerError as exc:
                judged.append(exc)
        # 2. What the batch needs from the store, in two round trips.
        candidates = [fr for fr in judged if not isinstance(fr, LedgerError)]
        # ``new_ids``: the ledger made these ids (uuid4) itself; none can be stored already,
        # and the index's PRIMARY KEY would still refuse a second copy.
        stored = (
            {} if new_ids else self._stored_event_ids([fr["event_id"].lower() for fr in candidates])
        )
        # ``new_decision``: the ledger made the decision_id (uuid4) itself, so nothing is stored.
        aggregates = (
            {}
            if new_decision
            else self._load({aggregate_id(fr["decision_id"]) for fr in candidates})
        )

        # 3. Each event against its decision as it stands after the events before it.
        results: list[AppendResult | str] = []
        pending: list[ev.GovEvent] = []
        touched: dict[UUID, GateEvaluation] = {}
        try:
            self._judge(judged, stored, aggregates, results, pending, touched, atomic=atomic)
            # 4. All accepted events in one transaction; acknowledged once it has committed.
            positions = iter(self._store(pending)) if pending else iter(())
            for event in pending:
                # The judged bytes are in the store now; cached decisions need not hold them.
                if isinstance(event.fr, ValidatedFR):
                    event.fr.release()
        except BaseException:
            # Judging works on the cached aggregates themselves (copying them costs more
            # than ingesting): whatever this batch applied to them is forgotten on failure.
            self._forget(touched)
            raise
        for oid, aggregate in touched.items():
            self._remember(oid, aggregate)
        # Accepted events were noted by their event_id until they had a position.
        return [
            AppendResult(r, ACCEPTED, None, next(positions)) if isinstance(r, str) else r
            for r in results
        ]

    def _judge(
        self,
        judged: list[ValidatedFR | LedgerError],
        stored: Mapping[str, bytes],
        aggregates: dict[UUID, GateEvaluation],
        results: list[AppendResult | str],
        pending: list[ev.GovEvent],
        touched: dict[UUID, GateEvaluation],
        *,
        atomic: bool,
    ) -> None:
        seen: dict[str, bytes] = {}
        for fr in judged:
            if isinstance(fr, LedgerError):
                if atomic:
                    raise fr
                results.append(AppendResult(fr.event_id, REJECTED, _detached(fr)))
                continue
            key = fr["event_id"].lower()
            try:
                previous = seen.get(key) or stored.get(key)
                if previous is not None:
                    raise duplicate_error(fr, identical=previous == fr.canonical)
                oid = aggregate_id(fr["decision_id"])
                aggregate = aggregates.get(oid)
                if aggregate is None:
                    aggregate = aggregates[oid] = GateEvaluation.create(fr)
                else:
                    aggregate.record(fr)
            except DuplicateEventError as exc:
                if atomic:
                    raise
                status = DUPLICATE if exc.identical else REJECTED
                results.append(AppendResult(fr["event_id"], status, _detached(exc)))
                continue
            except LedgerError as exc:
                if atomic:
                    raise
                results.append(AppendResult(fr["event_id"], REJECTED, _detached(exc)))
                continue
            seen[key] = fr.canonical
            touched[oid] = aggregate
            pending.extend(aggregate.collect_events())  # type: ignore[arg-type]
            results.append(fr["event_id"])

    def _store(self, pending: list[ev.GovEvent]) -> Sequence[int]:
        """
        Store ``pending`` in one transaction through the validating mapper; their positions.
        """
        try:
            # What ``self.events.put`` does, minus a Recording object per event.
            stored = [self.mapper.to_stored_event(event) for event in pending]
            positions = self.recorder.insert_events(stored)
        except IntegrityError:
            raise  # a concurrent writer stored one of these first: ``append`` judges again
        except PersistenceError as exc:
            raise StoreError(
                f"could not write to the event store {self.config.store_label}: {exc}; "
                "nothing in this batch was stored",
                rule="store",
            ) from None
        assert positions is not None  # noqa: S101 - govledger's recorders return positions
        return positions

    def _remember(self, oid: UUID, aggregate: GateEvaluation) -> None:
        if aggregate.applied_decision is None:
            cache, bound = self._cache, self.config.cache_decisions
        else:
            self._cache.pop(oid, None)
            cache, bound = self._closed, _CLOSED_KEPT
        cache[oid] = aggregate
        cache.move_to_end(oid)
        while len(cache) > bound:
            cache.popitem(last=False)

    def _forget(self, oids: Iterable[UUID] | None = None) -> None:
        """
        Drop cached decisions (all of them by default): the store is read again for them.
        """
        if oids is None:
            self._cache.clear()
            self._closed.clear()
            return
        for oid in oids:
            self._cache.pop(oid, None)
            self._closed.pop(oid, None)

    def _stored_event_ids(self, event_ids: Sequence[str]) -> dict[str, bytes]:
        if not event_ids:
            return {}
        try:
            return self.recorder.find_event_ids(event_ids)  # type: ignore[attr-defined,no-any-return]
        except PersistenceError as exc:
            raise StoreError(
                f"could not read the event store {self.config.store_label}: {exc}", rule="store"
            ) from None

    def _load(self, oids: set[UUID], *, cached: bool = True) -> dict[UUID, GateEvaluation]:
        """
        Current aggregates for ``oids`` (absent ones are new decisions), cache first.

        Cached aggregates are returned themselves, not copies: only ``_append_once``
        may change them, and it forgets them if its batch fails. The cache only speeds up
        writes: a stale entry (another process appended) makes the insert collide on
        (aggregate, version), and the batch is judged again from the store. Reads for
        callers pass ``cached=False`` (and so get aggregates of their own).
        """
        found: dict[UUID, GateEvaluation] = {}
        missing: list[UUID] = []
        for oid in oids:
            cached_agg = (self._cache.get(oid) or self._closed.get(oid)) if cached else None
            if cached_agg is None:
                missing.append(oid)
            else:
                found[oid] = cached_agg
        if missing:
            try:
                stored = self.recorder.select_events_many(missing)  # type: ignore[attr-defined]
            except PersistenceError as exc:
                raise StoreError(
                    f"could not read the event store {self.config.store_label}: {exc}",
                    rule="store",
                ) from None
            for oid, rows in stored.items():
                aggregate: Any = None
                for row in rows:
                    aggregate = self.mapper.to_domain_event(row).mutate(aggregate)  # type: ignore[attr-defined]
                found[oid] = aggregate
        return found

    # --- reading ---------------------------------------------------------------------

    def gate(self, decision_id: str) -> GateEvaluation | None:
        """
        The decision's aggregate, or None if it was never created.
        """
        _require_text("gate", decision_id=decision_id)
        oid = aggregate_id(decision_id)
        return self._load({oid}, cached=False).get(oid)

    def decision(self, decision_id: str) -> DecisionRecord | None:
        """
        The decision's artifacts (GovernanceDecision, AutoSignature) and event sequence.
        """
        agg = self.gate(decision_id)
        if agg is None:
            return None
        return DecisionRecord.from_history(
            agg.history,
            status=agg.status,
            effective_decision=agg.effective_decision,
            threshold=agg.outcome.threshold,
        )

    def stored_events(
        self, *, start: int = 1, limit: int = 1000, stop: int | None = None
    ) -> Iterator[tuple[int, bytes]]:
        """
        (position, canonical bytes) of stored events in store order, fetched in pages.
        """
        position = start
        # A recorder with ``select_states`` pages (position, state) without the library's
        # Notification objects; any other recorder goes through select_notifications.
        fast = getattr(self.recorder, "select_states", None)
        while True:
            try:
                if fast is not None:
                    page = fast(position, limit, stop)
                else:
                    page = [
                        (n.id, bytes(n.state))
                        for n in self.recorder.select_notifications(position, limit, stop=stop)
                    ]
            except PersistenceError as exc:
                raise StoreError(
                    f"could not read the event store {self.config.store_label}: {exc}",
                    rule="store",
                ) from None
            if not page:
                return
            yield from page
            position = page[-1][0] + 1

    def position_at(self, moment: datetime) -> int:
        """
        The last store position the ledger had recorded at ``moment`` (0: none yet).
        """
        if moment.tzinfo is None:
            msg = "moment must carry a time zone"
            raise ValueError(msg)
        text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        try:
            return int(self.recorder.position_at(text))  # type: ignore[attr-defined]
        except PersistenceError as exc:
            raise StoreError(
                f"could not read the event store {self.config.store_label}: {exc}", rule="store"
            ) from None

    def max_position(self) -> int:
        """
        The last store position (0 for an empty store).
        """
        try:
            return int(self.recorder.max_notification_id() or 0)
        except PersistenceError as exc:
            raise StoreError(
                f"could not read the event store {self.config.store_label}: {exc}", rule="store"
            ) from None

    # --- command API ------------------------------------------------------------------

    def evaluate_gate(
        self,
        gate_type: str,
        target_ref: str,
        automation_level: str,
        decision: str,
        confidence: float | None,
        rationale: str = "",
        evidence_refs: Sequence[str] | None = None,
        model_id: str | None = None,
        *,
        decision_id: str | None = None,
        wp_id: str | None = None,
        mt_id: str | None = None,
        job_id: str | None = None,
        actor: str = "agent",
    ) -> GateOutcome:
        """
        Apply the gate table and record the right sequence, durably, in one transaction.

        * auto-approved: 001 -> 003 -> 002 (approve);
        * a human is needed and allowed: 001 -> 004 (``awaiting_human``);
        * LOCKED where a human would be needed: 001 (defer; reject for CloudEscalation and
          PolicyViolation) -> 002, and the outcome is ``halted``;
        * a reject/defer the table lets the model make: 001 -> 002.
        """
        _require_text(
            "evaluate_gate",
            gate_type=gate_type,
            automation_level=automation_level,
            decision_id=decision_id,
            rationale=rationale,
            optional=("decision_id",),
        )
        if confidence is not None and (
            isinstance(confidence, bool) or not isinstance(confidence, int | float)
        ):
            raise InvalidSchemaError(
                "evaluate_gate: field 'confidence' has the wrong JSON type (a number in [0, 1])",
                field="confidence",
                rule="type",
            )
        try:
            level = AutomationLevel.parse(automation_level)
        except ValueError:
            raise InvalidSchemaError(
                "evaluate_gate: field 'automation_level' is not one of the allowed values "
                "(FULL_HUMAN, HYBRID, AUTONOMOUS, LOCKED; legacy ASSISTED/SUPERVISED)",
                field="automation_level",
                rule="enum",
            ) from None
        new_decision = decision_id is None
        decision_id = decision_id or str(uuid.uuid4())
        outcome = evaluate(gate_type, level, confidence)
        base: dict[str, Any] = {
            "decision_id": decision_id,
            "gate_type": gate_type,
            "target_ref": target_ref,
            "automation_level": level.value,
        }
        correlation = (("wp_id", wp_id), ("mt_id", mt_id), ("job_id", job_id))
        base.update({key: value for key, value in correlation if value is not None})
        recorded = decision
        rationale_001 = rationale
        if outcome.verdict is Verdict.HALT:
            # LOCKED fails closed: record the reject/defer first, then halt the workflow.
            closing = gate_type in (GateType.CLOUD_ESCALATION, GateType.POLICY_VIOLATION)
            recorded = Decision.REJECT.value if closing else Decision.DEFER.value
            rationale_001 = _bounded(
                f"LOCKED halt: {outcome.reason}. The model proposed {decision}"
                + (f": {rationale}" if rationale else ".")
            )
        created = self._decision_created(
            base, actor, recorded, confidence, rationale_001, evidence_refs, model_id
        )
        sequence = [created]
        if outcome.verdict is Verdict.HALT or (
            outcome.verdict is Verdict.AUTO and recorded != Decision.APPROVE
        ):
            sequence.append(
                self._fr("gov_decision_applied", base, actor="system", decision=recorded)
            )
        elif outcome.verdict is Verdict.AUTO:
            sequence.append(
                self._fr("gov_auto_signature_created", base, actor=actor, model_id=model_id)
            )
            sequence.append(
                self._fr("gov_decision_applied", base, actor="system", decision=recorded)
            )
        else:
            sequence.append(
                self._fr(
                    "gov_human_intervention_requested",
                    base,
                    actor="system",
                    rationale=_bounded(outcome.reason),
                )
            )
        return self._record_sequence(
            decision_id, sequence, outcome, new_ids=True, new_decision=new_decision
        )

    def record_human_decision(
        self,
        decision_id: str,
        user_id: str,
        decision: str,
        rationale: str = "",
        *,
        final: bool = True,
    ) -> GateOutcome:
        """
        Record a human's answer (005) and, when it is final, close the gate (002).
        """
        _require_text("record_human_decision", decision_id=decision_id)
        agg = self.gate(decision_id)
        if agg is None:
            raise SequenceViolationError(
                f"decision_id {redact(decision_id)!r} does not exist: a human answers a "
                "recorded decision (2.6.8.12.6.4)",
                field="decision_id",
                rule="2.6.8.12.6.4",
                decision_id=redact(decision_id),
            )
        base = {
            "decision_id": decision_id,
            "gate_type": agg.gate_type,
            "target_ref": agg.target_ref,
            "automation_level": agg.automation_level.value,
        }
        received = self._fr(
            "gov_human_intervention_received",
            base,
            actor="human",
            decision=decision,
            rationale=rationale,
            user_id=user_id,
        )
        sequence = [received]
        if final:
            sequence.append(
                self._fr("gov_decision_applied", base, actor="system", decision=decision)
            )
        return self._record_sequence(decision_id, sequence, agg.outcome, new_ids=True)

    # --- step commands: for orchestrators that drive each step themselves ---------------

    def create_decision(
        self,
        gate_type: str,
        target_ref: str,
        automation_level: str,
        decision: str | None,
        confidence: float | None,
        rationale: str = "",
        evidence_refs: Sequence[str] | None = None,
        model_id: str | None = None,
        *,
        decision_id: str | None = None,
        event_id: str | None = None,
        actor: str = "agent",
        **correlation: str,
    ) -> GateOutcome:
        """
        Record only the 001; the caller drives the rest (``auto_sign``, ``apply_decision``...).

        The ledger still refuses what the rules forbid, e.g. an approving 001 under
        LOCKED where a human would be needed (``locked_halt``).
        """
        base: dict[str, Any] = {
            "decision_id": decision_id or str(uuid.uuid4()),
            "gate_type": gate_type,
            "target_ref": target_ref,
            "automation_level": automation_level,
            **correlation,
        }
        created = self._decision_created(
            base, actor, decision, confidence, rationale, evidence_refs, model_id, event_id
        )
        return self._step(created)

    def auto_sign(
        self,
        decision_id: str,
        model_id: str | None = None,
        confidence: float | None = None,
        *,
        event_id: str | None = None,
    ) -> GateOutcome:
        """
        Record an AutoSignature (003); ``forbidden_gate`` where the table forbids it.
        """
        return self._step(
            self._next(
                decision_id,
                "gov_auto_signature_created",
                "agent",
                event_id=event_id,
                model_id=model_id,
                confidence=confidence,
            )
        )

    def request_human_intervention(
        self, decision_id: str, rationale: str = "", *, event_id: str | None = None
    ) -> GateOutcome:
        """
        Record a human intervention request (004); ``locked_halt`` under LOCKED.
        """
        return self._step(
            self._next(
                decision_id,
                "gov_human_intervention_requested",
                "system",
                event_id=event_id,
                rationale=rationale,
            )
        )

    def apply_decision(
        self, decision_id: str, decision: str | None = None, *, event_id: str | None = None
    ) -> GateOutcome:
        """
        Close the gate (002) with the effective decision (or ``decision``, which must match it).
        """
        agg = self._existing(decision_id)
        return self._step(
            self._next(
                decision_id,
                "gov_decision_applied",
                "system",
                event_id=event_id,
                decision=decision or agg.effective_decision,
                agg=agg,
            )
        )

    def _existing(self, decision_id: str) -> GateEvaluation:
        agg = self.gate(decision_id)
        if agg is None:
            raise SequenceViolationError(
                f"decision_id {redact(decision_id)!r} does not exist: every later event needs "
                "its gov_decision_created first (2.6.8.12.6.4)",
                field="decision_id",
                rule="2.6.8.12.6.4",
                decision_id=redact(decision_id),
            )
        return agg

    def _next(
        self,
        decision_id: str,
        event_type: str,
        actor: str,
        *,
        agg: GateEvaluation | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        agg = agg or self._existing(decision_id)
        base = {
            "decision_id": decision_id,
            "gate_type": agg.gate_type,
            "target_ref": agg.target_ref,
            "automation_level": agg.automation_level.value,
        }
        return self._fr(event_type, base, actor=actor, **fields)

    def _step(self, fr: dict[str, Any]) -> GateOutcome:
        return self._record_sequence(fr["decision_id"], [fr], None)

    def _record_sequence(
        self,
        decision_id: str,
        sequence: list[dict[str, Any]],
        outcome: Outcome | None,
        *,
        new_ids: bool = False,
        new_decision: bool = False,
    ) -> GateOutcome:
        # The ledger decided: either the whole sequence is stored or none of it is.
        results = self._append_retrying(
            sequence, atomic=True, new_ids=new_ids, new_decision=new_decision
        )
        for result in results:
            if result.error is not None:
                raise result.error
        # The decision as this commit left it: the aggregate just judged, kept in the cache.
        oid = aggregate_id(decision_id)
        agg = self._load({oid}).get(oid)
        assert agg is not None  # noqa: S101 - it was just stored
        outcome = outcome or agg.outcome
        return GateOutcome(
            decision_id=decision_id,
            status=agg.status,
            verdict=outcome.verdict.value,
            decision=agg.effective_decision,
            threshold=outcome.threshold,
            reason=outcome.reason,
            event_types=tuple(fr["type"] for fr in sequence),
            event_ids=tuple(fr["event_id"] for fr in sequence),
        )

    def _decision_created(
        self,
        base: Mapping[str, Any],
        actor: str,
        decision: str | None,
        confidence: float | None,
        rationale: str,
        evidence_refs: Sequence[str] | None,
        model_id: str | None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        return self._fr(
            "gov_decision_created",
            base,
            actor=actor,
            event_id=event_id,
            decision=decision,
            confidence=confidence,
            rationale=rationale,
            # Anything but a sequence goes to the schema as it is, to be refused by type.
            evidence_refs=list(evidence_refs)
            if isinstance(evidence_refs, list | tuple)
            else evidence_refs,
            model_id=model_id,
        )

    @staticmethod
    def _fr(
        event_type: str, base: Mapping[str, Any], *, actor: str, **fields: Any
    ) -> dict[str, Any]:
        fr: dict[str, Any] = {
            "type": event_type,
            "event_id": fields.pop("event_id", None) or str(uuid.uuid4()),
            "timestamp": _now(),
            "actor": actor,
            **base,
        }
        fr.update({k: v for k, v in fields.items() if v is not None and v != ""})
        return fr


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


def _require_text(command: str, *, optional: tuple[str, ...] = (), **values: Any) -> None:
    # Keys into the gate table and the aggregate id: anything but text is refused here, before
    # it can reach a dict lookup or uuid5 (the other fields are judged by the schemas).
    for name, value in values.items():
        if value is None and name in optional:
            continue
        if not isinstance(value, str):
            raise InvalidSchemaError(
                f"{command}: field {name!r} has the wrong JSON type (must be a string)",
                field=name,
                rule="type",
            )
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise InvalidSchemaError(
                    f"{command}: field {name!r} is not valid Unicode (a lone surrogate)",
                    field=name,
                    rule="utf-8",
                ) from None


_RATIONALE_BOUND: Final = 4096  # schemas/fr_event_base.schema.json#/definitions/rationale


def _bounded(text: str) -> str:
    if len(text) <= _RATIONALE_BOUND:
        return text
    return text[: _RATIONALE_BOUND - 3] + "..."
