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
