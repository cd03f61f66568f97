"""GovernanceDecision and AutoSignature as typed, frozen views (2.6.8.12.3, 2.6.8.12.6.3).

The schemas in ``schemas/`` define the artifacts; these models are how Python
callers read them. ``from_history`` derives them from a decision's stored FR
events; ``to_json`` output validates against the artifact schemas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger.decision_state import UNATTRIBUTED, DecisionState, human_attributed
from ledger.events import RECEIVED, REQUESTED, SIGNED

__all__ = [
    "AutoSignature",
    "DecisionActor",
    "DecisionRecord",
    "GovernanceDecision",
    "HumanIntervention",
    "SignatureActor",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DecisionActor(_Frozen):
    """
    GovernanceDecision.actor.
    """

    kind: Literal["human", "model"]
    model_id: str | None = None
    user_id: str | None = None


class GovernanceDecision(_Frozen):
    """
    ``hsk.gov_decision@0.4``, the canonical schema of 2.6.8.12.6.2.

    When the 001 carried no confidence the artifact shows 0.0: a missing
    confidence never qualifies for a threshold, exactly like zero.
    """

    schema_version: Literal["hsk.gov_decision@0.4"] = "hsk.gov_decision@0.4"
    decision_id: str
    gate_type: str
    target_ref: str
    decision: Literal["approve", "reject", "defer"]
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str
    evidence_refs: tuple[str, ...] | None = None
    timestamp: str
    actor: DecisionActor


class SignatureActor(_Frozen):
    """
    AutoSignature.actor: always a model.
    """

    kind: Literal["model"] = "model"
    model_id: str


class AutoSignature(_Frozen):
    """
    ``hsk.auto_signature@0.1`` (2.6.8.12.6.3), bound by decision_id + gate_type + target_ref.
    """

    schema_version: Literal["hsk.auto_signature@0.1"] = "hsk.auto_signature@0.1"
    auto_signature_id: str
    decision_id: str
    gate_type: str
    target_ref: str
    created_at: str
    actor: SignatureActor


class HumanIntervention(_Frozen):
    """
    A 004 and, once answered, its 005.
    """

    requested_at: str
    received_at: str | None = None
    user_id: str | None = None
    #: The 005's actor, and whether it names the human who acted (a user_id, actor human).
    actor: Literal["human", "agent", "system"] | None = None
    attributed: bool | None = None
    decision: Literal["approve", "reject", "defer"] | None = None
    rationale: str | None = None


class DecisionRecord(_Frozen):
    """
    Everything the ledger holds about one decision.
    """

    decision_id: str
    gate_type: str
    target_ref: str
    automation_level: str
    status: str
    effective_decision: str | None
    threshold: float | None
    governance_decision: GovernanceDecision | None
    auto_signature: AutoSignature | None
    #: Whether the AutoSignature names its model (None: no AutoSignature).
    model_attributed: bool | None = None
    #: The gate policy the decision was judged under (its version label and digest).
    policy_version: str
    policy_digest: str
    interventions: tuple[HumanIntervention, ...]
    events: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_history(
        cls, history: Sequence[Mapping[str, Any]], state: DecisionState
    ) -> DecisionRecord:
        """
        Derive the artifacts from a decision's stored FR events (first is its 001) and the
        state they fold to.
        """
        created = history[0]
        model_id = created.get("model_id")
        decision = None
        if created.get("decision") is not None:
            decision = GovernanceDecision(
                decision_id=created["decision_id"],
                gate_type=created["gate_type"],
                target_ref=created["target_ref"],
                decision=created["decision"],
                confidence=created.get("confidence", 0.0),
                rationale=created.get("rationale", ""),
                evidence_refs=tuple(created["evidence_refs"])
                if "evidence_refs" in created
                else None,
                timestamp=created["timestamp"],
                actor=(
                    DecisionActor(kind="human", user_id=created.get("user_id"))
                    if created["actor"] == "human"
                    else DecisionActor(kind="model", model_id=model_id)
                ),
            )
        signature = None
        model_attributed: bool | None = None
        interventions: list[HumanIntervention] = []
        for fr in history[1:]:
            if fr["type"] == SIGNED:
                signed_by = fr.get("model_id") or model_id
                signature = AutoSignature(
                    auto_signature_id=fr["event_id"],
                    decision_id=fr["decision_id"],
                    gate_type=fr["gate_type"],
                    target_ref=fr["target_ref"],
                    created_at=fr["timestamp"],
                    # hsk.auto_signature@0.1 requires actor.model_id: say plainly that none
                    # was named (issue 10: upstream keeps the model id out of its events).
                    actor=SignatureActor(model_id=signed_by or UNATTRIBUTED),
                )
                model_attributed = signed_by is not None
            elif fr["type"] == REQUESTED:
                interventions.append(HumanIntervention(requested_at=fr["timestamp"]))
            elif fr["type"] == RECEIVED and interventions:
                interventions[-1] = interventions[-1].model_copy(
                    update={
                        "received_at": fr["timestamp"],
                        "user_id": fr.get("user_id"),
                        "actor": fr["actor"],
                        "attributed": human_attributed(fr),
                        "decision": fr.get("decision"),
                        "rationale": fr.get("rationale"),
                    }
                )
        return cls(
            decision_id=created["decision_id"],
            gate_type=created["gate_type"],
            target_ref=created["target_ref"],
            automation_level=created["automation_level"],
            status=state.status.value,
            effective_decision=state.effective_decision,
            threshold=state.threshold,
            governance_decision=decision,
            auto_signature=signature,
            model_attributed=model_attributed,
            policy_version=state.policy_version,
            policy_digest=state.policy_digest,
            interventions=tuple(interventions),
            events=tuple(history),
        )
