"""The refusal journal's records: what was refused, where it came from, why; never its content.

An auditor's security review looks for exactly the attempts the ledger refused (an
agent trying to auto-sign a CloudEscalation, a LOCKED run trying to bring in a
human). Each refused event becomes a ``RefusalRecord``: the moment, the entry point,
the event_id, decision_id and type when they could be read and carry nothing
credential-shaped, the code, rule and field, and the SHA-256 of the submitted bytes.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import reprlib
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Final

import orjson

from ledger._guard import REDACTED, redact
from ledger.errors import LedgerError
from ledger.stores import RefusalRecord

__all__ = ["ENTRY_POINT", "identity", "leaf_bytes", "refusal", "submitted_bytes"]

#: The entry point the current call came through ("append", "ingest", "api", "http", "mcp").
ENTRY_POINT: ContextVar[str | None] = ContextVar("govledger_entry_point", default=None)

_SHOWN_MAX: Final = 256


def _shown(value: Any) -> str | None:
    """
    ``value`` if it may stand in an audit row: short printable text, nothing secret-shaped.
    """
    if not isinstance(value, str) or not value or len(value) > _SHOWN_MAX:
        return None
    if not value.isprintable() or redact(value) == REDACTED:
        return None
    return value


def identity(error: LedgerError, submitted: Any) -> tuple[str | None, str | None, str | None]:
    """
    (event_id, decision_id, type) of a refused event, where they can be read safely.
    """
    fields = dict.items(submitted) if isinstance(submitted, dict) else ()
    given: Mapping[str, Any] = {key: value for key, value in fields if isinstance(key, str)}
    event_id = _shown(error.event_id) or _shown(given.get("event_id"))
    decision_id = _shown(error.decision_id) or _shown(given.get("decision_id"))
    event_type = _shown(given.get("type")) or _shown(error.event_type)
    return event_id, decision_id, event_type


def submitted_bytes(submitted: Any) -> bytes:
    """
    The bytes of what was submitted, as well as they can be had (a parsed object: its JSON).
    """
    if isinstance(submitted, bytes | bytearray | memoryview):
        return bytes(submitted)
    if isinstance(submitted, str):
        return submitted.encode("utf-8", "surrogatepass")
    try:
        return orjson.dumps(submitted, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return reprlib.repr(submitted).encode("utf-8", "surrogatepass")


def refusal(
    error: LedgerError, submitted: Any, raw: bytes | None, *, entry_point: str, at: str
) -> RefusalRecord:
    """
    The journal record of one refused event (``raw``: its submitted bytes, when known).
    """
    event_id, decision_id, event_type = identity(error, submitted)
    digest = hashlib.sha256(raw if raw is not None else submitted_bytes(submitted)).hexdigest()
    return RefusalRecord(
        refused_at=at,
        entry_point=entry_point,
        event_id=event_id,
        decision_id=decision_id,
        type=event_type,
        code=error.code,
        rule=error.rule,
        field=_shown(error.field),
        sha256=digest,
    )


def leaf_bytes(position: int, record: RefusalRecord) -> bytes:
    """
    The canonical bytes of one journal row (its position included): what the refusal log's
    Merkle tree hashes, as the events' tree hashes their stored bytes.
    """
    return orjson.dumps({"position": position, **record._asdict()}, option=orjson.OPT_SORT_KEYS)
