"""Hypothesis strategies for FR-EVT-GOV events (valid ones, and mutations of them)."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import strategies as st

from ledger.events import EVENT_TYPES

EVENT_TYPE_NAMES = sorted(EVENT_TYPES)
LEVELS = ["FULL_HUMAN", "HYBRID", "AUTONOMOUS", "LOCKED", "ASSISTED", "SUPERVISED"]
GATES = ["SpecApproval", "RefinementSign", "ScopeChange", "CloudEscalation", "PolicyViolation"]

_text_id = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40
)
event_ids = st.uuids().filter(lambda u: u.int != 0).map(str)
timestamps = st.datetimes(
    min_value=__import__("datetime").datetime(2000, 1, 1),
    max_value=__import__("datetime").datetime(2099, 12, 31),
    timezones=st.just(__import__("datetime").UTC),
).map(lambda d: d.isoformat().replace("+00:00", "Z"))


@st.composite
def valid_events(draw: st.DrawFn, event_type: str | None = None) -> dict[str, Any]:
    """
    Any event the schemas accept (all optional fields drawn independently).
    """
    event: dict[str, Any] = {
        "type": event_type or draw(st.sampled_from(EVENT_TYPE_NAMES)),
        "event_id": draw(event_ids),
        "timestamp": draw(timestamps),
        "actor": draw(st.sampled_from(["human", "agent", "system"])),
        "decision_id": draw(_text_id),
        "gate_type": draw(st.one_of(st.sampled_from(GATES), _text_id)),
        "target_ref": draw(st.from_regex(r"\A(WP|MT|artifact)-[A-Za-z0-9/._-]{1,30}\Z")),
        "automation_level": draw(st.sampled_from(LEVELS)),
    }
    optional = {
        "decision": st.sampled_from(["approve", "reject", "defer"]),
        "confidence": st.floats(min_value=0, max_value=1, allow_nan=False),
        "rationale": st.text(
            alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200
        ),
        "evidence_refs": st.lists(st.from_regex(r"\Aartifact://[a-z0-9/._-]{1,30}\Z"), max_size=5),
        "wp_id": _text_id,
        "mt_id": _text_id,
        "user_id": _text_id,
        "job_id": _text_id,
        "model_id": _text_id,
        "wsids": st.lists(_text_id, max_size=3),
        "activity_span_id": _text_id,
        "session_span_id": _text_id,
        "capability_id": _text_id,
        "policy_decision_id": _text_id,
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            event[key] = draw(strategy)
    return event


_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """
    A valid event with one field dropped, replaced by arbitrary JSON, or one key added.
    """
    event = draw(valid_events())
    action = draw(st.sampled_from(["drop", "replace", "add"]))
    if action == "drop":
        event.pop(draw(st.sampled_from(sorted(event))))
    elif action == "replace":
        event[draw(st.sampled_from(sorted(event)))] = draw(json_values)
    else:
        event[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
    return event


def new_event_id() -> str:
    return str(uuid.uuid4())


# --- projection workloads (read side) ---------------------------------------------------
# Deterministic streams of FR events the write side accepts, covering every sequence the
# projections must fold: auto-approvals, model rejects/defers, human reviews answered at
# once, later, never, or in two rounds, LOCKED halts, and timestamps in every RFC 3339
# spelling the schema allows.


def projection_workload(n_decisions: int, seed: int = 0) -> list[dict[str, Any]]:
    """
    About 3.5 events per decision, in an order a real emitter could produce.
    """
    import random  # noqa: PLC0415
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from ledger.policy import Verdict, evaluate  # noqa: PLC0415
    from ledger.vocabulary import AutomationLevel  # noqa: PLC0415

    rng = random.Random(seed)
    clock = datetime(2026, 2, 19, 12, 0, tzinfo=UTC)
    spellings = [
        lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        lambda t: t.strftime("%Y-%m-%dt%H:%M:%S.%f000z"),
        lambda t: t.astimezone(__import__("datetime").timezone(timedelta(hours=2))).strftime(
            "%Y-%m-%dT%H:%M:%S.%f+02:00"
        ),
    ]
    out: list[dict[str, Any]] = []
    later: list[tuple[int, list[dict[str, Any]]]] = []

    def fr(kind: str, base: dict[str, Any], actor: str, **fields: Any) -> dict[str, Any]:
        nonlocal clock
        clock += timedelta(milliseconds=rng.randint(1, 900))
        event = {"type": kind, "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                 "timestamp": rng.choice(spellings)(clock), "actor": actor, **base}
        event.update({k: v for k, v in fields.items() if v is not None})
        return event

    def answer(base: dict[str, Any], *, final: bool) -> list[dict[str, Any]]:
        verdict = rng.choice(["approve", "reject", "defer"])
        events = [fr("gov_human_intervention_received", base, "human", decision=verdict,
                     user_id=rng.choice(["alice", "bob", "carol"]), rationale="reviewed")]
        if final:
            events.append(fr("gov_decision_applied", base, "system", decision=verdict))
        return events

    for i in range(n_decisions):
        gate = rng.choice(GATES + ["DataExport"])
        level = rng.choice(["FULL_HUMAN", "HYBRID", "AUTONOMOUS", "LOCKED", "SUPERVISED"])
        confidence = None if rng.random() < 0.1 else round(rng.random(), 3)
        model = rng.choice(["m-alpha", "m-beta", None])
        base = {"decision_id": f"d-{seed}-{i}", "gate_type": gate,
                "target_ref": f"WP-{i % 7}/MT-{i % 3}", "automation_level": level}
        if rng.random() < 0.5:
            base["wp_id"] = f"WP-{i % 7}"
        outcome = evaluate(gate, AutomationLevel.parse(level), confidence)
        proposed = rng.choice(["approve", "approve", "reject", "defer"])
        if outcome.verdict is Verdict.HALT:
            proposed = "reject" if gate in ("CloudEscalation", "PolicyViolation") else "defer"
        created = fr("gov_decision_created", base, "agent", decision=proposed,
                     confidence=confidence, model_id=model or "m-gamma",
                     evidence_refs=[f"artifact://{i}/a"] if rng.random() < 0.5 else None,
                     rationale="because")
        out.append(created)
        if outcome.verdict is Verdict.HALT or (
            outcome.verdict is Verdict.AUTO and proposed != "approve"
        ):
            out.append(fr("gov_decision_applied", base, "system", decision=proposed))
        elif outcome.verdict is Verdict.AUTO:
            out.append(fr("gov_auto_signature_created", base, "agent", model_id=model))
            out.append(fr("gov_decision_applied", base, "system", decision="approve"))
        else:
            out.append(fr("gov_human_intervention_requested", base, "system",
                          rationale=outcome.reason[:200]))
            roll = rng.random()
            if roll < 0.3:
                out.extend(answer(base, final=True))
            elif roll < 0.8:
                # Answered later: some rounds are not final and ask the human again.
                events = answer(base, final=rng.random() < 0.7)
                if events[-1]["type"] != "gov_decision_applied":
                    events.append(fr("gov_human_intervention_requested", base, "system"))
                    events.extend(answer(base, final=True))
                later.append((len(out) + rng.randint(1, 40), events))
            # else: left awaiting a human
        due = [entry for entry in later if entry[0] <= len(out)]
        later = [entry for entry in later if entry[0] > len(out)]
        for _, events in due:
            out.extend(events)
    for _, events in later:
        out.extend(events)
    return out
