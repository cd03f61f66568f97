"""Judge one FR event on its own: shape, type, normalisation.

``normalise`` is the boundary where legacy automation levels become HYBRID
(2.6.8.12.6.1). The same function runs inside the mapper at append time, so
whatever the entry point, nothing invalid is stored.
"""

from __future__ import annotations

from typing import Any

import fastjsonschema
import orjson

from ledger import _schemas
from ledger.errors import InvalidSchemaError
from ledger.events import canonical_bytes, lookup
from ledger.vocabulary import LEGACY_LEVELS

__all__ = ["normalise", "parse_line"]


def normalise(event: Any) -> dict[str, Any]:
    """
    A validated, normalised copy of ``event``; raises a ``LedgerError`` otherwise.

    Checks in order: a JSON object; a known ``type`` (else ``unknown_event_type``);
    the type's schema (else ``invalid_schema`` naming the field and the rule).
    """
    if not isinstance(event, dict):
        raise InvalidSchemaError(
            "event: must be a JSON object", field=None, rule="type", event_type=None
        )
    if "type" not in event:
        raise InvalidSchemaError(
            "event: field 'type' is required", field="type", rule="required"
        )
    event_type = lookup(event["type"]).event_type
    try:
        _schemas.validator(event_type)(event)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise _schemas.shape_error(exc, event, event_type) from None
    _schemas.check_finite(event.get("confidence"), "confidence", event_type)
    out = dict(event)
    legacy = LEGACY_LEVELS.get(out["automation_level"])
    if legacy is not None:
        out["automation_level"] = legacy.value
    canonical_bytes(out)  # a lone surrogate passes the schema but has no UTF-8 form
    return out


def parse_line(line: bytes | str) -> dict[str, Any]:
    """
    One JSON Lines input line, parsed and normalised.
    """
    try:
        parsed = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InvalidSchemaError(
            f"line is not valid JSON: {exc.msg} at position {exc.pos}",
            field=None,
            rule="json",
        ) from None
    return normalise(parsed)
