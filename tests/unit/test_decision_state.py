"""The one decision fold, ``decision_state.evolve``: what each FR-EVT-GOV event does."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.decision_state import STATE_FIELDS, DecisionState, Status, _made, _moved, evolve
from ledger.gate import GateEvaluation
from ledger.policy import Verdict
from tests.unit.test_gate import APPLIED, CREATED, RECEIVED, REQUESTED, SIGNED, fr


def fold(*events):
    state = None
    for event in events:
        state = evolve(state, event)
    return state


LIFECYCLES = [
    # (events, status, effective decision): 2.6.8.12.6.4's sequences and how each ends.
    ([fr(CREATED, decision="approve")], Status.OPEN, "approve"),
    ([fr(CREATED, decision="approve"), fr(SIGNED), fr(APPLIED)], Status.AUTO_APPROVED, "approve"),
    (
        [
            fr(CREATED, level="HYBRID", decision="approve", confidence=0.1),
            fr(REQUESTED, level="HYBRID"),
        ],
        Status.AWAITING_HUMAN,
        "approve",
    ),
    (
        [
            fr(CREATED, level="HYBRID", decision="approve", confidence=0.1),
            fr(REQUESTED, level="HYBRID"),
            fr(RECEIVED, level="HYBRID", actor="human", user_id="alice", decision="approve"),
            fr(APPLIED, level="HYBRID"),
        ],
        Status.HUMAN_APPROVED,
        "approve",
    ),
    (
        [
            fr(CREATED, level="HYBRID", decision="approve", confidence=0.1),
            fr(REQUESTED, level="HYBRID"),
            fr(RECEIVED, level="HYBRID", actor="human", user_id="alice", decision="reject"),
            fr(APPLIED, level="HYBRID"),
        ],
        Status.HUMAN_REJECTED,
        "reject",
    ),
    ([fr(CREATED, decision="reject"), fr(APPLIED)], Status.REJECTED, "reject"),
    ([fr(CREATED, decision="defer"), fr(APPLIED)], Status.DEFERRED, "defer"),
    (
        [fr(CREATED, gate="ScopeChange", level="LOCKED", decision="defer", confidence=0.1)],
        Status.HALTED,
        "defer",
    ),
    (
        [
            fr(CREATED, gate="CloudEscalation", level="LOCKED", decision="reject"),
            fr(APPLIED, gate="CloudEscalation", level="LOCKED"),
        ],
        Status.HALTED,
        "reject",
    ),
]


@pytest.mark.parametrize(("events", "status", "effective"), LIFECYCLES)
def test_each_sequence_folds_to_its_status(events, status, effective):
    """
    2.6.8.12.6.4 and 2.6.8.12.6.1: the status and effective decision each sequence ends in.
    """
    state = fold(*events)
    assert state.status is status
    assert state.effective_decision == effective
    assert state.event_count == len(events)


@pytest.mark.parametrize(("events", "status", "effective"), LIFECYCLES)
def test_the_aggregate_state_is_the_fold_of_its_history(events, status, effective):
    """
    The aggregate keeps no state of its own: replaying its history through evolve gives it.
    """
    agg = GateEvaluation.create(events[0])
    for event in events[1:]:
        agg.record(event)
    assert agg.state == fold(*agg.history)
    assert (agg.status, agg.state.effective_decision) == (status, effective)


def test_the_001_pins_how_the_policy_judged_the_decision():
    """
    4.3.7.1 / 2.6.8.12.2: verdict, threshold and reason are fixed by the 001, never re-judged.
    """
    state = evolve(None, fr(CREATED, gate="ScopeChange", decision="approve", confidence=0.5))
    assert (state.verdict, state.threshold) == (Verdict.HUMAN, 0.95)
    later = evolve(state, fr(REQUESTED, gate="ScopeChange"))
    assert (later.verdict, later.threshold, later.reason) == (
        state.verdict,
        state.threshold,
        state.reason,
    )


def test_a_005_without_decision_keeps_the_earlier_answer():
    """
    A 005 that carries no decision records who answered and when, and changes no decision.
    """
    state = fold(
        fr(CREATED, level="HYBRID", decision="approve", confidence=0.1),
        fr(REQUESTED),
        fr(RECEIVED, actor="human", user_id="alice", decision="reject"),
        fr(REQUESTED),
        fr(RECEIVED, actor="human", user_id="bob"),
    )
    assert (state.human_decision, state.human_user_id) == ("reject", "bob")
    assert not state.pending_request


def test_evolve_refuses_what_cannot_happen():
    """
    A decision starts with its 001, once: the fold refuses anything else rather than guess.
    """
    with pytest.raises(ValueError, match="cannot start a decision"):
        evolve(None, fr(APPLIED))
    with pytest.raises(ValueError, match="already has"):
        evolve(fold(fr(CREATED, decision="approve")), fr(CREATED, decision="approve"))


def test_a_state_round_trips_through_its_columns():
    """
    The projection stores a state as columns and reads it back unchanged.
    """
    state = fold(fr(CREATED, decision="approve"), fr(SIGNED), fr(APPLIED))
    assert DecisionState.from_columns(state.columns()) == state
    assert tuple(state.columns()) == STATE_FIELDS


_texts = st.none() | st.text(max_size=8)


@given(
    signed_at=_texts,
    pending_request_id=_texts,
    human_decision=_texts,
    human_user_id=_texts,
    applied_decision=_texts,
)
def test_the_fast_copy_equals_dataclasses_replace(**changes):
    """
    evolve's copy (a dict copy, for speed) is dataclasses.replace, plus one event counted.
    """
    state = fold(fr(CREATED, decision="approve"))
    expected = dataclasses.replace(state, **changes, event_count=state.event_count + 1)
    moved = _moved(state, **changes)
    assert moved == expected
    assert hash(dataclasses.astuple(moved)) == hash(dataclasses.astuple(expected))
    assert moved.__dict__ == expected.__dict__


@pytest.mark.parametrize(("events", "status", "effective"), LIFECYCLES)
def test_the_fast_constructor_equals_the_dataclass_constructor(events, status, effective):
    """
    Every state evolve makes equals the one DecisionState(**fields) makes, field order included.
    """
    state = fold(*events)
    assert DecisionState(**state.__dict__) == state
    assert list(DecisionState(**state.__dict__).__dict__) == list(state.__dict__)
    assert _made(dict(state.__dict__)) == state
