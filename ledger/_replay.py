"""Idempotent commands: recognising a retried command in what its decision already recorded.

An orchestrator that retries ``evaluate_gate`` after a timeout, or an approver
who presses "approve" twice, must get the first call's outcome, not an error
(issue 12). The retry is recognised by content: the events the command would
record now, given the recorded events' own ids and time, must be byte for byte
the recorded ones (the canonical, normalised form the store holds). So "the
same arguments" means every field the command writes: gate_type, target_ref,
automation_level after normalisation (SUPERVISED is HYBRID), decision,
confidence, rationale, evidence_refs, model_id, actor and the correlation ids,
and for a human answer the user, the decision, the rationale and whether it
closed the gate. Anything else is a different command under a used id:
``duplicate``. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger._guard import redact
from ledger._plan import Binding, Step
from ledger.decision_state import DecisionState, evolve
from ledger.errors import DuplicateEventError, LedgerError
from ledger.events import APPLIED, RECEIVED, canonical_bytes
from ledger.policy import GatePolicy
from ledger.validation import normalise

__all__ = ["Replay", "gate_replay", "human_replay"]


@dataclass(frozen=True, slots=True)
class Replay:
    """
    What the first call recorded: its events, and the decision as they left it.
    """

    events: tuple[Mapping[str, Any], ...]
    state: DecisionState


def _matches(
    recorded: Sequence[Mapping[str, Any]], binding: Binding, steps: Sequence[Step]
) -> bool:
    if len(recorded) != len(steps):
        return False
    for fr, step in zip(recorded, steps, strict=True):
        planned = binding.event(step, event_id=fr["event_id"], timestamp=fr["timestamp"])
        try:
            if canonical_bytes(normalise(planned)) != canonical_bytes(fr):
                return False
        except LedgerError:
            return False  # not even a valid event: certainly not the one recorded
    return True


def _state_after(events: Sequence[Mapping[str, Any]], policy: GatePolicy) -> DecisionState:
    state = evolve(None, events[0], policy)
    for fr in events[1:]:
        state = evolve(state, fr, policy)
    return state


def gate_replay(
    history: Sequence[Mapping[str, Any]],
    policy: GatePolicy,
    binding: Binding,
    steps: Sequence[Step],
) -> Replay:
    """
    The recorded ``evaluate_gate`` whose sequence is ``steps`` (planned under the decision's
    own ``policy``); ``duplicate`` when the decision was recorded otherwise.
    """
    recorded = tuple(history[: len(steps)])
    if not _matches(recorded, binding, steps):
        shown = redact(binding.decision_id)
        raise DuplicateEventError(
            f"decision_id {shown!r} is already recorded with other arguments: a retry of "
            "evaluate_gate must repeat the first call exactly; nothing was stored",
            identical=False,
            field="decision_id",
            rule="idempotent",
            decision_id=shown,
        )
    return Replay(recorded, _state_after(recorded, policy))


def human_replay(
    history: Sequence[Mapping[str, Any]],
    policy: GatePolicy,
    binding: Binding,
    steps: Sequence[Step],
) -> Replay | None:
    """
    The recorded human answer that ``steps`` (a 005, and its 002 when final) repeat.

    None when no human has answered (the caller's own refusal stands); ``duplicate``
    when the last answer was another user's, another answer, or closed the gate
    differently.
    """
    answers = [i for i, fr in enumerate(history) if fr["type"] == RECEIVED]
    if not answers:
        return None
    start = answers[-1]
    recorded = tuple(history[start : start + len(steps)])
    following = history[start + len(steps) : start + len(steps) + 1]
    # A non-final answer followed by the 002 of the same call (one time) was final.
    closed_with_it = bool(following) and (
        following[0]["type"] == APPLIED and following[0]["timestamp"] == recorded[-1]["timestamp"]
    )
    if closed_with_it or not _matches(recorded, binding, steps):
        shown = redact(binding.decision_id)
        raise DuplicateEventError(
            f"decision {shown!r} already has a human answer, from another user or with "
            "another answer; nothing was stored",
            identical=False,
            field="decision_id",
            rule="idempotent",
            decision_id=shown,
        )
    return Replay(recorded, _state_after(history[: start + len(steps)], policy))
