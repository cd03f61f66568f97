"""The command API on every store: the ledger applies the table and records the sequence itself."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import _schemas
from ledger.errors import (
    BindingMismatchError,
    DuplicateEventError,
    ForbiddenGateError,
    InvalidSchemaError,
    LockedHaltError,
    SequenceViolationError,
)
from ledger.events import FR_IDS
from ledger.policy import Verdict, evaluate
from ledger.vocabulary import AutomationLevel, GateType

LEVELS = [lv.value for lv in AutomationLevel]
GATES = [g.value for g in GateType]
AUTO_SEQUENCE = ("gov_decision_created", "gov_auto_signature_created", "gov_decision_applied")
HUMAN_SEQUENCE = ("gov_decision_created", "gov_human_intervention_requested")
HALT_SEQUENCE = ("gov_decision_created", "gov_decision_applied")


def stored_types(ledger, decision_id):
    return tuple(fr["type"] for fr in ledger.gate(decision_id).history)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("gate", GATES)
@pytest.mark.parametrize("confidence", [0.5, 0.85, 0.92, 0.97])
def test_t_gov_001_automation_level_gates_approval(ledger, gate, level, confidence):
    """
    T-GOV-001: AutomationLevel correctly gates approval behaviour, for every gate and level.
    """
    outcome = ledger.evaluate_gate(gate, "WP-1", level, "approve", confidence, model_id="m")
    verdict = evaluate(gate, AutomationLevel(level), confidence).verdict
    expected = {
        Verdict.AUTO: ("auto_approved", AUTO_SEQUENCE),
        Verdict.HUMAN: ("awaiting_human", HUMAN_SEQUENCE),
        Verdict.HALT: ("halted", HALT_SEQUENCE),
    }[verdict]
    assert (outcome.status, outcome.event_types) == expected
    assert stored_types(ledger, outcome.decision_id) == expected[1]


@given(
    gate=st.sampled_from(GATES),
    level=st.sampled_from(LEVELS),
    confidence=st.one_of(st.none(), st.floats(0, 1)),
)
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_t_gov_002_every_auto_approval_has_a_governance_decision(ledger, gate, level, confidence):
    """
    T-GOV-002: a GovernanceDecision (hsk.gov_decision@0.4) is logged for every auto-approval.
    """
    outcome = ledger.evaluate_gate(gate, "WP-1", level, "approve", confidence, model_id="m")
    if outcome.status != "auto_approved":
        return
    record = ledger.decision(outcome.decision_id)
    artifact = record.governance_decision
    assert artifact is not None
    assert artifact.schema_version == "hsk.gov_decision@0.4"
    assert (artifact.decision_id, artifact.gate_type, artifact.decision) == (
        outcome.decision_id,
        gate,
        "approve",
    )
    _schemas.validator("hsk.gov_decision@0.4")(artifact.model_dump(mode="json", exclude_none=True))
    signature = record.auto_signature
    assert signature is not None
    # 2.6.8.12.6.3: bound by decision_id + gate_type + target_ref.
    assert (signature.decision_id, signature.gate_type, signature.target_ref) == (
        artifact.decision_id,
        artifact.gate_type,
        artifact.target_ref,
    )
    _schemas.validator("hsk.auto_signature@0.1")(signature.model_dump(mode="json"))


@given(
    gate=st.sampled_from(GATES),
    level=st.sampled_from(LEVELS),
    confidence=st.floats(0, 1),
)
@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_t_gov_003_auto_signature_only_when_thresholds_met(ledger, gate, level, confidence):
    """
    T-GOV-003: an AutoSignature is recorded only where the table allows it for the confidence.
    """
    outcome = ledger.evaluate_gate(gate, "WP-1", level, "approve", confidence, model_id="m")
    signed = ledger.decision(outcome.decision_id).auto_signature is not None
    assert signed == (evaluate(gate, AutomationLevel(level), confidence).verdict is Verdict.AUTO)


@pytest.mark.parametrize("level", LEVELS)
def test_t_gov_004_cloud_escalation_always_requires_human_consent(ledger, level):
    """
    T-GOV-004 / 11.1.7.3: never auto-signed; human-gated; denied (halted, rejected) in LOCKED.
    """
    outcome = ledger.evaluate_gate("CloudEscalation", "WP-1", level, "approve", 1.0, model_id="m")
    record = ledger.decision(outcome.decision_id)
    assert record.auto_signature is None
    if level == "LOCKED":
        assert outcome.halted
        assert record.effective_decision == "reject"
        with pytest.raises(LockedHaltError):
            ledger.record_human_decision(outcome.decision_id, "alice", "approve")
    else:
        assert outcome.awaiting_human
        with pytest.raises(ForbiddenGateError):
            ledger.auto_sign(outcome.decision_id, model_id="m", confidence=1.0)
        approved = ledger.record_human_decision(outcome.decision_id, "alice", "approve")
        assert approved.status == "human_approved"


@pytest.mark.parametrize("gate", GATES)
@pytest.mark.parametrize("level", LEVELS)
def test_t_gov_005_every_decision_emits_fr_evt_gov_events(ledger, gate, level):
    """
    T-GOV-005: every governance decision emits only FR-EVT-GOV-001..005, with its decision_id.
    """
    outcome = ledger.evaluate_gate(gate, "WP-1", level, "approve", 0.9, model_id="m")
    if outcome.awaiting_human:
        ledger.record_human_decision(outcome.decision_id, "bob", "reject", "no")
    history = ledger.gate(outcome.decision_id).history
    assert history[0]["type"] == "gov_decision_created"
    assert history[-1]["type"] == "gov_decision_applied"
    for fr in history:
        assert fr["type"] in FR_IDS
        assert fr["decision_id"] == outcome.decision_id
        _schemas.validator(fr["type"])(fr)


@pytest.mark.parametrize(
    "gate", ["ScopeChange", "SpecApproval", "CloudEscalation", "PolicyViolation"]
)
def test_locked_halt_records_reject_or_defer_and_halts(ledger, gate):
    """
    2.6.8.12.6.1: LOCKED records defer (reject for CloudEscalation/PolicyViolation), then halts.
    """
    outcome = ledger.evaluate_gate(gate, "WP-1", "LOCKED", "approve", 0.1, model_id="m")
    if gate == "SpecApproval":  # Auto under AUTONOMOUS, so LOCKED proceeds
        assert outcome.status == "auto_approved"
        return
    assert outcome.halted
    expected = "reject" if gate in ("CloudEscalation", "PolicyViolation") else "defer"
    assert outcome.decision == expected
    created = ledger.gate(outcome.decision_id).history[0]
    assert created["decision"] == expected
    assert "LOCKED" in created["rationale"]


def test_human_rejection_closes_the_gate(ledger):
    """
    2.6.8.12.6.4: 001 -> 004 -> 005 -> 002 with the human's answer.
    """
    outcome = ledger.evaluate_gate("ScopeChange", "WP-9", "HYBRID", "approve", 0.99, model_id="m")
    closed = ledger.record_human_decision(outcome.decision_id, "carol", "reject", "too big")
    assert closed.status == "human_rejected"
    assert stored_types(ledger, outcome.decision_id) == (
        *HUMAN_SEQUENCE,
        "gov_human_intervention_received",
        "gov_decision_applied",
    )
    intervention = ledger.decision(outcome.decision_id).interventions[0]
    assert (intervention.user_id, intervention.decision) == ("carol", "reject")


def test_legacy_level_is_normalised_in_the_command_api(ledger):
    """
    2.6.8.12.6.1: SUPERVISED is recorded as HYBRID.
    """
    outcome = ledger.evaluate_gate(
        "SpecApproval", "WP-1", "SUPERVISED", "approve", 0.8, model_id="m"
    )
    assert outcome.status == "auto_approved"
    assert ledger.gate(outcome.decision_id).history[0]["automation_level"] == "HYBRID"


# --- every error code through the command API --------------------------------------------


def test_command_api_invalid_schema(ledger):
    """
    invalid_schema: the command's fields go through the same schemas.
    """
    with pytest.raises(InvalidSchemaError) as info:
        ledger.evaluate_gate("SpecApproval", "WP-1", "HYBRID", "approve", 1.5)
    assert info.value.field == "confidence"
    with pytest.raises(InvalidSchemaError) as info:
        ledger.evaluate_gate("SpecApproval", "WP-1", "MANUAL", "approve", 0.5)
    assert info.value.field == "automation_level"
    with pytest.raises(InvalidSchemaError):
        ledger.evaluate_gate("SpecApproval", "", "HYBRID", "approve", 0.5)
    assert ledger.max_position() == 0


def test_command_api_forbidden_gate(ledger):
    """
    forbidden_gate: an orchestrator asking to auto-sign a policy violation is refused.
    """
    created = ledger.create_decision(
        "PolicyViolation", "WP-1", "AUTONOMOUS", "approve", 1.0, model_id="m"
    )
    with pytest.raises(ForbiddenGateError):
        ledger.auto_sign(created.decision_id)


def test_command_api_locked_halt(ledger):
    """
    locked_halt: an approving 001 or a human request under LOCKED is refused.
    """
    with pytest.raises(LockedHaltError):
        ledger.create_decision("ScopeChange", "WP-1", "LOCKED", "approve", 0.2)
    created = ledger.create_decision("ScopeChange", "WP-1", "LOCKED", "defer", 0.2)
    with pytest.raises(LockedHaltError):
        ledger.request_human_intervention(created.decision_id)
    assert ledger.apply_decision(created.decision_id).status == "halted"


def test_command_api_sequence_violation(ledger):
    """
    sequence_violation: applying an approval nobody signed, or answering a missing decision.
    """
    created = ledger.create_decision("SpecApproval", "WP-1", "HYBRID", "approve", 0.5)
    with pytest.raises(SequenceViolationError):
        ledger.apply_decision(created.decision_id)
    with pytest.raises(SequenceViolationError):
        ledger.record_human_decision("no-such-decision", "alice", "approve")
    with pytest.raises(DuplicateEventError):  # decision-id reuse is replay (issue 10)
        ledger.evaluate_gate(
            "SpecApproval", "WP-1", "HYBRID", "approve", 0.9, decision_id=created.decision_id
        )


def test_command_api_binding_mismatch(ledger):
    """
    binding_mismatch: closing a gate with a decision other than the effective one.
    """
    outcome = ledger.evaluate_gate("ScopeChange", "WP-1", "FULL_HUMAN", "approve", 0.9)
    ledger.record_human_decision(outcome.decision_id, "dan", "approve", final=False)
    with pytest.raises(BindingMismatchError):
        ledger.apply_decision(outcome.decision_id, "reject")
    assert ledger.apply_decision(outcome.decision_id).status == "human_approved"


def test_command_api_duplicate(ledger):
    """
    duplicate: an event_id used as an idempotency key cannot name two different events.
    """
    created = ledger.create_decision(
        "SpecApproval", "WP-1", "AUTONOMOUS", "approve", 0.9, model_id="m"
    )
    signed = ledger.auto_sign(created.decision_id)
    with pytest.raises(DuplicateEventError) as info:
        ledger.apply_decision(created.decision_id, event_id=signed.event_ids[0])
    assert info.value.code == "duplicate"
    assert not info.value.identical


def test_a_refused_command_stores_nothing(ledger):
    """
    The ledger's own sequence is atomic: a refused command leaves no partial decision.
    """
    with pytest.raises(LockedHaltError):
        ledger.create_decision("CloudEscalation", "WP-1", "LOCKED", "approve", 1.0)
    assert ledger.max_position() == 0
