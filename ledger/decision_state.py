"""Where a decision stands: a frozen ``DecisionState`` and the one fold that moves it on.

``evolve(state, fr)`` is the only place where an FR-EVT-GOV event changes what
the ledger believes about a decision. The aggregate (``ledger.gate``) calls it
as it records and replays events, and the read side (``projections.views``)
calls it as it projects them, so the status, the effective decision and the
LOCKED-halt rule cannot differ between the two sides. Pure: no I/O, no clock.

``evolve`` trusts its input: the event is valid and in order (the aggregate's
guards decided that before recording it, and the store holds nothing else).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from enum import StrEnum
from typing import Any, Final

from ledger.events import APPLIED, CREATED, RECEIVED, REQUESTED, SIGNED
from ledger.policy import BUILTIN, GatePolicy, Verdict, is_locked_halt
from ledger.vocabulary import AutomationLevel, Decision

__all__ = [
    "STATE_FIELDS",
    "UNATTRIBUTED",
    "DecisionState",
    "Status",
    "evolve",
    "human_attributed",
    "signer",
]

#: What an AutoSignature's actor.model_id says when neither its 003 nor its 001 named one.
UNATTRIBUTED: Final = "unattributed"


class Status(StrEnum):
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


@dataclass(frozen=True)
class DecisionState:
    """
    One decision after the events folded so far (its 001 first).

    The 001 pins what the decision is (gate, target, level) and how the policy
    judged it (verdict, threshold, reason): later events never re-judge that
    (4.3.7.1: the automation level is pinned at creation).
    """

    decision_id: str
    gate_type: str
    target_ref: str
    automation_level: AutomationLevel
    #: The 001's decision (what the model proposed; None when it proposed nothing).
    model_decision: str | None
    confidence: float | None
    model_id: str | None
    verdict: Verdict
    threshold: float | None
    reason: str
    created_at: str
    #: The gate policy the decision was created under (4.3.7.1: pinned for its whole life).
    policy_version: str
    policy_digest: str
    signed_at: str | None = None
    #: The model the AutoSignature names (its 003's model_id, else its 001's; None: none).
    signed_by: str | None = None
    #: The 004 awaiting an answer, and since when.
    pending_request_id: str | None = None
    awaiting_since: str | None = None
    #: The human's answer (005), who gave it and when.
    human_decision: str | None = None
    human_user_id: str | None = None
    #: Whether the last 005 names the human who acted (a user_id and actor human).
    human_attributed: bool | None = None
    human_decided_at: str | None = None
    #: What the 002 applied, and when: the decision is closed.
    applied_decision: str | None = None
    applied_at: str | None = None
    event_count: int = 1

    @property
    def effective_decision(self) -> str | None:
        """
        The human's answer when there is one, else the 001's decision.
        """
        return self.human_decision if self.human_decision is not None else self.model_decision

    @property
    def signed(self) -> bool:
        """
        An AutoSignature (003) is recorded.
        """
        return self.signed_at is not None

    @property
    def pending_request(self) -> bool:
        """
        A human intervention (004) awaits its answer (005).
        """
        return self.pending_request_id is not None

    @property
    def closed(self) -> bool:
        """
        The gate was closed by its 002: nothing may follow.
        """
        return self.applied_decision is not None

    @property
    def is_halt(self) -> bool:
        """
        A LOCKED decision that needed a human, recorded as reject/defer (2.6.8.12.6.1).
        """
        return is_locked_halt(self.automation_level, self.verdict, self.model_decision)

    @property
    def status(self) -> Status:
        """
        One of ``Status``'s words for this state.
        """
        applied = self.applied_decision
        if applied is None:
            if self.pending_request_id is not None:
                return Status.AWAITING_HUMAN
            return Status.HALTED if self.is_halt else Status.OPEN
        if applied == Decision.APPROVE:
            return Status.AUTO_APPROVED if self.signed_at is not None else Status.HUMAN_APPROVED
        if self.is_halt:
            return Status.HALTED
        if self.human_decision == Decision.REJECT:
            return Status.HUMAN_REJECTED
        return Status.REJECTED if applied == Decision.REJECT else Status.DEFERRED

    @classmethod
    def from_columns(cls, row: Mapping[str, Any]) -> DecisionState:
        """
        The state held in a row that has a column per field (the projection's ``decisions``).
        """
        values = {name: row[name] for name in STATE_FIELDS}
        values["automation_level"] = AutomationLevel(values["automation_level"])
        values["verdict"] = Verdict(values["verdict"])
        return _made(values)

    def columns(self) -> dict[str, Any]:
        """
        The fields as plain values, keyed by name (the inverse of ``from_columns``).
        """
        return {
            **self.__dict__,
            "automation_level": self.automation_level.value,
            "verdict": self.verdict.value,
        }


STATE_FIELDS: Final = tuple(f.name for f in fields(DecisionState))


def signer(signature: Mapping[str, Any], state: DecisionState) -> str | None:
    """
    The model an AutoSignature names: its 003's ``model_id``, else its 001's (2.6.8.12.6.3).

    ``model_id`` is optional in 11.5.1 and upstream puts it in the artifact, not in the
    event: a signature that names none is recorded and marked unattributed.
    """
    named: str | None = signature.get("model_id") or state.model_id
    return named


def human_attributed(answer: Mapping[str, Any]) -> bool:
    """
    Whether a 005 names the human who acted: a ``user_id``, and actor ``human``.
    """
    return bool(answer.get("user_id")) and answer.get("actor") == "human"


def _made(values: dict[str, Any]) -> DecisionState:
    """
    ``DecisionState(**values)`` for a complete set of fields, without running ``__init__``.

    Ingestion and projection fold every event through here; a frozen dataclass's
    ``__init__`` sets each of its 20 fields through ``object.__setattr__`` (measured
    ~3 us, against ~0.4 us for setting the dict). ``tests/unit/test_decision_state.py``
    checks that the two agree.
    """
    made = object.__new__(DecisionState)
    object.__setattr__(made, "__dict__", values)
    return made


_DEFAULTS: Final = {f.name: f.default for f in fields(DecisionState) if f.default is not MISSING}


def _moved(state: DecisionState, **changes: Any) -> DecisionState:
    """
    ``dataclasses.replace(state, **changes)`` with one more event counted (see ``_made``).
    """
    values = state.__dict__.copy()
    values.update(changes)
    values["event_count"] = state.event_count + 1
    return _made(values)


def evolve(
    state: DecisionState | None, fr: Mapping[str, Any], policy: GatePolicy = BUILTIN
) -> DecisionState:
    """
    The decision after ``fr``: a 001 starts it (judged by ``policy``); 002..005 move it on.
    """
    event_type = fr["type"]
    if state is None:
        if event_type != CREATED:
            msg = f"{event_type} cannot start a decision: its first event is {CREATED}"
            raise ValueError(msg)
        level = AutomationLevel(fr["automation_level"])
        confidence = fr.get("confidence")
        outcome = policy.evaluate(fr["gate_type"], level, confidence)
        return _made(
            {
                "decision_id": fr["decision_id"],
                "gate_type": fr["gate_type"],
                "target_ref": fr["target_ref"],
                "automation_level": level,
                "model_decision": fr.get("decision"),
                "confidence": confidence,
                "model_id": fr.get("model_id"),
                "verdict": outcome.verdict,
                "threshold": outcome.threshold,
                "reason": outcome.reason,
                "created_at": fr["timestamp"],
                "policy_version": policy.version,
                "policy_digest": policy.digest,
                **_DEFAULTS,
            }
        )
    timestamp = fr["timestamp"]
    if event_type == CREATED:
        msg = f"decision {state.decision_id!r} already has its {CREATED}"
        raise ValueError(msg)
    if event_type == SIGNED:
        return _moved(state, signed_at=timestamp, signed_by=signer(fr, state))
    if event_type == REQUESTED:
        return _moved(state, pending_request_id=fr["event_id"], awaiting_since=timestamp)
    if event_type == RECEIVED:
        answer = fr.get("decision")
        return _moved(
            state,
            pending_request_id=None,
            awaiting_since=None,
            human_decision=answer if answer is not None else state.human_decision,
            human_user_id=fr.get("user_id"),
            human_attributed=human_attributed(fr),
            human_decided_at=timestamp,
        )
    if event_type == APPLIED:
        return _moved(
            state,
            applied_decision=fr.get("decision") or state.effective_decision,
            applied_at=timestamp,
        )
    msg = f"not a governance event type: {event_type!r}"  # the store holds only the five
    raise ValueError(msg)
