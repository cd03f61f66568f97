"""``GateEvaluation``: one aggregate per gate evaluation (one ``decision_id``).

The aggregate guards the rules of 2.6.8.12 before it records anything: order
(2.6.8.12.6.4), binding (2.6.8.12.6.3), the gate automation table (2.6.8.12.2)
and LOCKED fail-closed (2.6.8.12.6.1). Every policy answer comes from the
decision's ``GatePolicy`` and every fact about the decision from its
``DecisionState``; guards raise before any state changes, so a refused event
leaves the aggregate exactly as it was. No I/O here.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from eventsourcing.domain import Aggregate

from ledger import events as ev
from ledger.decision_state import DecisionState, Status, evolve, human_attributed
from ledger.errors import (
    BindingMismatchError,
    DuplicateEventError,
    ForbiddenGateError,
    InvalidSchemaError,
    LockedHaltError,
    SequenceViolationError,
)
from ledger.events import APPLIED, CREATED, RECEIVED, REQUESTED, SIGNED
from ledger.policy import BUILTIN, GatePolicy, Verdict
from ledger.vocabulary import AutomationLevel, Decision

__all__ = [
    "DECISION_NAMESPACE",
    "GateEvaluation",
    "Status",
    "aggregate_id",
    "check_event_alone",
    "duplicate_error",
]

#: Namespace of the deterministic aggregate id: one decision_id, one aggregate, ever.
DECISION_NAMESPACE: Final = uuid.UUID("6f1c7a52-3f0e-5b8e-9d57-9a8e0c1b2d41")

_CLOSING: Final = frozenset({Decision.REJECT.value, Decision.DEFER.value})
_BOUND: Final = ("gate_type", "target_ref", "automation_level")


@functools.lru_cache(maxsize=1 << 16)  # uuid5 hashes on every call; ingestion asks ~3x per event
def aggregate_id(decision_id: str) -> uuid.UUID:
    """
    The aggregate id of ``decision_id`` (UUIDv5): a second 001 collides with the first.
    """
    return uuid.uuid5(DECISION_NAMESPACE, decision_id)


def _ids(fr: Mapping[str, Any]) -> dict[str, Any]:
    return {"decision_id": fr["decision_id"], "event_type": fr["type"], "event_id": fr["event_id"]}


def check_event_alone(fr: Mapping[str, Any], policy: GatePolicy = BUILTIN) -> None:
    """
    The policy checks one normalised event decides without its history.

    Under LOCKED, 004/005, and an approving (or undecided) 001, 003 or 002 where a human
    would be needed (first: LOCKED takes precedence); what the policy asks of the text
    and of a human's answer; an AutoSignature its own gate type, level or confidence
    forbids.
    """
    event_type = fr["type"]
    level = AutomationLevel(fr["automation_level"])
    gate_type, confidence = fr["gate_type"], fr.get("confidence")
    if (
        event_type in (SIGNED, APPLIED)
        and confidence is None
        and policy.is_thresholded(gate_type, level)
    ):
        # Alone, a 003 or 002 without confidence is judged only by its gate and level;
        # the 001's confidence decides the threshold once the history is known.
        confidence = 1.0
    if level is AutomationLevel.LOCKED:
        _check_locked_alone(fr, policy, confidence)
    if policy.text == "refs_only":
        _check_refs_only(fr)
    if event_type == RECEIVED and policy.require_human_identity and not human_attributed(fr):
        raise InvalidSchemaError(
            f"{event_type}: field 'user_id' must name the human who answered (and actor must "
            f"be human): the gate policy {policy.version!r} requires human identity",
            field="user_id",
            rule="require_human_identity",
            **_ids(fr),
        )
    if event_type == SIGNED:
        why = policy.auto_signature_refusal(gate_type, level, confidence, "the AutoSignature's")
        if why is not None:
            raise ForbiddenGateError(why, field="gate_type", rule="2.6.8.12.2", **_ids(fr))


def _check_locked_alone(
    fr: Mapping[str, Any], policy: GatePolicy, confidence: float | None
) -> None:
    """
    LOCKED takes precedence (2.6.8.12.6.1): where a human would be needed, whatever would
    approve the gate or bring in a human is a halt, before any other rule.
    """
    event_type = fr["type"]
    if event_type == CREATED and fr.get("decision") in _CLOSING:
        return  # the halt itself: a reject or defer
    if event_type in (REQUESTED, RECEIVED):
        raise _locked(
            "LOCKED: no human intervention is permitted (2.6.8.12.6.1); record a reject "
            "or defer decision and halt",
            fr,
            "automation_level",
        )
    if event_type == APPLIED and fr.get("decision") != Decision.APPROVE:
        return
    outcome = policy.evaluate(fr["gate_type"], AutomationLevel.LOCKED, confidence)
    if outcome.verdict is Verdict.HALT:
        raise _locked(
            f"{outcome.reason}: under LOCKED the only decision that may be recorded "
            "is reject or defer, followed by its 002 (2.6.8.12.6.1, 11.1.7.3)",
            fr,
            "decision" if event_type != SIGNED else "automation_level",
        )


#: The upstream runtime's safe-token character set: references, never prose (no spaces, so
#: no sentences and no e-mail addresses). The work packet's risk map: "events must be refs only".
_REF_TOKEN: Final = re.compile(r"[A-Za-z0-9_\-:./]*")


def _check_refs_only(fr: Mapping[str, Any]) -> None:
    for field in ("rationale", "target_ref"):
        value = fr.get(field)
        if value is not None and not _REF_TOKEN.fullmatch(value):
            raise _not_a_ref(fr, field)
    if any(not _REF_TOKEN.fullmatch(ref) for ref in fr.get("evidence_refs", ())):
        raise _not_a_ref(fr, "evidence_refs")


def _not_a_ref(fr: Mapping[str, Any], field: str) -> InvalidSchemaError:
    return InvalidSchemaError(
        f"{fr['type']}: field '{field}' is not a reference: the gate policy allows only "
        "refs (letters, digits and _ - : . /; no spaces), not text",
        field=field,
        rule="refs_only",
        **_ids(fr),
    )


def _locked(why: str, fr: Mapping[str, Any], field: str) -> LockedHaltError:
    return LockedHaltError(why, field=field, rule="2.6.8.12.6.1", **_ids(fr))


class GateEvaluation(Aggregate):
    """
    One gate evaluation, identified by ``aggregate_id(decision_id)``.

    ``state`` is folded from the stored FR events by ``decision_state.evolve``;
    ``history`` is those events, in order; ``policy`` is the gate policy the
    decision was created under (pinned for its whole life).
    """

    TOPIC = ev.AGGREGATE_TOPIC

    # Explicit, so the library does not define (and need topics for) classes of its own.
    Event = ev.GovEvent
    Created = ev.DecisionCreated  # type: ignore[assignment]  # our 001 is the created event
    DecisionApplied = ev.DecisionApplied
    AutoSignatureCreated = ev.AutoSignatureCreated
    HumanInterventionRequested = ev.HumanInterventionRequested
    HumanInterventionReceived = ev.HumanInterventionReceived

    if TYPE_CHECKING:  # set by ``when`` from the 001; not dataclass fields of the library's
        state: DecisionState
        history: list[Mapping[str, Any]]
        policy: GatePolicy

    # --- commands -----------------------------------------------------------------

    @classmethod
    def create(cls, fr: Mapping[str, Any], policy: GatePolicy = BUILTIN) -> GateEvaluation:
        """
        Start a decision with its FR-EVT-GOV-001, judged under ``policy``.
        """
        check_event_alone(fr, policy)
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
        created = ev.build(ev.DecisionCreated, oid, cls.INITIAL_VERSION, fr, policy=policy)
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

    def check(self, fr: Mapping[str, Any]) -> None:  # noqa: C901 - one guard per rule, spec order
        """
        Every rule for appending ``fr`` to this decision; raises, never mutates.
        """
        event_type = fr["type"]
        ids = _ids(fr)
        state = self.state
        # What the event alone forbids is refused first, so ingest and validate agree.
        check_event_alone(fr, self.policy)
        self._check_locked(fr)
        if event_type == CREATED:
            # Reusing a decision_id is replay, not a step out of order.
            raise DuplicateEventError(
                f"decision_id {state.decision_id!r} already has its gov_decision_created "
                f"(event {self.history[0]['event_id']}); a decision is created once, and a "
                "decision_id names one decision forever (2.6.8.12.6.4)",
                identical=False,
                field="decision_id",
                rule="unique",
                **ids,
            )
        for field in _BOUND:
            if fr[field] != getattr(state, field):
                raise BindingMismatchError(
                    f"{event_type}: {field} differs from the decision's gov_decision_created; "
                    f"every event of a decision is bound to its decision_id + gate_type + "
                    f"target_ref, and the automation_level is pinned at creation "
                    f"(2.6.8.12.6.3, 4.3.7.1)",
                    field=field,
                    rule="2.6.8.12.6.3",
                    **ids,
                )
        if state.closed:
            raise SequenceViolationError(
                f"{event_type} after gov_decision_applied: nothing follows FR-EVT-GOV-002 "
                "(2.6.8.12.6.4)",
                field="type",
                rule="2.6.8.12.6.4",
                **ids,
            )
        if event_type == SIGNED:
            self._check_signature(ids)
        elif event_type == REQUESTED:
            if state.signed:
                raise _order(
                    "gov_human_intervention_requested after gov_auto_signature_created: an "
                    "auto-signed gate needs no human",
                    ids,
                )
            if state.pending_request:
                raise _order("a human intervention is already pending for this decision", ids)
        elif event_type == RECEIVED:
            if not state.pending_request:
                raise _order(
                    "gov_human_intervention_received needs a pending "
                    "gov_human_intervention_requested",
                    ids,
                )
        elif event_type == APPLIED:
            self._check_apply(fr, ids)

    def _check_locked(self, fr: Mapping[str, Any]) -> None:
        """
        LOCKED takes precedence over binding and order: once a LOCKED decision needed a
        human (its verdict is HALT), anything that would approve it or bring in a human
        is ``locked_halt`` (2.6.8.12.6.1), whatever else is wrong with it.
        """
        state = self.state
        if (
            state.automation_level is not AutomationLevel.LOCKED
            or state.verdict is not Verdict.HALT
        ):
            return
        event_type = fr["type"]
        approving = fr.get("decision") == Decision.APPROVE
        if (
            event_type in (SIGNED, REQUESTED, RECEIVED)
            or (event_type == APPLIED and approving)
            or (event_type == CREATED and fr.get("decision") not in _CLOSING)
        ):
            raise _locked(
                f"{state.reason}: decision {state.decision_id!r} is a LOCKED halt; nothing may "
                "approve it or bring in a human (2.6.8.12.6.1, 11.1.7.3)",
                fr,
                "automation_level",
            )

    def stored_copy(self, event_id: str) -> Mapping[str, Any] | None:
        """
        This decision's event with ``event_id`` (any case), if it holds one.
        """
        wanted = event_id.lower()
        for fr in self.history:
            if fr["event_id"].lower() == wanted:
                return fr
        return None

    def _check_signature(self, ids: dict[str, Any]) -> None:
        state = self.state
        why = self.policy.auto_signature_refusal(
            state.gate_type, state.automation_level, state.confidence, "the decision's"
        )
        if why is not None:
            raise ForbiddenGateError(why, field="confidence", rule="2.6.8.12.2", **ids)
        if state.signed:
            raise _order("the decision already has its AutoSignature", ids)
        effective = state.effective_decision
        if effective != Decision.APPROVE:
            raise _order(
                f"an AutoSignature needs an approve decision; the decision is "
                f"{effective or 'undecided'}",
                ids,
                field="decision",
            )

    def _check_apply(self, fr: Mapping[str, Any], ids: dict[str, Any]) -> None:
        state = self.state
        effective = state.effective_decision
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
            state.signed or state.human_decision == Decision.APPROVE
        ):
            raise _order(
                "an approving gov_decision_applied needs a prior gov_auto_signature_created or "
                "an approving gov_human_intervention_received",
                ids,
            )

    # --- state ------------------------------------------------------------------------

    @property
    def status(self) -> Status:
        """
        Where the decision stands (``DecisionState.status``).
        """
        return self.state.status

    def when(self, event: ev.GovEvent) -> None:
        """
        Evolve state from one stored event: the apply logic of all five is ``evolve``.
        """
        fr = event.fr
        if fr["type"] == CREATED:
            self.policy = event.policy
            self.state = evolve(None, fr, self.policy)
            self.history = [fr]
            return
        self.state = evolve(self.state, fr)
        self.history.append(fr)


def _order(what: str, ids: dict[str, Any], field: str = "type") -> SequenceViolationError:
    return SequenceViolationError(
        f"{ids['event_type']}: {what} (2.6.8.12.6.4)", field=field, rule="2.6.8.12.6.4", **ids
    )


def duplicate_error(fr: Mapping[str, Any], *, identical: bool) -> DuplicateEventError:
    """
    ``duplicate`` for ``fr``, whose event_id is stored already (identical or not).
    """
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
