"""The GateEvaluation aggregate's rules, with no store (2.6.8.12.2, 2.6.8.12.6.1-4)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import (
    BindingMismatchError,
    DuplicateEventError,
    ForbiddenGateError,
    LedgerError,
    LockedHaltError,
    SequenceViolationError,
)
from ledger.gate import GateEvaluation, Status, check_event_alone
from ledger.validation import normalise

CREATED, APPLIED, SIGNED = (
    "gov_decision_created",
    "gov_decision_applied",
    "gov_auto_signature_created",
)
REQUESTED, RECEIVED = "gov_human_intervention_requested", "gov_human_intervention_received"


def fr(event_type, *, gate="SpecApproval", level="AUTONOMOUS", **fields):
    event = {
        "type": event_type,
        "event_id": str(uuid.uuid4()),
        "timestamp": "2026-02-19T15:00:00Z",
        "actor": "agent",
        "decision_id": "dec-1",
        "gate_type": gate,
        "target_ref": "WP-1",
        "automation_level": level,
        "model_id": "model-a",
    }
    event.update(fields)
    return normalise({k: v for k, v in event.items() if v is not None})


def gate_with(*events):
    agg = GateEvaluation.create(events[0])
    for event in events[1:]:
        agg.record(event)
    return agg


def refuse(agg, event, error):
    before = (agg.version, list(agg.history), agg.status)
    with pytest.raises(error) as info:
        agg.record(event)
    assert (agg.version, list(agg.history), agg.status) == before  # nothing half-applied
    return info.value


# --- order, 2.6.8.12.6.4 -------------------------------------------------------------


@pytest.mark.parametrize("first", [APPLIED, SIGNED, REQUESTED, RECEIVED])
def test_the_first_event_of_a_decision_is_001(first):
    """
    2.6.8.12.6.4: a decision starts with FR-EVT-GOV-001.
    """
    with pytest.raises(SequenceViolationError):
        GateEvaluation.create(fr(first, decision="approve"))


@pytest.mark.parametrize("closed", [False, True])
@pytest.mark.parametrize("target", ["WP-1", "WP-2"])
def test_reusing_a_decision_id_is_a_duplicate(closed, target):
    """
    Issue 10 §1 / 2.6.8.12.6.4: a second 001 for a decision_id (before or after it closed,
    same or other target) is replay: duplicate, naming decision_id, not a sequence step.
    """
    agg = gate_with(fr(CREATED, decision="approve", confidence=1.0))
    if closed:
        agg.record(fr(SIGNED))
        agg.record(fr(APPLIED))
    error = refuse(agg, fr(CREATED, decision="approve", target_ref=target), DuplicateEventError)
    assert (error.code, error.field, error.identical) == ("duplicate", "decision_id", False)


def test_auto_approval_sequence_001_003_002():
    """
    2.6.8.12.6.4: self-approval is 001 -> 003 -> 002.
    """
    agg = gate_with(fr(CREATED, decision="approve"), fr(SIGNED), fr(APPLIED, decision="approve"))
    assert agg.status == Status.AUTO_APPROVED


def test_005_needs_a_pending_004():
    """
    2.6.8.12.6.4: a human decision answers a pending request.
    """
    agg = gate_with(fr(CREATED, level="HYBRID", gate="ScopeChange", decision="approve"))
    refuse(
        agg,
        fr(RECEIVED, level="HYBRID", gate="ScopeChange", decision="approve"),
        SequenceViolationError,
    )
    agg.record(fr(REQUESTED, level="HYBRID", gate="ScopeChange"))
    assert agg.status == Status.AWAITING_HUMAN
    agg.record(fr(RECEIVED, level="HYBRID", gate="ScopeChange", decision="approve", actor="human"))
    refuse(
        agg,
        fr(RECEIVED, level="HYBRID", gate="ScopeChange", decision="approve"),
        SequenceViolationError,
    )
    agg.record(fr(APPLIED, level="HYBRID", gate="ScopeChange", decision="approve"))
    assert agg.status == Status.HUMAN_APPROVED


def test_004_may_not_follow_003():
    """
    2.6.8.12.6.4: an auto-signed gate does not then ask a human.
    """
    agg = gate_with(fr(CREATED, decision="approve"), fr(SIGNED))
    refuse(agg, fr(REQUESTED), SequenceViolationError)


def test_an_approving_002_needs_003_or_an_approving_005():
    """
    2.6.8.12.6.4: the gate is satisfied by an AutoSignature or a human approval.
    """
    agg = gate_with(fr(CREATED, decision="approve"))
    refuse(agg, fr(APPLIED, decision="approve"), SequenceViolationError)
    human = gate_with(
        fr(CREATED, gate="CloudEscalation", decision="approve"),
        fr(REQUESTED, gate="CloudEscalation"),
        fr(RECEIVED, gate="CloudEscalation", decision="reject", actor="human"),
    )
    refuse(human, fr(APPLIED, gate="CloudEscalation", decision="approve"), BindingMismatchError)
    human.record(fr(APPLIED, gate="CloudEscalation", decision="reject"))
    assert human.status == Status.HUMAN_REJECTED


@pytest.mark.parametrize("later", [APPLIED, SIGNED, REQUESTED, RECEIVED])
def test_nothing_follows_002(later):
    """
    2.6.8.12.6.4: gov_decision_applied closes the decision.
    """
    agg = gate_with(fr(CREATED, decision="approve"), fr(SIGNED), fr(APPLIED))
    refuse(agg, fr(later, decision="approve"), SequenceViolationError)


@pytest.mark.parametrize("closing", ["reject", "defer"])
def test_a_reject_or_defer_002_closes_without_approval(closing):
    """
    A 002 for reject/defer records that the gate closed without approval.
    """
    agg = gate_with(fr(CREATED, decision=closing), fr(APPLIED, decision=closing))
    assert agg.status == (Status.REJECTED if closing == "reject" else Status.DEFERRED)


def test_an_002_without_decision_applies_the_effective_decision():
    """
    A 002 that omits decision applies the effective one (the human's, else the 001's).
    """
    agg = gate_with(fr(CREATED, decision="reject"), fr(APPLIED))
    assert agg.state.applied_decision == "reject"


def test_nothing_to_apply_without_a_decision():
    """
    A 001 without a decision cannot be applied until a human decides.
    """
    agg = gate_with(fr(CREATED))
    refuse(agg, fr(APPLIED), SequenceViolationError)


# --- binding, 2.6.8.12.6.3 -----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("gate_type", "RefinementSign"), ("target_ref", "WP-2"), ("automation_level", "HYBRID")],
)
@pytest.mark.parametrize("later", [APPLIED, SIGNED, REQUESTED])
def test_later_events_are_bound_to_the_001(field, value, later):
    """
    2.6.8.12.6.3: decision_id + gate_type + target_ref bind every event; level pinned (4.3.7.1).
    """
    agg = gate_with(fr(CREATED, decision="approve"))
    event = fr(later, decision="approve")
    event[field] = value
    error = refuse(agg, event, BindingMismatchError)
    assert error.field == field
    assert error.code == "binding_mismatch"


def test_a_legacy_level_binds_as_hybrid():
    """
    2.6.8.12.6.1: SUPERVISED normalises to HYBRID, so it matches a HYBRID decision.
    """
    agg = gate_with(fr(CREATED, level="HYBRID", decision="approve", confidence=0.85))
    agg.record(fr(SIGNED, level="SUPERVISED"))
    assert agg.state.signed


def test_002_decision_must_equal_the_effective_decision():
    """
    A 002's decision, when present, equals the effective decision.
    """
    agg = gate_with(fr(CREATED, decision="approve"), fr(SIGNED))
    error = refuse(agg, fr(APPLIED, decision="defer"), BindingMismatchError)
    assert error.field == "decision"


# --- the gate table for AutoSignatures, 2.6.8.12.2 / 2.6.8.12.4 -----------------------


@pytest.mark.parametrize("level", ["FULL_HUMAN", "HYBRID", "AUTONOMOUS", "LOCKED"])
@pytest.mark.parametrize("gate", ["CloudEscalation", "PolicyViolation"])
def test_auto_signature_is_never_allowed_for_cloud_or_policy(gate, level):
    """
    2.6.8.12.4 / 2.6.8.12.6.3: AutoSignature MUST NOT be used for cloud escalation or policy
    (under LOCKED the halt takes precedence: locked_halt, issue 10 section 1).
    """
    expected = LockedHaltError if level == "LOCKED" else ForbiddenGateError
    with pytest.raises(expected):
        check_event_alone(fr(SIGNED, gate=gate, level=level, confidence=1.0))
    if level != "LOCKED":
        agg = gate_with(fr(CREATED, gate=gate, level=level, decision="approve", confidence=1.0))
        refuse(agg, fr(SIGNED, gate=gate, level=level, confidence=1.0), ForbiddenGateError)


@pytest.mark.parametrize(
    ("gate", "level", "confidence", "allowed"),
    [
        ("SpecApproval", "FULL_HUMAN", 1.0, False),
        ("SpecApproval", "HYBRID", 0.8, True),
        ("SpecApproval", "HYBRID", 0.79, False),
        ("SpecApproval", "HYBRID", None, False),
        ("SpecApproval", "AUTONOMOUS", None, True),
        ("RefinementSign", "FULL_HUMAN", 1.0, False),
        ("RefinementSign", "HYBRID", 0.9, True),
        ("RefinementSign", "HYBRID", 0.89, False),
        ("RefinementSign", "AUTONOMOUS", 0.1, True),
        ("ScopeChange", "FULL_HUMAN", 1.0, False),
        ("ScopeChange", "HYBRID", 1.0, False),
        ("ScopeChange", "AUTONOMOUS", 0.95, True),
        ("ScopeChange", "AUTONOMOUS", 0.94, False),
        ("ScopeChange", "LOCKED", 0.95, True),
        ("CustomGate", "HYBRID", 1.0, False),
        ("CustomGate", "AUTONOMOUS", None, True),
    ],
)
def test_auto_signature_only_when_the_cell_and_threshold_allow(gate, level, confidence, allowed):
    """
    T-GOV-003: AutoSignature only allowed when thresholds are met (read from the 001, inclusive).
    """
    agg = gate_with(fr(CREATED, gate=gate, level=level, decision="approve", confidence=confidence))
    signature = fr(SIGNED, gate=gate, level=level)
    if allowed:
        agg.record(signature)
        agg.record(fr(APPLIED, gate=gate, level=level, decision="approve"))
        assert agg.status == Status.AUTO_APPROVED
    else:
        assert refuse(agg, signature, ForbiddenGateError).code == "forbidden_gate"


def test_the_003s_own_confidence_must_meet_the_threshold_too():
    """
    T-GOV-003: an AutoSignature carrying a confidence below the threshold is forbidden.
    """
    agg = gate_with(fr(CREATED, level="HYBRID", decision="approve", confidence=0.95))
    with pytest.raises(ForbiddenGateError):
        check_event_alone(fr(SIGNED, level="HYBRID", confidence=0.5))
    refuse(agg, fr(SIGNED, level="HYBRID", confidence=0.5), ForbiddenGateError)


@pytest.mark.parametrize("decision", ["reject", "defer", None])
def test_auto_signature_needs_an_approve_decision(decision):
    """
    An AutoSignature for a decision that is not approve is a sequence_violation.
    """
    agg = gate_with(fr(CREATED, decision=decision))
    refuse(agg, fr(SIGNED), SequenceViolationError)


def test_an_auto_signature_without_a_model_id_is_accepted_as_unattributed():
    """
    Issue 10 §1 / 11.5.1: model_id is optional on FR events (upstream puts it in the
    artifact, never in the 003); the AutoSignature is recorded, and marked unattributed.
    """
    agg = gate_with(fr(CREATED, decision="approve", model_id=None))
    agg.record(fr(SIGNED, model_id=None))
    assert agg.state.signed


# --- LOCKED, 2.6.8.12.6.1 / 11.1.7.3 ---------------------------------------------------


@pytest.mark.parametrize("event_type", [REQUESTED, RECEIVED])
def test_locked_refuses_human_intervention(event_type):
    """
    2.6.8.12.6.1: no human intervention is permitted under LOCKED.
    """
    with pytest.raises(LockedHaltError):
        check_event_alone(fr(event_type, level="LOCKED", decision="approve"))
    agg = gate_with(fr(CREATED, level="LOCKED", gate="ScopeChange", decision="defer"))
    refuse(
        agg, fr(event_type, level="LOCKED", gate="ScopeChange", decision="approve"), LockedHaltError
    )


@pytest.mark.parametrize(
    ("gate", "confidence"),
    [
        ("ScopeChange", 0.5),
        ("ScopeChange", None),
        ("CloudEscalation", 1.0),
        ("PolicyViolation", 1.0),
    ],
)
@pytest.mark.parametrize("decision", ["approve", None])
def test_locked_refuses_an_approving_001_where_a_human_would_be_needed(gate, confidence, decision):
    """
    2.6.8.12.6.1: where a human would be needed the system MUST NOT proceed.
    """
    with pytest.raises(LockedHaltError):
        GateEvaluation.create(
            fr(CREATED, gate=gate, level="LOCKED", decision=decision, confidence=confidence)
        )


@pytest.mark.parametrize("gate", ["ScopeChange", "CloudEscalation", "PolicyViolation"])
@pytest.mark.parametrize("closing", ["reject", "defer"])
def test_locked_halt_is_a_recorded_reject_or_defer_then_002(gate, closing):
    """
    2.6.8.12.6.1: record a reject/defer decision and halt; cloud escalation denied (11.1.7.3).
    """
    agg = gate_with(fr(CREATED, gate=gate, level="LOCKED", decision=closing, confidence=0.1))
    assert agg.state.is_halt
    refuse(agg, fr(SIGNED, gate=gate, level="LOCKED"), LedgerError)
    agg.record(fr(APPLIED, gate=gate, level="LOCKED", decision=closing))
    assert agg.status == Status.HALTED


def test_locked_auto_approves_exactly_where_autonomous_would():
    """
    LOCKED permits auto-approval where AUTONOMOUS does (SpecApproval is Auto).
    """
    agg = gate_with(
        fr(CREATED, level="LOCKED", decision="approve"),
        fr(SIGNED, level="LOCKED"),
        fr(APPLIED, level="LOCKED", decision="approve"),
    )
    assert agg.status == Status.AUTO_APPROVED
    assert not agg.state.is_halt


@given(
    steps=st.lists(
        st.sampled_from([APPLIED, SIGNED, REQUESTED, RECEIVED, CREATED]), min_size=1, max_size=8
    ),
    decisions=st.lists(
        st.sampled_from(["approve", "reject", "defer", None]), min_size=9, max_size=9
    ),
    level=st.sampled_from(["FULL_HUMAN", "HYBRID", "AUTONOMOUS", "LOCKED"]),
    gate=st.sampled_from(["SpecApproval", "ScopeChange", "CloudEscalation"]),
)
def test_refused_events_never_change_the_aggregate(steps, decisions, level, gate):
    """
    Guards raise before state changes: any sequence leaves exactly the accepted events.
    """
    try:
        agg = GateEvaluation.create(
            fr(CREATED, gate=gate, level=level, decision=decisions[0], confidence=0.9)
        )
    except LedgerError:
        return
    accepted = [agg.history[0]]
    for step, decision in zip(steps, decisions[1:], strict=False):
        event = fr(step, gate=gate, level=level, decision=decision)
        try:
            agg.record(event)
        except LedgerError:
            continue
        accepted.append(event)
    assert agg.history == accepted
    assert agg.version == len(accepted)
    assert sum(1 for e in accepted if e["type"] == APPLIED) <= 1


# --- LOCKED takes precedence (2.6.8.12.6.1, issue 10 section 1) ----------------------------


def _locked_halt(gate="ScopeChange"):
    return gate_with(
        fr(CREATED, gate=gate, level="LOCKED", decision="defer", confidence=0.1, target_ref="WP-1")
    )


@pytest.mark.parametrize(
    ("event_type", "fields"),
    [
        (SIGNED, {}),
        (SIGNED, {"target_ref": "WP-other"}),  # binding would refuse it too
        (SIGNED, {"confidence": 1.0}),  # its own confidence would pass the table
        (REQUESTED, {}),
        (RECEIVED, {"actor": "human", "user_id": "alice", "decision": "approve"}),
        (APPLIED, {"decision": "approve"}),  # order and binding would refuse it too
        (CREATED, {"decision": "approve", "confidence": 1.0}),  # decision-id reuse too
    ],
)
@pytest.mark.parametrize("gate", ["ScopeChange", "CloudEscalation"])
def test_locked_takes_precedence_over_every_other_refusal(event_type, fields, gate):
    """
    Issue 10 §1 / 2.6.8.12.6.1: under LOCKED where the verdict is HALT, whatever would
    approve the gate or bring in a human is locked_halt, even where binding, order or the
    table would also refuse it.
    """
    agg = _locked_halt(gate)
    event = fr(event_type, gate=gate, level="LOCKED", **{"target_ref": "WP-1", **fields})
    error = refuse(agg, event, LockedHaltError)
    assert error.rule == "2.6.8.12.6.1"


def test_a_locked_halt_still_closes_with_its_002():
    """
    2.6.8.12.6.1: record the reject/defer and halt: the closing 002 is not an approval.
    """
    agg = _locked_halt()
    agg.record(fr(APPLIED, gate="ScopeChange", level="LOCKED", target_ref="WP-1"))
    assert agg.status == Status.HALTED


def test_locked_where_the_table_allows_is_judged_as_autonomous():
    """
    2.6.8.12.6.1: LOCKED auto-approves where AUTONOMOUS would; precedence only where HALT.
    """
    agg = gate_with(fr(CREATED, gate="SpecApproval", level="LOCKED", decision="approve"))
    agg.record(fr(SIGNED, gate="SpecApproval", level="LOCKED"))
    agg.record(fr(APPLIED, gate="SpecApproval", level="LOCKED"))
    assert agg.status == Status.AUTO_APPROVED
