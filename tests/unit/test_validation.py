"""Shape validation of FR-EVT-GOV events against schemas/ (11.5.1, 11.5.4, 11.5.7)."""

from __future__ import annotations

import copy

import fastjsonschema
import pytest
from hypothesis import given, settings

from ledger import _schemas
from ledger.errors import InvalidSchemaError, LedgerError, UnknownEventTypeError
from ledger.validation import normalise
from tests.strategies import FREE_TEXT_FIELDS, mutated_events, valid_events
from tests.unit.test_guard import CREDENTIALS, LOOK_ALIKES

VALID = {
    "type": "gov_decision_created",
    "event_id": "5b1c2a2e-6c2b-4b1a-9a55-7d0f3f2d8a11",
    "timestamp": "2026-02-19T15:00:00Z",
    "actor": "agent",
    "decision_id": "dec-1",
    "gate_type": "SpecApproval",
    "target_ref": "WP-1-Example",
    "automation_level": "HYBRID",
    "decision": "approve",
    "confidence": 0.9,
    "rationale": "spec is complete",
    "evidence_refs": ["artifact://wp-1/report.md"],
}


LIST_FIELDS = ("wsids", "evidence_refs")


def with_(**changes):
    event = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is ...:
            event.pop(key)
        else:
            event[key] = value
    return event


def refused(event) -> InvalidSchemaError:
    with pytest.raises(InvalidSchemaError) as info:
        normalise(event)
    return info.value


def test_a_complete_event_is_accepted_unchanged():
    """
    11.5.7: an event with the base and governance fields validates and is returned as is.
    """
    assert normalise(VALID) == VALID


@pytest.mark.parametrize(
    "field",
    [
        "type",
        "event_id",
        "timestamp",
        "actor",
        "decision_id",
        "gate_type",
        "target_ref",
        "automation_level",
    ],
)
def test_required_fields_are_required(field):
    """
    11.5.1 / 11.5.7: a missing required key is invalid_schema naming the field.
    """
    error = refused(with_(**{field: ...}))
    assert error.code == "invalid_schema"
    assert error.field == field
    assert error.rule == "required"
    assert field in error.message


def test_an_undeclared_key_is_refused_by_name():
    """
    Closed objects: a key outside the 11.5.1 base and 11.5.7 fields is refused.
    """
    error = refused(with_(outcome="approved"))
    assert (error.field, error.rule) == ("outcome", "additionalProperties")


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("event_id", "not-a-uuid", "pattern"),
        ("event_id", "00000000-0000-0000-0000-000000000000", "pattern"),
        ("timestamp", "2026-02-19T15:00:00", "pattern"),  # no time zone
        ("timestamp", "2026-02-30T15:00:00Z", "format"),  # no such day
        ("timestamp", "19 Feb 2026", "pattern"),
        ("actor", "model", "enum"),
        ("confidence", True, "type"),
        ("confidence", None, "type"),
        ("confidence", "0.9", "type"),
        ("confidence", 1.0000001, "maximum"),
        ("confidence", -0.1, "minimum"),
        ("decision", "approved", "enum"),
        ("decision_id", "", "minLength"),
        ("target_ref", "", "minLength"),
        ("gate_type", 7, "type"),
        ("evidence_refs", "artifact://one", "type"),
        ("automation_level", "MANUAL", "enum"),
        ("automation_level", "hybrid", "automation_level_confusable"),  # issue 10, section 2
    ],
)
def test_field_rules_name_the_field_and_the_rule(field, value, rule):
    """
    11.5.4 HARD: wrong types and invalid enum values are refused, naming field and rule.
    """
    error = refused(with_(**{field: value}))
    assert error.field == field
    assert error.rule == rule
    assert field in error.message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_confidence_must_be_a_finite_number(value):
    """
    11.5.7: confidence is a JSON number in [0, 1]; NaN and Infinity are not JSON numbers.
    """
    error = refused(with_(confidence=value))
    assert error.field == "confidence"


