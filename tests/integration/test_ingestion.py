"""Ingestion of FR-EVT-GOV events emitted elsewhere: every rule, per-event results (11.5.7)."""

from __future__ import annotations

import uuid

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.events import canonical_bytes
from ledger.gate import check_event_alone
from ledger.ingest import ingest_lines, validate_lines
from ledger.validation import normalise
from tests.strategies import mutated_events, valid_events

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def event(event_type, decision_id, **fields):
    base = {
        "type": event_type,
        "event_id": str(uuid.uuid4()),
        "timestamp": "2026-02-19T15:00:00Z",
        "actor": "agent",
        "decision_id": decision_id,
        "gate_type": "SpecApproval",
        "target_ref": "WP-1",
        "automation_level": "HYBRID",
        "model_id": "model-a",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def lines(*events):
    return [orjson.dumps(e) for e in events]


def run(ledger, *raw_lines, batch_size=None):
    return list(ingest_lines(ledger, raw_lines, batch_size=batch_size))


def stored(ledger):
    return [orjson.loads(state) for _, state in ledger.stored_events()]


def test_an_auto_approval_lifecycle_is_accepted_in_order(ledger):
    """
    2.6.8.12.6.4: 001 -> 003 -> 002, each accepted and stored in input order.
    """
    d = "dec-auto"
    events = [
        event("gov_decision_created", d, decision="approve", confidence=0.85),
        event("gov_auto_signature_created", d),
        event("gov_decision_applied", d, decision="approve"),
    ]
    results = run(ledger, *lines(*events))
    assert [r.status for r in results] == ["accepted"] * 3
    assert [r.line for r in results] == [1, 2, 3]
    assert stored(ledger) == events


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (b"not json at all", "invalid_schema"),
        (b"[1, 2, 3]", "invalid_schema"),
        (b"", "invalid_schema"),
        (orjson.dumps(event("gov_decision_created", "d", confidence="high")), "invalid_schema"),
        (orjson.dumps(event("FR-EVT-GOV-SELF-APPROVED", "d")), "unknown_event_type"),
        (orjson.dumps(event("self_approval", "d")), "unknown_event_type"),
        (
            orjson.dumps(event("gov_decision_applied", "never-created", decision="reject")),
            "sequence_violation",
        ),
        (
            orjson.dumps(event("gov_auto_signature_created", "d", gate_type="CloudEscalation")),
            "forbidden_gate",
        ),
        (
            orjson.dumps(event("gov_human_intervention_requested", "d", automation_level="LOCKED")),
            "locked_halt",
        ),
    ],
)
def test_a_refused_line_never_blocks_the_lines_around_it(ledger, bad, code):
    """
    Every line gets its result, in order; a refused line neither crashes nor undoes others.
    """
    before = event("gov_decision_created", f"b-{uuid.uuid4()}", decision="reject")
    after = event("gov_decision_created", f"a-{uuid.uuid4()}", decision="defer")
    results = run(ledger, orjson.dumps(before), bad, orjson.dumps(after))
    assert [r.status for r in results] == ["accepted", "rejected", "accepted"]
    assert results[1].code == code
    assert results[1].message
    assert stored(ledger) == [before, after]


def test_every_error_code_is_reachable_by_ingestion(ledger):
    """
    The taxonomy (work packet ERROR_TAXONOMY_PLAN) through the ingestion entry point.
    """
    d = "dec-codes"
    created = event("gov_decision_created", d, decision="approve", confidence=0.95)
    results = run(
        ledger,
        *lines(
            created,
            {**created, "rationale": "changed"},  # same event_id, other content
            created,  # identical re-send
            event("gov_decision_created", "x", gate_type=""),
            event("governance_decision", d),
            event("gov_auto_signature_created", d, target_ref="WP-other"),
            event("gov_human_intervention_received", d, decision="approve"),
            event("gov_human_intervention_requested", "lock", automation_level="LOCKED"),
            event("gov_auto_signature_created", d, gate_type="PolicyViolation"),
        ),
    )
    assert [(r.status, r.code) for r in results] == [
        ("accepted", None),
        ("rejected", "duplicate"),
        ("duplicate", "duplicate"),
        ("rejected", "invalid_schema"),
        ("rejected", "unknown_event_type"),
        ("rejected", "binding_mismatch"),
        ("rejected", "sequence_violation"),
        ("rejected", "locked_halt"),
        ("rejected", "forbidden_gate"),  # what the event alone forbids is named first
    ]
    assert len(stored(ledger)) == 1


def test_identical_resend_is_stored_once(ledger):
    """
    Duplicates: re-sending an identical event is an idempotent no-op reported as duplicate.
    """
    created = event("gov_decision_created", "dec-dup", decision="reject")
    first = run(ledger, orjson.dumps(created))
    again = run(ledger, orjson.dumps(created), orjson.dumps(created))
    assert first[0].status == "accepted"
    assert [r.status for r in again] == ["duplicate", "duplicate"]
    assert stored(ledger) == [created]


