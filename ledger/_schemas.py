"""Locate and compile the JSON Schemas in ``schemas/`` (the single source of truth).

The checkout's ``schemas/`` wins when it exists (so editing a schema takes effect
in a development install); otherwise the copy packaged in the wheel is used.
Each schema is compiled once per process.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import fastjsonschema
import orjson

from ledger import _guard, _time
from ledger.errors import InvalidSchemaError
from ledger.events import EVENT_TYPES

__all__ = [
    "ARTIFACT_SCHEMAS",
    "BASE_URI",
    "EVENT_SCHEMAS",
    "flat_schema",
    "flat_validator",
    "load",
    "schema_dir",
    "shape_error",
    "validator",
]

BASE_URI: Final = "https://schemas.govledger.invalid/"
#: One schema per event type (11.5.7), named by the type.
EVENT_SCHEMAS: Final = tuple(EVENT_TYPES)
ARTIFACT_SCHEMAS: Final = ("hsk.gov_decision@0.4", "hsk.auto_signature@0.1")


@functools.cache
def schema_dir() -> Path:
    """
    Where the schemas are: the checkout's ``schemas/`` or the wheel's ``ledger/schemas``.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "schemas", here / "schemas"):
        if (candidate / "gov_automation_event.schema.json").is_file():
            return candidate
    msg = f"govledger schemas not found next to {here}"  # a broken install, not bad input
    raise FileNotFoundError(msg)


@functools.cache
def load(name: str) -> Mapping[str, Any]:
    """
    The parsed schema ``<name>.schema.json``.
    """
    parsed: Mapping[str, Any] = orjson.loads((schema_dir() / f"{name}.schema.json").read_bytes())
    return parsed


def _resolve(uri: str) -> Mapping[str, Any]:
    # Schemas refer to each other by $id; serve them from disk, never the network.
    if not uri.startswith(BASE_URI):
        msg = f"schema reference outside govledger's schemas: {uri}"
        raise ValueError(msg)
    return load(uri.removeprefix(BASE_URI).split("#", 1)[0].removesuffix(".schema.json"))


def _is_real_datetime(value: str) -> bool:
    # The pattern fixes the RFC 3339 shape; this refuses impossible dates (Feb 30, hour 25).
    try:
        _time.parse(value)
    except ValueError:
        return False
    return True


@functools.cache
def validator(name: str) -> Callable[[Any], Any]:
    """
    The compiled fastjsonschema validator for ``<name>.schema.json``.
    """
    compiled: Callable[[Any], Any] = fastjsonschema.compile(
        dict(load(name)),
        handlers={"https": _resolve},
        formats={"date-time": _is_real_datetime},
    )
    return compiled


def flat_schema(name: str) -> dict[str, Any]:
    """
    ``<name>.schema.json`` with every ``$ref`` inlined and every ``allOf`` merged away.

    The same constraints, derived from the same files when first asked for: a subschema
    that is ``allOf`` of others plus keywords of its own becomes one subschema holding all
    of them (a keyword both sides give differently stays an ``allOf``, so nothing is ever
    dropped). Annotations (``title``, ``description``, ``$id``, ``$schema``) are left out.
    What it accepts is what the layered schema accepts; only the order in which the
    keywords are tried may differ, so a refusal is always explained by ``validator``.
    """
    flat: dict[str, Any] = _flatten(load(name), load(name))
    return flat


_ANNOTATIONS: Final = frozenset({"title", "description", "$id", "$schema", "definitions"})


def _pointer(document: Mapping[str, Any], fragment: str) -> Any:
    node: Any = document
    for part in fragment.lstrip("/").split("/") if fragment.strip("/") else ():
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _flatten(schema: Any, document: Mapping[str, Any]) -> Any:
    if isinstance(schema, list):
        return [_flatten(item, document) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    if "$ref" in schema:
        # Draft-07: a $ref's siblings are ignored; refs are to $ids or local pointers.
        target, _, fragment = str(schema["$ref"]).partition("#")
        base = _resolve(BASE_URI + target) if target else document
        return _flatten(_pointer(base, fragment), base)
    out: dict[str, Any] = {}
    rest: list[Any] = []
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key == "allOf":
            rest.extend(_flatten(item, document) for item in value)
        elif key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: _flatten(v, document) for k, v in value.items()}
        elif key in (
            "items",
            "additionalProperties",
            "not",
            "contains",
            "propertyNames",
            "anyOf",
            "oneOf",
            "if",
            "then",
            "else",
            "additionalItems",
        ):
            out[key] = _flatten(value, document)
        else:
            out[key] = value
    for part in rest:
        out = _merge(out, part)
    return out