@pytest.mark.parametrize(
    ("field", "ok", "too_long"),
    [
        ("rationale", "r" * 4096, "r" * 4097),
        ("decision_id", "d" * 1024, "d" * 1025),
        ("target_ref", "t" * 1024, "t" * 1025),
        ("evidence_refs", ["e"] * 64, ["e"] * 65),
        ("model_id", "m" * 1024, "m" * 1025),
    ],
)
def test_no_unbounded_text(field, ok, too_long):
    """
    11.5.4: rationale <= 4,096 chars, ids/refs <= 1,024, evidence_refs <= 64 items.
    """
    assert normalise(with_(**{field: ok}))[field] == ok
    error = refused(with_(**{field: too_long}))
    assert error.field == field
    assert error.rule in ("maxLength", "maxItems")


@pytest.mark.parametrize(("legacy", "stored"), [("ASSISTED", "HYBRID"), ("SUPERVISED", "HYBRID")])
def test_legacy_levels_are_stored_as_hybrid(legacy, stored):
    """
    2.6.8.12.6.1: legacy ASSISTED/SUPERVISED MUST be normalised to HYBRID at ingestion.
    """
    assert normalise(with_(automation_level=legacy))["automation_level"] == stored


def test_locked_is_accepted_even_where_older_snippets_enumerate_three_levels():
    """
    2.6.8.12.6.1: any automation_level field MUST accept the canonical set including LOCKED.
    """
    assert normalise(with_(automation_level="LOCKED"))["automation_level"] == "LOCKED"


@pytest.mark.parametrize(
    "event_type",
    [
        "FR-EVT-GOV-SELF-APPROVED",
        "FR-EVT-GOV-APPROVED-WITH-WARNINGS",
        "governance_decision",
        "self_approval",
        "human_escalation",
        "human_override",
        "automation_level_change",
        "FR-EVT-GOV-001",
        "cloud_escalation_requested",
        "work_profile_changed",
        "gov_gate_transition",
        "GOV_DECISION_CREATED",
        "",
    ],
)
def test_only_the_five_type_strings_exist(event_type):
    """
    2.6.8.12.6.4 / 11.5.7: deprecated aliases, Stage 9.1.2 names and other families are unknown.
    """
    with pytest.raises(UnknownEventTypeError) as info:
        normalise(with_(type=event_type))
    assert info.value.code == "unknown_event_type"
    assert info.value.field == "type"


@pytest.mark.parametrize("not_an_object", [[], "event", 3, None, True])
def test_an_event_is_a_json_object(not_an_object):
    """
    11.5.1: an event MUST be serialisable as a single JSON object.
    """
    assert refused(not_an_object).code == "invalid_schema"


@pytest.mark.parametrize(
    "secret",
    [
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_" + "a" * 36,
        "xoxb-1234567890-abcdefghij",
        "sk-" + "A1b2" * 6,
        "AIza" + "B" * 35,
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "password=hunter2hunter2",
        *CREDENTIALS[::7],  # one of every few forms of the guard's own table
    ],
)
@pytest.mark.parametrize("field", FREE_TEXT_FIELDS)
def test_credentials_are_refused_and_never_echoed(secret, field):
    """
    11.5.4 and the work packet's risk map ("PII/data leakage ... events must be refs only"):
    events carry refs, not payloads or secrets, in every string field the ledger stores.
    """
    value = ["ok-1", f"see {secret}"] if field in LIST_FIELDS else f"see {secret}"
    error = refused(with_(**{field: value}))
    assert (error.code, error.rule, error.field) == ("invalid_schema", "no_credentials", field)
    assert secret not in error.message
    assert secret not in str(error.as_dict())
    assert "credential" in error.message


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_are_accepted_in_every_field(text):
    """
    Refs, not payloads: words about secrets, hashes, ids and refs are stored as given.
    """
    for field in FREE_TEXT_FIELDS:
        value = [text] if field in LIST_FIELDS else text
        assert normalise(with_(**{field: value}))[field] == value