def test_the_same_event_id_in_another_decision_is_refused(ledger):
    """
    An event_id names one event forever, whichever decision it claims.
    """
    first = event("gov_decision_created", "dec-a", decision="reject")
    other = {
        **event("gov_decision_created", "dec-b", decision="reject"),
        "event_id": first["event_id"].upper(),
    }
    results = run(ledger, *lines(first, other))
    assert [(r.status, r.code) for r in results] == [("accepted", None), ("rejected", "duplicate")]


def test_a_legacy_level_is_stored_as_hybrid(ledger):
    """
    2.6.8.12.6.1: ASSISTED is stored as HYBRID; the identical legacy re-send is a duplicate.
    """
    created = event(
        "gov_decision_created", "dec-legacy", automation_level="ASSISTED", decision="defer"
    )
    assert run(ledger, orjson.dumps(created))[0].status == "accepted"
    assert stored(ledger)[0]["automation_level"] == "HYBRID"
    assert run(ledger, orjson.dumps(created))[0].status == "duplicate"


def test_a_decision_split_across_batches_sees_what_was_stored_before(ledger):
    """
    An event arriving in a later batch is judged against everything stored before it.
    """
    d = "dec-split"
    events = [
        event("gov_decision_created", d, gate_type="ScopeChange", decision="approve"),
        event("gov_human_intervention_requested", d, gate_type="ScopeChange"),
        event("gov_auto_signature_created", d, gate_type="ScopeChange", confidence=1.0),
        event(
            "gov_human_intervention_received",
            d,
            gate_type="ScopeChange",
            decision="approve",
            actor="human",
            user_id="alice",
        ),
        event("gov_decision_applied", d, gate_type="ScopeChange", decision="approve"),
    ]
    results = run(ledger, *lines(*events), batch_size=2)
    assert [(r.status, r.code) for r in results] == [
        ("accepted", None),
        ("accepted", None),
        ("rejected", "forbidden_gate"),
        ("accepted", None),
        ("accepted", None),
    ]


def _prerequisites(e):
    """
    Events that make ``e`` legal next in its decision (or None if none can).
    """
    d, t, level = e["decision_id"], e["type"], e["automation_level"]
    bound = {
        "gate_type": e["gate_type"],
        "target_ref": e["target_ref"],
        "automation_level": level,
        "model_id": "model-a",
    }
    created = lambda **f: event("gov_decision_created", d, **{**bound, **f})  # noqa: E731
    if t == "gov_decision_created":
        return []
    if t == "gov_human_intervention_requested":
        return [created()]
    if t == "gov_human_intervention_received":
        return [created(), event("gov_human_intervention_requested", d, **bound)]
    if t == "gov_auto_signature_created":
        return [created(decision="approve", confidence=1.0)]
    decision = e.get("decision")
    if decision in (None, "reject", "defer"):
        return [created(decision=decision or "reject")]
    if level == "LOCKED":
        return None
    return [
        created(decision="approve"),
        event("gov_human_intervention_requested", d, **bound),
        event("gov_human_intervention_received", d, decision="approve", **bound),
    ]


@SETTINGS
@given(e=valid_events())
def test_what_validate_accepts_round_trips_through_ingest_and_events(ledger, e):
    """
    Any event validate accepts is stored and exported unchanged but for normalisation.
    """
    e["decision_id"] = f"rt-{uuid.uuid4()}"
    e["event_id"] = str(uuid.uuid4())
    try:
        check_event_alone(normalise(e))
    except LedgerError:
        assume(False)
    before = _prerequisites(e)
    assume(before is not None)
    results = run(ledger, *lines(*before, e))
    assert all(r.status == "accepted" for r in results), results
    exported = orjson.loads(canonical_bytes(ledger.gate(e["decision_id"]).history[-1]))
    assert exported == normalise(e)
    assert exported == {**e, "automation_level": normalise(e)["automation_level"]}


@SETTINGS
@given(events=st.lists(mutated_events(), min_size=1, max_size=6))
def test_mutated_events_are_never_stored_unless_valid(ledger, events):
    """
    11.5.4 HARD: whatever arrives, every stored event re-validates against its schema.
    """
    results = run(ledger, *[orjson.dumps(e) if _jsonable(e) else b"{" for e in events])
    assert len(results) == len(events)
    for raw_event, result in zip(events, results, strict=True):
        if result.status == "accepted":
            normalise(raw_event)
    for fr in stored(ledger):
        assert normalise(fr) == fr


def _jsonable(value):
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


@SETTINGS
@given(e=st.one_of(valid_events(), mutated_events()))
def test_ingest_refuses_what_validate_refuses_with_the_same_code(ledger, e):
    """
    validate's per-event checks are a subset of ingest's, and name the same code.
    """
    if isinstance(e.get("event_id"), str):  # a fresh id, so examples never collide
        e["event_id"] = str(uuid.uuid4())
    line = orjson.dumps(e) if _jsonable(e) else b"{"
    judged = next(validate_lines([line]))
    ingested = run(ledger, line)[0]
    if judged.status == "rejected":
        assert (ingested.status, ingested.code) == ("rejected", judged.code)
