"""What the command API records, decided before anything is built: pure plans and bindings.

``plan_gate`` is 2.6.8.12.4 as a function: from the policy's outcome for one gate
evaluation it chooses the sequence of FR events to record (and, under LOCKED,
the reject/defer that replaces the model's proposal). ``Binding`` is what every
event of one decision carries (2.6.8.12.6.3); it turns a planned ``Step`` into
the FR event, given the event id and time the application chose. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ledger.decision_state import DecisionState
from ledger.events import APPLIED, CREATED, RECEIVED, REQUESTED, SIGNED
from ledger.policy import GatePolicy, Outcome, Verdict
from ledger.vocabulary import AutomationLevel, Decision

__all__ = [
    "RATIONALE_BOUND",
    "Binding",
    "GatePlan",
    "Step",
    "bounded",
    "plan_gate",
    "plan_human_decision",
]


#: schemas/fr_event_base.schema.json#/definitions/rationale
RATIONALE_BOUND: Final = 4096


def bounded(text: str) -> str:
    """
    ``text`` cut to the rationale's bound (a rationale the ledger writes itself).
    """
    if len(text) <= RATIONALE_BOUND:
        return text
    return text[: RATIONALE_BOUND - 3] + "..."


@dataclass(frozen=True, slots=True)
class Step:
    """
    One FR event to record: its type, its actor and its own fields (absent when None or "").
    """

    event_type: str
    actor: str
    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Binding:
    """
    What every event of one decision carries: decision_id, gate_type, target_ref, level.

    ``correlation`` (wp_id, mt_id, job_id ...) is carried by the events the command
    API records for a new decision.
    """

    decision_id: str
    gate_type: str
    target_ref: str
    automation_level: str
    correlation: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, state: DecisionState) -> Binding:
        """
        The binding of a recorded decision (later events repeat its 001's).
        """
        return cls(
            state.decision_id, state.gate_type, state.target_ref, state.automation_level.value
        )

    def event(self, step: Step, *, event_id: str, timestamp: str) -> dict[str, Any]:
        """
        The FR event for ``step``, as the ledger records it.
        """
        fr: dict[str, Any] = {
            "type": step.event_type,
            "event_id": event_id,
            "timestamp": timestamp,
            "actor": step.actor,
            "decision_id": self.decision_id,
            "gate_type": self.gate_type,
            "target_ref": self.target_ref,
            "automation_level": self.automation_level,
        }
        fr.update((k, v) for k, v in self.correlation if v is not None)
        fr.update((k, v) for k, v in step.fields.items() if v is not None and v != "")
        return fr


@dataclass(frozen=True, slots=True)
class GatePlan:
    """
    The outcome of one gate evaluation and the sequence that records it.
    """

    outcome: Outcome
    steps: tuple[Step, ...]


def decision_created(
    actor: str,
    decision: str | None,
    confidence: float | None,
    rationale: str,
    evidence_refs: Any,
    model_id: str | None,
) -> Step:
    """
    The 001 step (evidence_refs that are not a sequence go to the schema as they are).
    """
    refs = list(evidence_refs) if isinstance(evidence_refs, list | tuple) else evidence_refs
    return Step(
        CREATED,
        actor,
        {
            "decision": decision,
            "confidence": confidence,
            "rationale": rationale,
            "evidence_refs": refs,
            "model_id": model_id,
        },
    )


def plan_gate(
    policy: GatePolicy,
    *,
    gate_type: str,
    level: AutomationLevel,
    decision: str,
    confidence: float | None,
    rationale: str,
    evidence_refs: Sequence[str] | None,
    model_id: str | None,
    actor: str,
) -> GatePlan:
    """
    The sequence 2.6.8.12.4 and 2.6.8.12.6.4 prescribe for one gate evaluation.

    * auto-approved: 001 -> 003 -> 002 (approve);
    * a human is needed and allowed: 001 -> 004;
    * LOCKED where a human would be needed: 001 (the policy's halt decision) -> 002;
    * a reject/defer the table lets the model make: 001 -> 002.
    """
    outcome = policy.evaluate(gate_type, level, confidence)
    recorded, why = decision, rationale
    if outcome.verdict is Verdict.HALT:
        # LOCKED fails closed: record the reject/defer first, then halt the workflow.
        recorded = policy.halt_decision(gate_type).value
        why = bounded(
            f"LOCKED halt: {outcome.reason}. The model proposed {decision}"
            + (f": {rationale}" if rationale else ".")
        )
    created = decision_created(actor, recorded, confidence, why, evidence_refs, model_id)
    applied = Step(APPLIED, "system", {"decision": recorded})
    if outcome.verdict is Verdict.HALT or (
        outcome.verdict is Verdict.AUTO and recorded != Decision.APPROVE
    ):
        return GatePlan(outcome, (created, applied))
    if outcome.verdict is Verdict.AUTO:
        signed = Step(SIGNED, actor, {"model_id": model_id})
        return GatePlan(outcome, (created, signed, applied))
    requested = Step(REQUESTED, "system", {"rationale": bounded(outcome.reason)})
    return GatePlan(outcome, (created, requested))


def plan_human_decision(
    user_id: str, decision: str, rationale: str, *, final: bool
) -> tuple[Step, ...]:
    """
    A human's answer (005) and, when it is final, the 002 that closes the gate.
    """
    received = Step(
        RECEIVED, "human", {"decision": decision, "rationale": rationale, "user_id": user_id}
    )
    if not final:
        return (received,)
    return (received, Step(APPLIED, "system", {"decision": decision}))
