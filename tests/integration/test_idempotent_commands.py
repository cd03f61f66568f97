"""Idempotent commands (issue 12): a retried command gets the recorded outcome, not an error."""

from __future__ import annotations

import threading

import pytest

from ledger.application import GovernanceLedger
from ledger.errors import DuplicateEventError, InvalidSchemaError, SequenceViolationError

ARGS = {
    "gate_type": "SpecApproval",
    "target_ref": "WP-7/MT-1",
    "automation_level": "HYBRID",
    "decision": "approve",
    "confidence": 0.5,
    "rationale": "checks green",
    "evidence_refs": ["artifact://wp-7/report.md"],
    "model_id": "local/qwen",
    "wp_id": "WP-7",
}


def stored_count(ledger) -> int:
    return ledger.max_position()


@pytest.mark.parametrize(
    ("gate", "level", "confidence", "status"),
    [
        ("SpecApproval", "AUTONOMOUS", 0.99, "auto_approved"),
        ("SpecApproval", "HYBRID", 0.5, "awaiting_human"),
        ("CloudEscalation", "LOCKED", 0.5, "halted"),
        ("SpecApproval", "SUPERVISED", 0.5, "awaiting_human"),
    ],
)
def test_a_retried_evaluate_gate_returns_the_recorded_outcome_and_stores_nothing(
    ledger, gate, level, confidence, status
):
    """
    Issue 12: evaluate_gate with a caller-supplied decision_id already recorded with the same
    arguments returns the recorded outcome (replayed) for every kind of sequence.
    """
    args = {**ARGS, "gate_type": gate, "automation_level": level, "confidence": confidence}
    first = ledger.evaluate_gate(**args, decision_id="gate-1")
    stored = stored_count(ledger)
    again = ledger.evaluate_gate(**args, decision_id="gate-1")
    assert first.status == status
    assert not first.replayed
    assert again.replayed
    assert again.event_ids == first.event_ids
    assert again.event_types == first.event_types
    assert (again.status, again.verdict, again.decision, again.threshold, again.reason) == (
        first.status,
        first.verdict,
        first.decision,
        first.threshold,
        first.reason,
    )
    assert stored_count(ledger) == stored


def test_the_replay_is_the_first_outcome_even_after_the_decision_moved_on(ledger):
    """
    Issue 12: the replay answers the retried call as it was answered, not where the decision
    stands now (that is what GET /v1/decisions/{id} and ledger.decision are for).
    """
    first = ledger.evaluate_gate(**ARGS, decision_id="gate-2")
    ledger.record_human_decision("gate-2", "alice", "approve")
    again = ledger.evaluate_gate(**ARGS, decision_id="gate-2")
    assert again.status == first.status == "awaiting_human"
    assert again.replayed


def test_the_legacy_spelling_of_a_level_is_the_same_argument(ledger):
    """
    2.6.8.12.6.1 and issue 12: SUPERVISED is stored as HYBRID, so a retry may spell it either way.
    """
    ledger.evaluate_gate(**{**ARGS, "automation_level": "SUPERVISED"}, decision_id="gate-3")
    assert ledger.evaluate_gate(**ARGS, decision_id="gate-3").replayed


@pytest.mark.parametrize(
    "change",
    [
        {"gate_type": "ScopeChange"},
        {"target_ref": "WP-7/MT-2"},
        {"automation_level": "FULL_HUMAN"},
        {"decision": "reject"},
        {"confidence": 0.51},
        {"confidence": None},
        {"rationale": "other"},
        {"evidence_refs": ["artifact://other"]},
        {"evidence_refs": None},
        {"model_id": "other-model"},
        {"wp_id": "WP-8"},
        {"mt_id": "MT-1"},
        {"actor": "system"},
    ],
)
def test_a_different_evaluate_gate_under_a_recorded_decision_id_is_duplicate(ledger, change):
    """
    Issue 12: the same decision_id with any argument changed is ``duplicate`` on decision_id,
    and nothing is stored.
    """
    ledger.evaluate_gate(**ARGS, decision_id="gate-4")
    stored = stored_count(ledger)
    with pytest.raises(DuplicateEventError) as info:
        ledger.evaluate_gate(**{**ARGS, **change}, decision_id="gate-4")
    assert (info.value.code, info.value.field) == ("duplicate", "decision_id")
    assert stored_count(ledger) == stored


def test_a_decision_made_by_other_commands_is_not_a_replay(ledger):
    """
    Issue 12: a decision_id recorded by the step commands (001 only) is not what evaluate_gate
    would have recorded: ``duplicate``, not a replay.
    """
    ledger.create_decision(
        ARGS["gate_type"], ARGS["target_ref"], "HYBRID", "approve", 0.5, decision_id="gate-5"
    )
    with pytest.raises(DuplicateEventError):
        ledger.evaluate_gate(**ARGS, decision_id="gate-5")


