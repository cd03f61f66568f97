"""The five governance domain events: FR-EVT-GOV-001..005, one class each.

Nothing else may define governance events. Each event's state is the validated,
normalised Flight Recorder event (``fr``); the stored bytes are exactly that
event, so replay and export give back what was recorded. Topics are the 11.5.7
``type`` strings, registered explicitly so that renaming a module never breaks
replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Final

import orjson
from eventsourcing.domain import Aggregate, AggregateCreated
from eventsourcing.utils import register_topic

from ledger import _time
from ledger._guard import REDACTED, is_credential_shaped
from ledger.errors import InvalidSchemaError, UnknownEventTypeError
from ledger.policy import BUILTIN, GatePolicy
from ledger.vocabulary import imitated

__all__ = [
    "AGGREGATE_TOPIC",
    "APPLIED",
    "CREATED",
    "DEPRECATED_ALIASES",
    "EVENT_TYPES",
    "FR_IDS",
    "RECEIVED",
    "REQUESTED",
    "SIGNED",
    "AutoSignatureCreated",
    "DecisionApplied",
    "DecisionCreated",
    "GovEvent",
    "HumanInterventionReceived",
    "HumanInterventionRequested",
    "build",
    "canonical_bytes",
    "lookup",
    "parse_timestamp",
]

AGGREGATE_TOPIC: Final = "govledger:GateEvaluation"


def parse_timestamp(value: str) -> datetime:
    """
    An RFC 3339 timestamp (already validated) as an aware datetime.
    """
    return _time.parse(value)


class GovEvent(Aggregate.Event):
    """
    Base of the five events: carries the normalised FR event and nothing else.

    ``timestamp`` (the library's "when it occurred") is the FR event's own timestamp.
    """

    fr: Mapping[str, Any]
    #: The gate policy a 001 is judged under. Not stored with the event: the store keeps
    #: which policy each decision was created under beside the FR events.
    policy: ClassVar[GatePolicy] = BUILTIN

    TOPIC: ClassVar[str]  # each of the five sets its own, registered below
    event_type: ClassVar[str] = ""
    fr_id: ClassVar[str] = ""

    def apply(self, aggregate: Any) -> None:
        aggregate.when(self)


class DecisionCreated(GovEvent, AggregateCreated):
    """
    FR-EVT-GOV-001 ``gov_decision_created``: a GovernanceDecision was made.
    """

    TOPIC = "gov_decision_created"
    event_type = "gov_decision_created"
    fr_id = "FR-EVT-GOV-001"


class DecisionApplied(GovEvent):
    """
    FR-EVT-GOV-002 ``gov_decision_applied``: the gate was closed.
    """

    TOPIC = "gov_decision_applied"
    event_type = "gov_decision_applied"
    fr_id = "FR-EVT-GOV-002"


class AutoSignatureCreated(GovEvent):
    """
    FR-EVT-GOV-003 ``gov_auto_signature_created``: an AutoSignature satisfied the gate.
    """

    TOPIC = "gov_auto_signature_created"
    event_type = "gov_auto_signature_created"
    fr_id = "FR-EVT-GOV-003"


class HumanInterventionRequested(GovEvent):
    """
    FR-EVT-GOV-004 ``gov_human_intervention_requested``.
    """

    TOPIC = "gov_human_intervention_requested"
    event_type = "gov_human_intervention_requested"
    fr_id = "FR-EVT-GOV-004"


class HumanInterventionReceived(GovEvent):
    """
    FR-EVT-GOV-005 ``gov_human_intervention_received``.
    """

    TOPIC = "gov_human_intervention_received"
    event_type = "gov_human_intervention_received"
    fr_id = "FR-EVT-GOV-005"


def build(
    event_class: type[GovEvent],
    originator_id: Any,
    originator_version: int,
    fr: Mapping[str, Any],
    *,
    policy: GatePolicy | None = None,
) -> GovEvent:
    """
    An event of ``event_class`` carrying ``fr``, as the mapper rebuilds one from the store.

    Bulk ingestion builds thousands of events a second; this skips the library's
    per-call dataclass ``__init__`` (keyword coercion and copying) but produces the
    same frozen event, with the FR event's own timestamp.
    """
    state: dict[str, Any] = {
        "originator_id": originator_id,
        "originator_version": originator_version,
        "timestamp": parse_timestamp(fr["timestamp"]),
        "fr": fr,
    }
    if event_class is DecisionCreated:
        state["originator_topic"] = AGGREGATE_TOPIC
        if policy is not None:
            state["policy"] = policy
    event = object.__new__(event_class)
    object.__setattr__(event, "__dict__", state)
    return event


#: ``type`` string -> event class; the only governance event types that exist.
EVENT_TYPES: Final[Mapping[str, type[GovEvent]]] = {
    cls.event_type: cls
    for cls in (
        DecisionCreated,
        DecisionApplied,
        AutoSignatureCreated,
        HumanInterventionRequested,
        HumanInterventionReceived,
    )
}
FR_IDS: Final[Mapping[str, str]] = {t: cls.fr_id for t, cls in EVENT_TYPES.items()}

#: The five ``type`` strings, by what they record: the names every module dispatches on.
CREATED: Final = DecisionCreated.event_type
APPLIED: Final = DecisionApplied.event_type
SIGNED: Final = AutoSignatureCreated.event_type
REQUESTED: Final = HumanInterventionRequested.event_type
RECEIVED: Final = HumanInterventionReceived.event_type

for _cls in EVENT_TYPES.values():
    register_topic(_cls.TOPIC, _cls)

#: Labels that look governance-like but are not event types (2.6.8.12.6.4, Stage 9.1.2).
DEPRECATED_ALIASES: Final = {
    "FR-EVT-GOV-SELF-APPROVED": "a deprecated Stage alias (2.6.8.12.6.4)",
    "FR-EVT-GOV-APPROVED-WITH-WARNINGS": "a deprecated Stage alias (2.6.8.12.6.4)",
    "governance_decision": "a Stage 9.1.2 name, superseded by 11.5.7",
    "self_approval": "a Stage 9.1.2 name, superseded by 11.5.7",
    "human_escalation": "a Stage 9.1.2 name, superseded by 11.5.7",
    "human_override": "a Stage 9.1.2 name, superseded by 11.5.7",
    "automation_level_change": "a Stage 9.1.2 name, superseded by 11.5.7",
}


_ECHO_LIMIT: Final = 64  # an unknown type is echoed only when short and printable


def lookup(event_type: object) -> type[GovEvent]:
    """
    The event class for an FR ``type``; anything else is ``unknown_event_type``.
    """
    if not isinstance(event_type, str):
        raise InvalidSchemaError(
            "event: field 'type' has the wrong JSON type (a string is required)",
            field="type",
            rule="type",
        )
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        pass
    shown = event_type if len(event_type) <= _ECHO_LIMIT and event_type.isprintable() else "<type>"
    if shown == event_type and is_credential_shaped(event_type):
        shown = REDACTED  # 11.5.4: a type string can carry a secret like any other field
    why = DEPRECATED_ALIASES.get(event_type)
    rule = "11.5.7"
    original = imitated(event_type, EVENT_TYPES) if why is None else None
    if original is not None:
        why = f"it imitates {original!r}; only the exact spelling names an event type (11.5.7)"
        rule = "type_confusable"
    elif why is None and event_type.upper().startswith("FR-EVT-"):
        why = "an FR event id, not a type string; only the five 11.5.7 type strings are accepted"
    elif why is None:
        why = "not one of the five FR-EVT-GOV-001..005 type strings (11.5.7)"
    raise UnknownEventTypeError(
        f"unknown event type {shown!r}: {why}", field="type", rule=rule, event_type=shown
    )


def canonical_bytes(fr: Mapping[str, Any]) -> bytes:
    """
    The one byte form of an FR event: UTF-8 JSON, keys sorted, no whitespace.

    It is what the store holds, what duplicates are compared by and what the
    Merkle tree hashes.
    """
    try:
        return orjson.dumps(fr, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        pass
    field = next((k for k, v in fr.items() if not _encodable(v)), None)
    event_type = fr.get("type") if isinstance(fr.get("type"), str) else "event"
    raise InvalidSchemaError(
        f"{event_type}: field '{field}' has no UTF-8 JSON form (lone surrogate, NaN or "
        "a non-JSON value)",
        field=field,
        rule="utf-8",
    )


def _encodable(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError:
        return False
    return True
