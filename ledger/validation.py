"""Judge one FR event on its own: shape, type, normalisation.

``normalise`` is the boundary where legacy automation levels become HYBRID
(2.6.8.12.6.1). The mapper runs it at append time on anything it has not
already judged, so whatever the entry point, nothing invalid is stored.

What ``normalise`` returns is a ``ValidatedFR``: a read-only dict that only
``normalise`` can make, carrying the canonical bytes it judged. The mapper
accepts one as proof of validation (after checking its bytes still match its
content) instead of running the schema a second time on the same event.
"""

from __future__ import annotations

from typing import Any, Final

import fastjsonschema
import orjson

from ledger import _guard, _schemas
from ledger.errors import InvalidSchemaError
from ledger.events import canonical_bytes, lookup
from ledger.vocabulary import LEGACY_LEVELS, AutomationLevel, Decision, GateType, imitated

__all__ = ["ValidatedFR", "normalise"]

_TOKEN = object()


class ValidatedFR(dict[str, Any]):
    """
    A normalised FR event that passed its schema, with the bytes that were judged.

    Only ``normalise`` makes one. It is still a dict a caller may change, but any change
    through the dict's methods drops the proof (``canonical``), and a change inside a
    nested list no longer matches it (``is_intact``): either way the mapper validates it
    again. Copies (``dict(fr)``, ``copy.copy``) are plain dicts, also validated again.
    """

    __slots__ = ("canonical",)
    canonical: bytes

    def __new__(cls, _data: dict[str, Any], token: object) -> ValidatedFR:  # noqa: PYI034
        if token is not _TOKEN:
            msg = "a ValidatedFR is made by ledger.validation.normalise only"
            raise TypeError(msg)
        return super().__new__(cls)

    def __init__(self, data: dict[str, Any], token: object) -> None:
        super().__init__(data)
        del token

    def __setitem__(self, key: str, value: Any) -> None:
        self.release()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.release()
        super().__delitem__(key)

    def __ior__(self, other: Any) -> ValidatedFR:  # type: ignore[override,misc]  # noqa: PYI034
        self.release()
        super().update(other)
        return self

    def clear(self) -> None:
        self.release()
        super().clear()

    def pop(self, *args: Any) -> Any:
        self.release()
        return super().pop(*args)

    def popitem(self) -> tuple[str, Any]:
        self.release()
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.release()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.release()
        super().update(*args, **kwargs)

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        import copy  # noqa: PLC0415

        return copy.deepcopy(dict(self), memo)

    def is_intact(self) -> bool:
        """
        Whether the content still encodes to the bytes that were validated.

        Guards the nested lists (``evidence_refs``), which a caller could still change.
        """
        return canonical_bytes(self) == getattr(self, "canonical", None)

    def release(self) -> None:
        """
        Drop the judged bytes: on any change, and once they are stored (decisions cached for
        later batches hold their events). Without them the event counts as not judged.
        """
        if hasattr(self, "canonical"):
            del self.canonical


def normalise(event: Any) -> ValidatedFR:
    """
    A validated, normalised, read-only copy of ``event``; raises a ``LedgerError`` otherwise.

    Checks in order: a JSON object; a known ``type`` (else ``unknown_event_type``);
    the type's schema (else ``invalid_schema`` naming the field and the rule); no
    credential-like material in any string of any field (else ``invalid_schema`` with
    rule ``no_credentials``, naming the field, never the value).
    """
    if type(event) is ValidatedFR and event.is_intact():
        return event  # judged already, and unchanged since
    if not isinstance(event, dict):
        raise InvalidSchemaError(
            "event: must be a JSON object", field=None, rule="type", event_type=None
        )
    # Judge, and later store, a copy of our own: a mapping that answers lookups one way
    # and holds other contents (or a list the caller changes later) cannot slip past.
    return _judge(_own(event))


def normalise_parsed(event: Any) -> ValidatedFR:
    """
    ``normalise`` for an object this process has just parsed from JSON with ``orjson``
    and hands over whole: no one else holds it, so it is judged without a copy.

    Only plain ``dict`` objects skip the copy (orjson makes nothing else); anything else
    goes through ``normalise`` in full. Never for an object a caller passed in.
    """
    if type(event) is not dict:
        return normalise(event)
    return _judge(event)


def revive(canonical: bytes) -> ValidatedFR:
    """
    The ``ValidatedFR`` whose judged bytes are ``canonical``, as ``normalise`` made it in
    this ledger's own ingest worker process (``ledger.ingest``), which sends back only the
    bytes it judged. Parsing them again gives the same content, which encodes to the same
    bytes (the mapper checks that before storing). Never for bytes from anywhere else.
    """
    out = _made(orjson.loads(canonical))
    out.canonical = canonical
    return out


def _made(event: dict[str, Any]) -> ValidatedFR:
    # ``ValidatedFR(event, _TOKEN)`` without its two Python-level constructor calls (this
    # module is the only maker; measured ~0.4 us per event at ingestion rates).
    out: ValidatedFR = dict.__new__(ValidatedFR)
    dict.update(out, event)
    return out