def _merge(left: dict[str, Any], right: Any) -> dict[str, Any]:
    """
    One subschema that holds exactly when both ``left`` and ``right`` hold.
    """
    if not isinstance(right, Mapping):
        return {**left, "allOf": [*left.get("allOf", []), right]}
    out = dict(left)
    kept: list[Any] = []
    for key, value in right.items():
        if key not in out or out[key] == value:
            out[key] = value
        elif key == "properties":
            props = dict(out[key])
            for prop, sub in value.items():
                props[prop] = _merge(props[prop], sub) if prop in props else sub
            out[key] = props
        elif key == "required":
            out[key] = [*out[key], *(r for r in value if r not in out[key])]
        else:
            kept.append({key: value})
    if kept:
        out["allOf"] = [*out.get("allOf", []), *kept]
    return out


@functools.cache
def flat_validator(name: str) -> Callable[[Any], Any]:
    """
    The compiled validator of ``flat_schema(name)``: one function, no calls between schemas.

    Accepts exactly what ``validator(name)`` accepts (tests/unit/test_flat_schemas.py);
    the layered one names the field and rule of a refusal.
    """
    compiled: Callable[[Any], Any] = fastjsonschema.compile(
        flat_schema(name), formats={"date-time": _is_real_datetime}
    )
    return compiled


_RULE_TEXT: Final = {
    "type": "has the wrong JSON type",
    "required": "is required",
    "additionalProperties": "is not a declared field (the schema is closed)",
    "enum": "is not one of the allowed values",
    "const": "does not match the event type",
    "minLength": "must not be empty",
    "maxLength": "is longer than its bound",
    "maxItems": "has more items than its bound",
    "minimum": "is below its minimum",
    "maximum": "is above its maximum",
    "pattern": "does not match the required format",
    "format": "is not a real RFC 3339 date-time",
}
_BOUNDED_RULES: Final = frozenset({"maxLength", "maxItems", "minimum", "maximum", "enum"})


def shape_error(
    exc: fastjsonschema.JsonSchemaValueException, data: Any, event_type: str
) -> InvalidSchemaError:
    """
    An ``InvalidSchemaError`` naming the field and the rule, never echoing the value.

    An undeclared key is named, unless its name is credential-shaped (a key can carry a
    secret as well as a value can): then it is shown as ``<redacted>``.
    """
    rule = exc.rule or "schema"
    field = (exc.name or "").removeprefix("data").lstrip(".")
    text = _RULE_TEXT.get(rule, f"violates {rule}")
    if rule == "required" and isinstance(data, dict):
        wanted = exc.rule_definition or []
        missing = [k for k in wanted if k not in data]
        field = missing[0] if missing else field
    elif rule == "additionalProperties" and isinstance(data, dict):
        allowed = set(load("gov_automation_event")["properties"])
        extra = sorted(str(k) for k in data if k not in allowed)
        # Name a key that can be shown; a credential-shaped one only as the placeholder.
        shown = [k[:64] for k in extra if not _shows_credential(k)]
        if shown:
            field = shown[0]
        elif extra:
            field = _guard.REDACTED
            text = f"{text}; its name carries credential-like material and is not shown"
    if rule in _BOUNDED_RULES and exc.rule_definition is not None:
        text = f"{text} ({rule} {exc.rule_definition})"
    return InvalidSchemaError(
        f"{event_type}: field '{field or '<event>'}' {text}",
        field=field or None,
        rule=rule,
        event_type=event_type,
    )


def _shows_credential(key: str) -> bool:
    # The key in full and as it would be named (cut to 64 characters): either may be the
    # one that reads as a credential.
    return _guard.is_credential_shaped(key) or _guard.is_credential_shaped(key[:64])


def check_finite(value: Any, field: str, event_type: str) -> None:
    """
    JSON has no NaN or Infinity; a Python caller can still pass them.
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidSchemaError(
            f"{event_type}: field '{field}' must be a finite JSON number",
            field=field,
            rule="finite",
            event_type=event_type,
        )