def test_a_retried_human_decision_returns_the_recorded_outcome(ledger):
    """
    Issue 12: the same answer by the same user, repeated, is the recorded outcome (replayed).
    """
    ledger.evaluate_gate(**ARGS, decision_id="human-1")
    first = ledger.record_human_decision("human-1", "alice", "reject", "too wide")
    stored = stored_count(ledger)
    again = ledger.record_human_decision("human-1", "alice", "reject", "too wide")
    assert again.replayed
    assert not first.replayed
    assert (again.status, again.event_ids, again.decision) == (
        first.status,
        first.event_ids,
        first.decision,
    )
    assert stored_count(ledger) == stored


@pytest.mark.parametrize(
    ("user", "answer", "rationale", "final"),
    [
        ("bob", "reject", "too wide", True),
        ("alice", "approve", "too wide", True),
        ("alice", "reject", "other words", True),
        ("alice", "reject", "too wide", False),
    ],
)
def test_another_human_answer_to_an_answered_decision_is_duplicate(
    ledger, user, answer, rationale, final
):
    """
    Issue 12: an answered decision refuses another user's answer, another answer, or the same
    answer closing the gate differently, as ``duplicate`` on decision_id; nothing is stored.
    """
    ledger.evaluate_gate(**ARGS, decision_id="human-2")
    ledger.record_human_decision("human-2", "alice", "reject", "too wide")
    stored = stored_count(ledger)
    with pytest.raises(DuplicateEventError) as info:
        ledger.record_human_decision("human-2", user, answer, rationale, final=final)
    assert info.value.field == "decision_id"
    assert stored_count(ledger) == stored


def test_a_non_final_answer_retried_is_replayed(ledger):
    """
    Issue 12: a non-final answer (no 002) repeated is the same command.
    """
    ledger.evaluate_gate(**ARGS, decision_id="human-3")
    ledger.record_human_decision("human-3", "dan", "approve", final=False)
    again = ledger.record_human_decision("human-3", "dan", "approve", final=False)
    assert again.replayed
    assert again.event_types == ("gov_human_intervention_received",)


def test_a_human_decision_where_no_human_answered_keeps_its_rule(ledger):
    """
    2.6.8.12.6.4: answering an auto-approved gate is still sequence_violation, not a replay.
    """
    outcome = ledger.evaluate_gate(
        **{**ARGS, "automation_level": "AUTONOMOUS", "confidence": 0.99}, decision_id="human-4"
    )
    assert outcome.status == "auto_approved"
    with pytest.raises(SequenceViolationError):
        ledger.record_human_decision("human-4", "alice", "approve")


@pytest.mark.parametrize("user_id", ["", "   ", None, 7])
def test_a_human_decision_must_name_its_human(ledger, user_id):
    """
    Issue 12 (and issue 10): record_human_decision requires a non-empty user_id.
    """
    ledger.evaluate_gate(**ARGS, decision_id="human-5")
    with pytest.raises(InvalidSchemaError) as info:
        ledger.record_human_decision("human-5", user_id, "approve")
    assert info.value.field == "user_id"
    assert ledger.gate("human-5").status == "awaiting_human"


def test_concurrent_identical_commands_record_once_and_all_succeed(store_config):
    """
    Issue 12 under concurrency: 4 ledgers (as 4 processes would) send the same evaluate_gate
    and then the same human answer at once; one records, the others get the replay.
    """
    ledgers = [GovernanceLedger(store_config) for _ in range(4)]
    barrier = threading.Barrier(len(ledgers))
    outcomes: list = []
    errors: list = []

    def run(ledger: GovernanceLedger) -> None:
        try:
            barrier.wait(timeout=30)
            gate = ledger.evaluate_gate(**ARGS, decision_id="race-1")
            barrier.wait(timeout=30)
            human = ledger.record_human_decision("race-1", "alice", "approve")
            outcomes.append((gate, human))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(ledger,)) for ledger in ledgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for ledger in ledgers:
        ledger.close()
    assert not errors
    assert len(outcomes) == 4
    assert sum(not gate.replayed for gate, _ in outcomes) == 1
    assert sum(not human.replayed for _, human in outcomes) == 1
    assert len({gate.event_ids for gate, _ in outcomes}) == 1
    with GovernanceLedger(store_config) as ledger:
        assert [fr["type"] for fr in ledger.gate("race-1").history] == [
            "gov_decision_created",
            "gov_human_intervention_requested",
            "gov_human_intervention_received",
            "gov_decision_applied",
        ]