def _judge(event: dict[str, Any]) -> ValidatedFR:
    """
    The checks of ``normalise`` on a plain dict of exact JSON types that nobody else holds.
    """
    if "type" not in event:
        raise InvalidSchemaError("event: field 'type' is required", field="type", rule="required")
    event_type = lookup(event["type"]).event_type
    _check_spellings(event, event_type)
    _check_shape(event, event_type)
    _schemas.check_finite(event.get("confidence"), "confidence", event_type)
    # Refs, not payloads (11.5.4): every string the ledger would store, in every field.
    field = _guard.credential_field(event)
    if field is not None:
        raise InvalidSchemaError(
            f"{event_type}: field '{field}' carries credential-like material "
            "(11.5.4: refs, not payloads); the value is not shown",
            field=field,
            rule="no_credentials",
            event_type=event_type,
        )
    out = _made(event)
    legacy = LEGACY_LEVELS.get(out["automation_level"])
    if legacy is not None:
        dict.__setitem__(out, "automation_level", legacy.value)
    # Also refuses a lone surrogate, which passes the schema but has no UTF-8 form. The copy
    # is exact-size: orjson's own result keeps a ~4 KiB buffer, and cached decisions hold
    # these bytes (measured: 6 KiB per event before the copy, ~0.5 KiB after).
    out.canonical = memoryview(canonical_bytes(out)).tobytes()
    return out


def _check_shape(event: dict[str, Any], event_type: str) -> None:
    """
    The type's schema: decided by its flat form, a refusal explained by the layered one.

    Both are compiled from the same files and accept the same events
    (tests/unit/test_flat_schemas.py); the layered validator tries the keywords in the
    order the field and rule of every refusal have always been named by.
    """
    try:
        _schemas.flat_validator(event_type)(event)
    except fastjsonschema.JsonSchemaValueException as flat:
        try:
            _schemas.validator(event_type)(event)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise _schemas.shape_error(exc, event, event_type) from None
        # Never reached while the two agree; if they did not, the stricter answer stands.
        raise _schemas.shape_error(flat, event, event_type) from None


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def _own(event: dict[Any, Any], depth: int = 0) -> dict[Any, Any]:
    """
    A plain copy of ``event``: exact JSON types, no object shared with the caller.

    Read through the built-in types' own methods (``dict.items``, ``list.__iter__``), so a
    subclass that overrides its lookups is copied as what it holds, not what it claims.
    Only two levels are copied: an event is flat (scalars, and lists of strings), and the
    schema refuses whatever a deeper level holds by its type.
    """
    out: dict[Any, Any] = {}
    for key, value in dict.items(event):
        kind = type(value)
        if kind in _SCALARS:
            out[_plain(key, depth)] = value
        elif kind is list and all(type(item) in _SCALARS for item in list.__iter__(value)):
            out[_plain(key, depth)] = list(list.__iter__(value))
        else:
            out[_plain(key, depth)] = _plain(value, depth + 1)
    return out


_COPIED_DEPTH: Final = 2


def _plain(value: Any, depth: int) -> Any:  # noqa: PLR0911 - one return per JSON type
    kind = type(value)
    if kind in _SCALARS or depth > _COPIED_DEPTH:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, dict):
        return _own(value, depth)
    if isinstance(value, list):
        return [_plain(item, depth + 1) for item in list.__iter__(value)]
    if isinstance(value, tuple):
        return [_plain(item, depth + 1) for item in tuple.__iter__(value)]
    return value  # not a JSON type: the schema refuses it by its type


#: The enumerated fields whose look-alike spellings are refused by name (2.6.8.12.6.1: the
#: legacy levels ASSISTED/SUPERVISED stay exact spellings of their own).
_ENUMS: Final = {
    "automation_level": (*(level.value for level in AutomationLevel), *LEGACY_LEVELS),
    "decision": tuple(d.value for d in Decision),
    "actor": ("human", "agent", "system"),
}
_GATES: Final = tuple(g.value for g in GateType)


def _check_spellings(event: dict[str, Any], event_type: str) -> None:
    """
    A value that imitates a normative gate type or an enumerated value without being it.

    ``cloudescalation``, ``Cloud\u200bEscalation`` or ``"PolicyViolation "`` would
    otherwise be a gate type outside the table, and auto-approved under AUTONOMOUS.
    """
    gate = event.get("gate_type")
    if isinstance(gate, str) and gate not in _GATES:
        _refuse_imitation(event_type, "gate_type", imitated(gate, _GATES))
    for field, exact in _ENUMS.items():
        value = event.get(field)
        if isinstance(value, str) and value not in exact:
            _refuse_imitation(event_type, field, imitated(value, exact))


def _refuse_imitation(event_type: str, field: str, original: str | None) -> None:
    if original is None:
        return
    raise InvalidSchemaError(
        f"{event_type}: field '{field}' imitates {original!r} (case, look-alike, separating "
        f"or invisible characters); only the exact spelling names it",
        field=field,
        rule=f"{field}_confusable",
        event_type=event_type,
    )
