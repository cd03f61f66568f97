"""The flat validators accept exactly what the layered schemas in ``schemas/`` accept.

Issue 13 ("Rules of the work"): nothing may weaken a guarantee, and ``schemas/`` stays the
single source of truth. ``_schemas.flat_schema`` derives one closed schema per event type
from the same files (``$ref`` inlined, ``allOf`` merged); ``normalise`` decides with it and
explains every refusal with the layered validator, so field, rule and message are the ones
the layered schemas have always named.
"""

from __future__ import annotations

from typing import Any

import fastjsonschema
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import _schemas
from ledger.errors import LedgerError
from ledger.validation import normalise
from tests.strategies import hostile_lines, mutated_events, valid_events


def _accepts(validate: Any, event: Any) -> bool:
    try:
        validate(event)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def _agree(event: Any) -> None:
    types = [event.get("type")] if isinstance(event, dict) else []
    for name in {*(t for t in types if t in _schemas.EVENT_SCHEMAS), *_schemas.EVENT_SCHEMAS}:
        layered = _accepts(_schemas.validator(name), event)
        flat = _accepts(_schemas.flat_validator(name), event)
        assert flat == layered, (name, event)


def _nothing_layered(schema: Any) -> bool:
    if isinstance(schema, dict):
        return (
            "$ref" not in schema
            and "allOf" not in schema
            and all(_nothing_layered(v) for v in schema.values())
        )
    if isinstance(schema, list):
        return all(_nothing_layered(v) for v in schema)
    return True


def _loads(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


@pytest.mark.parametrize("name", _schemas.EVENT_SCHEMAS)
def test_flat_schema_is_derived_from_the_schema_files_without_refs(name: str) -> None:
    """
    Issue 13: the flat form is built from ``schemas/`` (closed, same required fields, the
    type's const), with no ``$ref`` or ``allOf`` left to call through.
    """
    flat = _schemas.flat_schema(name)
    shared = _schemas.load("gov_automation_event")
    assert _nothing_layered(flat)
    assert flat["additionalProperties"] is False
    assert flat["required"] == shared["required"]
    assert set(flat["properties"]) == set(shared["properties"])
    assert flat["properties"]["type"]["const"] == name
    assert flat["properties"]["timestamp"]["format"] == "date-time"


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(valid_events(), mutated_events()))
def test_flat_and_layered_validators_accept_the_same_events(event: dict[str, Any]) -> None:
    """
    Issue 13: flattening is for speed only; every event type's flat validator accepts an
    event exactly when its layered validator does.
    """
    _agree(event)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_lines)
def test_flat_and_layered_validators_agree_on_hostile_lines(line: bytes) -> None:
    """
    Issue 13: the same on hostile input (wrong types, deep nesting, huge values, added keys).
    """
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return
    _agree(event)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated_events(), hostile_lines.map(_loads)))
def test_refusals_name_the_field_and_rule_of_the_layered_schemas(event: Any) -> None:
    """
    Issue 13: error messages, codes, fields and rules stay exactly as they were: a refused
    event's error is the one the layered validator's first failure names.
    """
    if not isinstance(event, dict) or event.get("type") not in _schemas.EVENT_SCHEMAS:
        return
    try:
        _schemas.validator(event["type"])(event)
    except fastjsonschema.JsonSchemaValueException as first:
        expected = _schemas.shape_error(first, event, event["type"])
    else:
        return  # the layered schemas accept it: any refusal comes from another check
    with pytest.raises(LedgerError) as refused:
        normalise(event)
    if (refused.value.rule or "").endswith("_confusable"):
        return  # look-alike spellings are refused before the schema runs, as before
    got = refused.value
    assert (got.code, got.field, got.rule, got.message) == (
        expected.code,
        expected.field,
        expected.rule,
        expected.message,
    )


_EDGES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    0.0,
    -0.0,
    1.0,
    1.0000001,
    -1e-9,
    2,
    10**20,
    "",
    " ",
    "a",
    *("x" * n for n in (63, 64, 65, 127, 128, 129, 1023, 1024, 1025, 4095, 4096, 4097)),
    [],
    ["a"],
    [""],
    ["a"] * 64,
    ["a"] * 65,
    [1],
    [["a"]],
    {},
    {"a": "b"},
    "2026-02-19T09:00:00Z",
    "2026-02-30T09:00:00Z",
    "2026-12-31T23:59:60Z",
    "2026-02-19T09:00:00.1234567891Z",
    "2026-02-19 09:00:00Z",
    "2026-02-19T24:00:00Z",
    "00000000-0000-0000-0000-000000000000",
    "403d5d18-4151-49f0-939c-ae8f3bb363bf",
    "403D5D18-4151-49F0-939C-AE8F3BB363BF",
    "403d5d18415149f0939cae8f3bb363bf",
    "HYBRID",
    "SUPERVISED",
    "approve",
    "human",
    "model",
    "SpecApproval",
    "Spec Approval",
    "a" * 129,
    "gov_decision_created",
    "gov_decision_applied",
]


@pytest.mark.parametrize("name", _schemas.EVENT_SCHEMAS)
def test_flat_and_layered_validators_agree_at_every_bound(name: str) -> None:
    """
    Issue 13: every declared field (and an undeclared one) set to each edge value in turn:
    lengths at and past every bound, list sizes, numbers at the range ends, wrong types,
    near-miss timestamps and UUIDs; the two validators give the same answer each time.
    """
    base = {
        "type": name,
        "event_id": "403d5d18-4151-49f0-939c-ae8f3bb363bf",
        "timestamp": "2026-02-19T09:00:00.037Z",
        "actor": "agent",
        "decision_id": "dec-1",
        "gate_type": "ScopeChange",
        "target_ref": "wp://WP-1/artifact/1",
        "automation_level": "AUTONOMOUS",
    }
    fields = [*_schemas.load("gov_automation_event")["properties"], "undeclared"]
    checked = 0
    for field in fields:
        for value in [*_EDGES, _MISSING]:
            event = dict(base)
            if value is _MISSING:
                event.pop(field, None)
            else:
                event[field] = value
            layered = _accepts(_schemas.validator(name), event)
            assert _accepts(_schemas.flat_validator(name), event) == layered, (field, value)
            checked += 1
    assert checked == len(fields) * (len(_EDGES) + 1)


_MISSING = object()
