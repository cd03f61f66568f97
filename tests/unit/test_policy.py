"""The gate automation table (2.6.8.12.2) and LOCKED (2.6.8.12.6.1), cell by cell."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.policy import AUTO, HUMAN, RULES, AutoIf, Verdict, evaluate, rule_for
from ledger.vocabulary import AutomationLevel, GateType

L = AutomationLevel
G = GateType

# The spec's table, written out independently of ledger/policy.py.
SPEC_TABLE = {
    (G.SPEC_APPROVAL, L.FULL_HUMAN): "Human",
    (G.SPEC_APPROVAL, L.HYBRID): 0.8,
    (G.SPEC_APPROVAL, L.AUTONOMOUS): "Auto",
    (G.REFINEMENT_SIGN, L.FULL_HUMAN): "Human",
    (G.REFINEMENT_SIGN, L.HYBRID): 0.9,
    (G.REFINEMENT_SIGN, L.AUTONOMOUS): "Auto",
    (G.SCOPE_CHANGE, L.FULL_HUMAN): "Human",
    (G.SCOPE_CHANGE, L.HYBRID): "Human",
    (G.SCOPE_CHANGE, L.AUTONOMOUS): 0.95,
    (G.CLOUD_ESCALATION, L.FULL_HUMAN): "Human",
    (G.CLOUD_ESCALATION, L.HYBRID): "Human",
    (G.CLOUD_ESCALATION, L.AUTONOMOUS): "Human",
    (G.POLICY_VIOLATION, L.FULL_HUMAN): "Human",
    (G.POLICY_VIOLATION, L.HYBRID): "Human",
    (G.POLICY_VIOLATION, L.AUTONOMOUS): "Human",
}


@pytest.mark.parametrize(("cell", "expected"), sorted(SPEC_TABLE.items()))
def test_every_cell_of_the_gate_table_matches_the_spec(cell, expected):
    """
    2.6.8.12.2: each of the 15 cells, with thresholds applied inclusively.
    """
    gate, level = cell
    if expected == "Human":
        assert RULES[cell] == HUMAN
        for confidence in (None, 0.0, 0.5, 1.0):
            assert evaluate(gate, level, confidence).verdict is Verdict.HUMAN
    elif expected == "Auto":
        assert RULES[cell] == AUTO
        for confidence in (None, 0.0, 1.0):
            assert evaluate(gate, level, confidence).verdict is Verdict.AUTO
    else:
        assert RULES[cell] == AutoIf(expected)
        assert evaluate(gate, level, expected).verdict is Verdict.AUTO  # inclusive
        assert evaluate(gate, level, 1.0).verdict is Verdict.AUTO
        assert evaluate(gate, level, expected - 1e-9).verdict is Verdict.HUMAN
        assert evaluate(gate, level, None).verdict is Verdict.HUMAN  # missing never qualifies
        assert evaluate(gate, level, expected).threshold == expected


def test_table_has_exactly_the_spec_cells():
    """
    2.6.8.12.2: five gate types x three levels; LOCKED has no column of its own.
    """
    assert set(RULES) == set(SPEC_TABLE)


@given(
    gate=st.sampled_from(list(GateType)),
    confidence=st.one_of(st.none(), st.floats(min_value=0, max_value=1)),
)
def test_locked_permits_auto_exactly_where_autonomous_would(gate, confidence):
    """
    2.6.8.12.6.1: LOCKED auto-approves where AUTONOMOUS does; everywhere else it halts.
    """
    autonomous = evaluate(gate, L.AUTONOMOUS, confidence)
    locked = evaluate(gate, L.LOCKED, confidence)
    if autonomous.verdict is Verdict.AUTO:
        assert locked.verdict is Verdict.AUTO
    else:
        assert locked.verdict is Verdict.HALT


@given(level=st.sampled_from(list(AutomationLevel)), confidence=st.floats(0, 1))
def test_cloud_escalation_always_needs_a_human_and_is_denied_in_locked(level, confidence):
    """
    T-GOV-004, 11.1.7.3: cloud escalation is human-gated at every level and halts in LOCKED.
    """
    verdict = evaluate(G.CLOUD_ESCALATION, level, confidence).verdict
    assert verdict is (Verdict.HALT if level is L.LOCKED else Verdict.HUMAN)


@given(
    gate=st.text(min_size=1).filter(lambda g: g not in set(GateType)),
    confidence=st.one_of(st.none(), st.floats(0, 1)),
)
def test_gate_types_outside_the_table_are_human_unless_autonomous(gate, confidence):
    """
    11.5.7 gate_type is open: unlisted gates are Human (FULL_HUMAN/HYBRID), Auto (AUTONOMOUS).
    """
    assert evaluate(gate, L.FULL_HUMAN, confidence).verdict is Verdict.HUMAN
    assert evaluate(gate, L.HYBRID, confidence).verdict is Verdict.HUMAN
    assert evaluate(gate, L.AUTONOMOUS, confidence).verdict is Verdict.AUTO
    assert evaluate(gate, L.LOCKED, confidence).verdict is Verdict.AUTO
    assert rule_for(gate, L.HYBRID) == HUMAN


def test_legacy_levels_normalise_to_hybrid():
    """
    2.6.8.12.6.1: ASSISTED and SUPERVISED MUST be normalised to HYBRID.
    """
    assert AutomationLevel.parse("ASSISTED") is L.HYBRID
    assert AutomationLevel.parse("SUPERVISED") is L.HYBRID
    assert AutomationLevel.parse("LOCKED") is L.LOCKED
    with pytest.raises(ValueError, match="MANUAL"):
        AutomationLevel.parse("MANUAL")


# --- the other policy answers: one place answers each -----------------------------------------

from types import MappingProxyType  # noqa: E402

from ledger.errors import ForbiddenGateError, SequenceViolationError  # noqa: E402
from ledger.gate import GateEvaluation  # noqa: E402
from ledger.policy import (  # noqa: E402
    BUILTIN,
    NEVER_AUTO_SIGNED,
    GatePolicy,
    is_locked_halt,
    qualifies,
)
from ledger.validation import normalise  # noqa: E402


@given(threshold=st.floats(0, 1), confidence=st.none() | st.floats(0, 1))
def test_thresholds_are_inclusive_and_a_missing_confidence_never_qualifies(threshold, confidence):
    """
    2.6.8.12.2 "Auto if confidence >= t": inclusive; no confidence, no auto-approval.
    """
    assert qualifies(confidence, threshold) is (confidence is not None and confidence >= threshold)
    assert qualifies(confidence, None)  # an unconditional Auto cell needs no confidence


@pytest.mark.parametrize("gate", [G.CLOUD_ESCALATION, G.POLICY_VIOLATION])
def test_a_locked_halt_of_a_never_auto_signed_gate_records_reject(gate):
    """
    2.6.8.12.6.1 + 11.1.7.3: only a human could satisfy these, so LOCKED records reject.
    """
    assert BUILTIN.halt_decision(gate) == "reject"


@pytest.mark.parametrize("gate", [G.SPEC_APPROVAL, G.REFINEMENT_SIGN, G.SCOPE_CHANGE, "Other"])
def test_a_locked_halt_of_any_other_gate_records_defer(gate):
    """
    2.6.8.12.6.1: "record a reject or defer": defer where a human could later approve.
    """
    assert BUILTIN.halt_decision(gate) == "defer"


def test_a_locked_cloud_escalation_halt_cites_11_1_7_3():
    """
    11.1.7.3: in LOCKED, cloud escalation MUST be denied; halts of other gates cite 2.6.8.12.6.1.
    """
    assert BUILTIN.halt_rule(G.CLOUD_ESCALATION) == "2.6.8.12.6.1, 11.1.7.3"
    assert BUILTIN.halt_rule(G.SCOPE_CHANGE) == "2.6.8.12.6.1"


@pytest.mark.parametrize(
    ("level", "verdict", "decision", "halt"),
    [
        ("LOCKED", "halt", "reject", True),
        ("LOCKED", "halt", "defer", True),
        ("LOCKED", "halt", "approve", False),
        ("LOCKED", "halt", None, False),
        ("LOCKED", "auto", "reject", False),
        ("AUTONOMOUS", "human", "reject", False),
    ],
)
def test_a_locked_halt_is_a_reject_or_defer_where_locked_needed_a_human(
    level, verdict, decision, halt
):
    """
    2.6.8.12.6.1: the halt is the recorded reject/defer of a LOCKED gate that needed a human.
    """
    assert is_locked_halt(level, verdict, decision) is halt


# A gate type outside the table that an operator declares Auto yet never auto-signed: the
# normative pair's all-Human rows would hide a missing never-auto-signed check.
DECLARED = GatePolicy(
    version="test",
    cells=MappingProxyType({("Deploy", L.AUTONOMOUS): AUTO, ("Deploy", L.HYBRID): AUTO}),
    never_auto_signed=NEVER_AUTO_SIGNED | {"Deploy"},
)


@pytest.mark.parametrize("level", [L.HYBRID, L.AUTONOMOUS, L.LOCKED])
@given(confidence=st.none() | st.floats(0, 1))
def test_a_gate_that_may_never_be_auto_signed_is_refused_even_where_its_cell_says_auto(
    level, confidence
):
    """
    2.6.8.12.4 / 2.6.8.12.6.3: the never-auto-signed set is checked before the cell.
    """
    assert DECLARED.evaluate("Deploy", level, confidence).verdict is Verdict.AUTO
    why = DECLARED.auto_signature_refusal("Deploy", level, confidence, "the decision's")
    assert why is not None
    assert "MUST NOT" in why


def _event(event_type, **fields):
    base = {
        "type": event_type,
        "event_id": str(__import__("uuid").uuid4()),
        "timestamp": "2026-02-19T15:00:00Z",
        "actor": "agent",
        "decision_id": "dec-declared",
        "gate_type": "Deploy",
        "target_ref": "WP-1",
        "automation_level": "AUTONOMOUS",
        "model_id": "model-a",
    }
    return normalise({**base, **fields})


def test_the_aggregate_refuses_an_auto_signature_for_a_declared_never_auto_signed_gate():
    """
    The aggregate asks its decision's policy: a declared never-auto-signed gate is forbidden_gate.
    """
    agg = GateEvaluation.create(_event("gov_decision_created", decision="approve"), DECLARED)
    with pytest.raises(ForbiddenGateError):
        agg.record(_event("gov_auto_signature_created"))
    # The built-in policy would have allowed it: the refusal is the policy's, not the table's.
    builtin = GateEvaluation.create(_event("gov_decision_created", decision="approve"))
    builtin.record(_event("gov_auto_signature_created"))
    assert builtin.state.signed


def test_a_decision_has_one_auto_signature():
    """
    2.6.8.12.6.3: one AutoSignature per decision; a second 003 before the 002 is refused.
    """
    agg = GateEvaluation.create(_event("gov_decision_created", decision="approve"))
    agg.record(_event("gov_auto_signature_created"))
    with pytest.raises(SequenceViolationError, match="already has its AutoSignature"):
        agg.record(_event("gov_auto_signature_created"))
    agg.record(_event("gov_decision_applied"))
    assert agg.status == "auto_approved"


def test_a_policy_is_named_by_the_digest_of_its_canonical_form():
    """
    The same policy has the same digest; any change to a cell or the set changes it.
    """
    assert GatePolicy().digest == BUILTIN.digest
    assert DECLARED.digest != BUILTIN.digest
    tightened = GatePolicy(cells=MappingProxyType({(G.SPEC_APPROVAL, L.HYBRID): AutoIf(0.85)}))
    assert tightened.digest not in (BUILTIN.digest, DECLARED.digest)
    assert tightened.cell(G.SPEC_APPROVAL, L.HYBRID) == AutoIf(0.85)
    assert tightened.cell(G.SPEC_APPROVAL, L.AUTONOMOUS) == AUTO
