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
