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