@pytest.mark.parametrize("secret", ["password=hunter22", "ghp_" + "a" * 36, "AKIAIOSFODNN7EXAMPLE"])
@pytest.mark.parametrize(
    ("field", "rule"),
    [
        ("event_id", "pattern"),
        ("timestamp", "pattern"),
        ("actor", "enum"),
        ("automation_level", "enum"),
        ("decision", "enum"),
        ("gate_type", ("pattern", "no_credentials")),  # a token; a token-shaped secret: guard
    ],
)
def test_a_credential_in_a_constrained_field_is_refused_without_echo(secret, field, rule):
    """
    11.5.4: fields with a fixed format refuse a secret by their format; it is never echoed.
    """
    error = refused(with_(**{field: secret}))
    assert error.field == field
    assert error.rule in (rule if isinstance(rule, tuple) else (rule,))
    assert secret not in error.message


@pytest.mark.parametrize(
    "key", ["password=hunter22", "ghp_" + "a" * 36, "x" * 60 + " AKIAIOSFODNN7EXAMPLE"]
)
def test_an_undeclared_key_that_reads_as_a_credential_is_not_named(key):
    """
    Closed objects, 11.5.4: a key can carry a secret too; it is refused as undeclared and
    shown only as a placeholder, never by name (not even cut to 64 characters).
    """
    error = refused(with_(**{key: "value"}))
    assert (error.code, error.rule, error.field) == (
        "invalid_schema",
        "additionalProperties",
        "<redacted>",
    )
    assert key not in error.message
    assert "AKIA" not in error.message
    assert "ghp_" not in error.message
    assert "hunter" not in error.message


def test_a_clean_undeclared_key_is_named_before_a_secret_one():
    """
    When an event has several undeclared keys, one that can be shown is the one named.
    """
    error = refused(with_(**{"password=hunter22": 1, "outcome": "approved"}))
    assert error.field == "outcome"
    assert "hunter22" not in error.message


@pytest.mark.parametrize("secret", ["password=hunter22", "ghp_" + "a" * 36, "sk_live_" + "a" * 20])
def test_an_unknown_type_that_reads_as_a_credential_is_not_echoed(secret):
    """
    11.5.7 and 11.5.4: an unknown type is named when it is short and printable, unless it
    reads as a credential.
    """
    with pytest.raises(UnknownEventTypeError) as info:
        normalise(with_(type=secret))
    assert secret not in info.value.message
    assert info.value.event_type == "<redacted>"
    with pytest.raises(UnknownEventTypeError) as info:
        normalise(with_(type="governance_decision"))
    assert "'governance_decision'" in info.value.message


def test_a_lone_surrogate_is_refused_by_field():
    """
    Events are UTF-8 JSON: a string with no UTF-8 form is invalid_schema, naming its field.
    """
    error = refused(with_(rationale="half a pair: \ud800"))
    assert error.field == "rationale"


@given(valid_events())
def test_every_generated_valid_event_is_accepted(event):
    """
    The schemas accept every combination of declared fields within their bounds.
    """
    normalised = normalise(event)
    assert normalised["automation_level"] in ("FULL_HUMAN", "HYBRID", "AUTONOMOUS", "LOCKED")
    assert {k: v for k, v in normalised.items() if k != "automation_level"} == {
        k: v for k, v in event.items() if k != "automation_level"
    }


@settings(max_examples=300)
@given(mutated_events())
def test_mutations_are_either_valid_or_refused_with_a_code(event):
    """
    Nothing raises but a LedgerError; what is accepted re-validates against its schema.
    """
    try:
        normalised = normalise(event)
    except LedgerError as exc:
        assert exc.code in ("invalid_schema", "unknown_event_type")
    else:
        _schemas.validator(normalised["type"])(normalised)


def test_schemas_are_draft07_and_closed():
    """
    Schemas are JSON Schema draft-07 (fastjsonschema ignores newer keywords); objects are closed.
    """
    for name in [*_schemas.EVENT_SCHEMAS, "gov_automation_event", *_schemas.ARTIFACT_SCHEMAS]:
        schema = _schemas.load(name)
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert _schemas.load("gov_automation_event")["additionalProperties"] is False
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        _schemas.validator("hsk.gov_decision@0.4")(
            {"schema_version": "hsk.governance_decision@0.4"}
        )
