"""``GateEvaluation``: one aggregate per gate evaluation (one ``decision_id``).

The aggregate owns the rules of 2.6.8.12: order (2.6.8.12.6.4), binding
(2.6.8.12.6.3), the gate automation table (2.6.8.12.2) and LOCKED fail-closed
(2.6.8.12.6.1). Guards raise before any state changes, so a refused event
leaves the aggregate exactly as it was. No I/O here.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from eventsourcing.domain import Aggregate

from ledger import events as ev
from ledger.errors import (
    BindingMismatchError,
    DuplicateEventError,
    ForbiddenGateError,
    InvalidSchemaError,
    LockedHaltError,
    SequenceViolationError,
)
from ledger.policy import NEVER_AUTO_SIGNED, AutoIf, Outcome, Verdict, evaluate, rule_for
from ledger.vocabulary import AutomationLevel, Decision

__all__ = [
    "DECISION_NAMESPACE",
    "GateEvaluation",
    "Status",
    "aggregate_id",
    "check_event_alone",
    "decision_status",
    "duplicate_error",
    "is_locked_halt",
]

#: Namespace of the deterministic aggregate id: one decision_id, one aggregate, ever.
DECISION_NAMESPACE: Final = uuid.UUID("6f1c7a52-3f0e-5b8e-9d57-9a8e0c1b2d41")

CREATED: Final = ev.DecisionCreated.event_type
APPLIED: Final = ev.DecisionApplied.event_type
SIGNED: Final = ev.AutoSignatureCreated.event_type
REQUESTED: Final = ev.HumanInterventionRequested.event_type
RECEIVED: Final = ev.HumanInterventionReceived.event_type
_CLOSING: Final = frozenset({Decision.REJECT.value, Decision.DEFER.value})


@functools.lru_cache(maxsize=1 << 16)  # uuid5 hashes on every call; ingestion asks ~3x per event
def aggregate_id(decision_id: str) -> uuid.UUID:
    """
    The aggregate id of ``decision_id`` (UUIDv5): a second 001 collides with the first.
    """
    return uuid.uuid5(DECISION_NAMESPACE, decision_id)


class Status:
    """
    Where a decision stands; the projection's ``status`` column uses the same words.
    """

    OPEN = "open"
    AWAITING_HUMAN = "awaiting_human"
    AUTO_APPROVED = "auto_approved"
    HUMAN_APPROVED = "human_approved"
    HUMAN_REJECTED = "human_rejected"
    REJECTED = "rejected"
    DEFERRED = "deferred"
    HALTED = "halted"


def is_locked_halt(level: str, verdict: str, model_decision: str | None) -> bool:
    """
    A LOCKED decision that needed a human, recorded as reject/defer (2.6.8.12.6.1).

    Pure, so the read side classifies halts by the same rule as the aggregate.
    """
    return (
        level == AutomationLevel.LOCKED and verdict == Verdict.HALT and model_decision in _CLOSING
    )


def decision_status(
    *,
    applied_decision: str | None,
    pending_request: bool,
    signed: bool,
    halt: bool,
    human_decision: str | None,
) -> str:
    """
    One of ``Status``'s words for a decision in this state.

    Pure, so the read side's ``status`` column is the aggregate's ``status``.
    """
    if applied_decision is None:
        if pending_request:
            return Status.AWAITING_HUMAN
        return Status.HALTED if halt else Status.OPEN
    if applied_decision == Decision.APPROVE:
        return Status.AUTO_APPROVED if signed else Status.HUMAN_APPROVED
    if halt:
        return Status.HALTED
    if human_decision == Decision.REJECT:
        return Status.HUMAN_REJECTED
    return Status.REJECTED if applied_decision == Decision.REJECT else Status.DEFERRED


def _ids(fr: Mapping[str, Any]) -> dict[str, Any]:
    return {"decision_id": fr["decision_id"], "event_type": fr["type"], "event_id": fr["event_id"]}


def _auto_signature_refusal(
    gate_type: str, level: AutomationLevel, confidence: float | None, whose: str
) -> str | None:
    """
    Why the table forbids an AutoSignature here (None: it does not).
    """
    if gate_type in NEVER_AUTO_SIGNED:
        return (
            f"AutoSignature MUST NOT be used for {gate_type} (2.6.8.12.4, 2.6.8.12.6.3), "
            "at any automation level"
        )
    if level is AutomationLevel.FULL_HUMAN:
        return "FULL_HUMAN: every gate requires human approval (2.6.8.12.2)"
    rule = rule_for(gate_type, level)
    if not isinstance(rule, AutoIf):
        return f"{gate_type} x {level.value} requires a human (2.6.8.12.2)"
    if rule.threshold is not None and (confidence is None or confidence < rule.threshold):
        shown = "missing" if confidence is None else confidence
        return (
            f"{whose} confidence {shown} is below the {gate_type} x {level.value} threshold "
            f"{rule.threshold} (2.6.8.12.2, inclusive)"
        )
    return None


def check_event_alone(fr: Mapping[str, Any]) -> None:
    """
    The policy checks one normalised event decides without its history.

    An AutoSignature its own gate type, level or confidence forbids; 004/005
    under LOCKED; an approving (or undecided) 001 under LOCKED where a human
    would be needed.
    """
    event_type = fr["type"]
    level = AutomationLevel(fr["automation_level"])
    if event_type == SIGNED:
        gate_type, confidence = fr["gate_type"], fr.get("confidence")
        rule = rule_for(gate_type, level)
        # Alone, a 003 without confidence is judged only by its gate and level;
        # the 001's confidence decides the threshold once the history is known.
        shown = confidence if confidence is not None or not isinstance(rule, AutoIf) else 1.0
        why = _auto_signature_refusal(gate_type, level, shown, "the AutoSignature's")
        if why is not None:
            raise ForbiddenGateError(why, field="gate_type", rule="2.6.8.12.2", **_ids(fr))
    elif level is AutomationLevel.LOCKED:
        if event_type in (REQUESTED, RECEIVED):
            raise LockedHaltError(
                "LOCKED: no human intervention is permitted (2.6.8.12.6.1); record a reject or "
                "defer decision and halt",
                field="automation_level",
                rule="2.6.8.12.6.1",
                **_ids(fr),
            )
        if event_type == CREATED and fr.get("decision") not in _CLOSING:
            outcome = evaluate(fr["gate_type"], level, fr.get("confidence"))
            if outcome.verdict is Verdict.HALT:
                raise LockedHaltError(
                    f"{outcome.reason}: under LOCKED the only decision that may be recorded is "
                    "reject or defer, followed by its 002 (2.6.8.12.6.1, 11.1.7.3)",
                    field="decision",
                    rule="2.6.8.12.6.1",
                    **_ids(fr),
                )


class GateEvaluation(Aggregate):
    """
    One gate evaluation, identified by ``aggregate_id(decision_id)``.

    State is derived only from the stored FR events, through ``when``.
    """

    TOPIC = ev.AGGREGATE_TOPIC

    # Explicit, so the library does not define (and need topics for) classes of its own.
    Event = ev.GovEvent
    Created = ev.DecisionCreated  # type: ignore[assignment]  # our 001 is the created event
    DecisionApplied = ev.DecisionApplied
    AutoSignatureCreated = ev.AutoSignatureCreated
    HumanInterventionRequested = ev.HumanInterventionRequested
    HumanInterventionReceived = ev.HumanInterventionReceived

    if TYPE_CHECKING:  # set by ``when`` from the 001; not dataclass fields
        decision_id: str
        gate_type: str
        target_ref: str
        automation_level: AutomationLevel
        model_decision: str | None
        confidence: float | None
        outcome: Outcome
        history: list[Mapping[str, Any]]
        by_event_id: dict[str, Mapping[str, Any]]
        signed: bool
        pending_request: bool
        human_decision: str | None
        applied_decision: str | None

    # --- commands -----------------------------------------------------------------

    @classmethod
    def create(cls, fr: Mapping[str, Any]) -> GateEvaluation:
        """
        Start a decision with its FR-EVT-GOV-001.
        """
        check_event_alone(fr)
        if fr["type"] != CREATED:
            raise SequenceViolationError(
                f"{fr['type']} for decision_id {fr['decision_id']!r}, which has no "
                "gov_decision_created: the first event of a decision is FR-EVT-GOV-001 "
                "(2.6.8.12.6.4)",
                field="type",
                rule="2.6.8.12.6.4",
                **_ids(fr),
            )
        # What ``Aggregate._create`` does, without its per-call keyword machinery:
        # build the created event, start the aggregate from it, keep it pending.
        oid = aggregate_id(fr["decision_id"])
        created = ev.build(ev.DecisionCreated, oid, cls.INITIAL_VERSION, fr)
        aggregate = cls.__new__(cls)
        aggregate.__base_init__(oid, created.originator_version, created.timestamp)
        created.apply(aggregate)
        aggregate._pending_events.append(created)  # noqa: SLF001 - the library's own list
        return aggregate

    def record(self, fr: Mapping[str, Any]) -> None:
        """
        Append one later event (002..005) after checking every rule.
        """
        self.check(fr)
        # ``trigger_event`` without its keyword machinery; ``mutate`` still checks the
        # event is this aggregate's next one before applying it.
        event = ev.build(ev.EVENT_TYPES[fr["type"]], self.id, self.version + 1, fr)
        event.mutate(self)
        self._pending_events.append(event)

    # --- guards ---------------------------------------------------------------------

    def check_duplicate(self, fr: Mapping[str, Any], fingerprint: bytes) -> None:
        """
        ``duplicate`` if this decision already holds ``fr['event_id']``.
        """
        stored = self.by_event_id.get(fr["event_id"].lower())
        if stored is not None:
            raise duplicate_error(fr, identical=ev.canonical_bytes(stored) == fingerprint)

    def check(self, fr: Mapping[str, Any]) -> None:  # noqa: C901 - one guard per rule, spec order
        """
        Every rule for appending ``fr`` to this decision; raises, never mutates.
        """
        event_type = fr["type"]
        ids = _ids(fr)
        # What the event alone forbids is refused first, so ingest and validate agree.
        check_event_alone(fr)
        if event_type == CREATED:
            raise SequenceViolationError(
                f"decision_id {self.decision_id!r} already has its gov_decision_created; a "
                "decision is created once (2.6.8.12.6.4)",
                field="decision_id",
                rule="2.6.8.12.6.4",
                **ids,
            )
        for field in ("gate_type", "target_ref", "automation_level"):
            if fr[field] != getattr(self, field):
                raise BindingMismatchError(
                    f"{event_type}: {field} differs from the decision's gov_decision_created; "
                    f"every event of a decision is bound to its decision_id + gate_type + "
                    f"target_ref, and the automation_level is pinned at creation "
                    f"(2.6.8.12.6.3, 4.3.7.1)",
                    field=field,
                    rule="2.6.8.12.6.3",
                    **ids,
                )
        if self.applied_decision is not None:
            raise SequenceViolationError(
                f"{event_type} after gov_decision_applied: nothing follows FR-EVT-GOV-002 "
                "(2.6.8.12.6.4)",
                field="type",
                rule="2.6.8.12.6.4",
                **ids,
            )
        if event_type == SIGNED:
            self._check_signature(fr, ids)
        elif event_type == REQUESTED:
            if self.signed:
                raise _order(
                    "gov_human_intervention_requested after gov_auto_signature_created: an "
                    "auto-signed gate needs no human",
                    ids,
                )
            if self.pending_request:
                raise _order("a human intervention is already pending for this decision", ids)
        elif event_type == RECEIVED:
            if not self.pending_request:
                raise _order(
                    "gov_human_intervention_received needs a pending "
                    "gov_human_intervention_requested",
                    ids,
                )
        elif event_type == APPLIED:
            self._check_apply(fr, ids)

    def _check_signature(self, fr: Mapping[str, Any], ids: dict[str, Any]) -> None:
        why = _auto_signature_refusal(
            self.gate_type, self.automation_level, self.confidence, "the decision's"
        )
        if why is not None:
            raise ForbiddenGateError(why, field="confidence", rule="2.6.8.12.2", **ids)
        if self.signed:
            raise _order("the decision already has its AutoSignature", ids)
        if self.effective_decision != Decision.APPROVE:
            raise _order(
                f"an AutoSignature needs an approve decision; the decision is "
                f"{self.effective_decision or 'undecided'}",
                ids,
                field="decision",
            )
        if fr.get("model_id") is None and self.history[0].get("model_id") is None:
            # hsk.auto_signature@0.1 requires actor.model_id: without it no artifact exists.
            raise InvalidSchemaError(
                "gov_auto_signature_created: field 'model_id' is required on the 003 or its "
                "001: an AutoSignature names the model that signed (2.6.8.12.6.3)",
                field="model_id",
                rule="required",
                **ids,
            )

    def _check_apply(self, fr: Mapping[str, Any], ids: dict[str, Any]) -> None:
        effective = self.effective_decision
        stated = fr.get("decision")
        if stated is not None and stated != effective:
            raise BindingMismatchError(
                f"gov_decision_applied: decision {stated!r} differs from the effective "
                f"decision {effective!r} (the human's answer from 005, else the 001's)",
                field="decision",
                rule="2.6.8.12.6.3",
                **ids,
            )
        if effective is None:
            raise _order("gov_decision_applied with no decision to apply", ids, field="decision")
        if effective == Decision.APPROVE and not (
            self.signed or self.human_decision == Decision.APPROVE
        ):
            raise _order(
                "an approving gov_decision_applied needs a prior gov_auto_signature_created or "
                "an approving gov_human_intervention_received",
                ids,
            )

    # --- state ------------------------------------------------------------------------

    @property
    def effective_decision(self) -> str | None:
        """
        The human's answer when there is one, else the 001's decision.
        """
        return self.human_decision if self.human_decision is not None else self.model_decision

    @property
    def is_halt(self) -> bool:
        """
        A LOCKED decision that needed a human, recorded as reject/defer (2.6.8.12.6.1).
        """
        return is_locked_halt(self.automation_level, self.outcome.verdict, self.model_decision)

    @property
    def status(self) -> str:
        """
        One of ``Status``'s words.
        """
        return decision_status(
            applied_decision=self.applied_decision,
            pending_request=self.pending_request,
            signed=self.signed,
            halt=self.is_halt,
            human_decision=self.human_decision,
        )

    def when(self, event: ev.GovEvent) -> None:
        """
        Evolve state from one stored event (the apply logic of all five).
        """
        fr = event.fr
        event_type = fr["type"]
        if event_type == CREATED:
            self.decision_id = fr["decision_id"]
            self.gate_type = fr["gate_type"]
            self.target_ref = fr["target_ref"]
            self.automation_level = AutomationLevel(fr["automation_level"])
            self.model_decision = fr.get("decision")
            self.confidence = fr.get("confidence")
            self.outcome = evaluate(self.gate_type, self.automation_level, self.confidence)
            self.history = []
            self.by_event_id = {}
            self.signed = False
            self.pending_request = False
            self.human_decision = None
            self.applied_decision = None
        elif event_type == SIGNED:
            self.signed = True
        elif event_type == REQUESTED:
            self.pending_request = True
        elif event_type == RECEIVED:
            self.pending_request = False
            if fr.get("decision") is not None:
                self.human_decision = fr["decision"]
        elif event_type == APPLIED:
            self.applied_decision = fr.get("decision") or self.effective_decision
        self.history.append(fr)
        self.by_event_id[fr["event_id"].lower()] = fr


def _order(what: str, ids: dict[str, Any], field: str = "type") -> SequenceViolationError:
    return SequenceViolationError(
        f"{ids['event_type']}: {what} (2.6.8.12.6.4)", field=field, rule="2.6.8.12.6.4", **ids
    )


def duplicate_error(fr: Mapping[str, Any], *, identical: bool) -> DuplicateEventError:
    if identical:
        message = (
            f"event_id {fr['event_id']} is already stored (identical re-send, not stored again)"
        )
    else:
        message = (
            f"event_id {fr['event_id']} is already stored with different content; an event_id "
            "names one event forever"
        )
    return DuplicateEventError(
        message, identical=identical, field="event_id", rule="unique", **_ids(fr)
    )
