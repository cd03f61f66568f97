"""The single append-time gate: a validating Mapper with an orjson encoding.

Every write, whichever entry point it came through, becomes stored events
through ``ValidatingMapper.to_stored_event``; it judges the FR event against
its schema and its binding to the aggregate before anything is encoded, so
nothing invalid can reach the store. Installed with ``MAPPER_TOPIC``.

Judging is not repeated needlessly: an event whose payload is a ``ValidatedFR``
(made only by ``validation.normalise``, read-only, carrying the bytes that were
judged) is stored as those bytes once the mapper has checked that its content
still encodes to exactly them; any other payload is validated here in full. The
bytes stored are therefore always bytes that passed the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent

from ledger import events as ev
from ledger.errors import BindingMismatchError, ConfigurationError, InvalidSchemaError
from ledger.gate import aggregate_id
from ledger.validation import normalise

__all__ = ["GovStoredEvent", "ValidatingMapper"]


@dataclass(frozen=True)
class GovStoredEvent(StoredEvent):
    """
    A stored event that also carries its FR ``event_id`` (lower case) for the unique index.
    """

    event_id: str = ""

    @classmethod
    def of(
        cls, originator_id: UUID, originator_version: int, topic: str, state: bytes, event_id: str
    ) -> GovStoredEvent:
        """
        The same frozen object as the constructor makes, without its per-field
        ``object.__setattr__`` calls (a measurable cost at ingestion rates).
        """
        stored = object.__new__(cls)
        object.__setattr__(
            stored,
            "__dict__",
            {
                "originator_id": originator_id,
                "originator_version": originator_version,
                "topic": topic,
                "state": state,
                "event_id": event_id,
            },
        )
        return stored


class ValidatingMapper(Mapper[UUID]):
    """
    Stored state = canonical bytes of the validated, normalised FR event; nothing else.
    """

    def __init__(
        self, transcoder: Any = None, *, cipher: Any = None, compressor: Any = None
    ) -> None:
        # The stored bytes are the canonical bytes the Merkle tree hashes and auditors
        # export: an encrypted or compressed form would break both, so refuse it loudly.
        if cipher is not None or compressor is not None:
            what = "a cipher" if cipher is not None else "a compressor"
            msg = (
                f"govledger stores each event as its canonical JSON bytes and cannot use "
                f"{what} (CIPHER_TOPIC / COMPRESSOR_TOPIC); encrypt the store's disk instead"
            )
            raise ConfigurationError(msg, rule="mapper")
        # The FR event is JSON by definition: orjson encodes it, no transcoder is consulted.
        super().__init__(transcoder=transcoder)

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> GovStoredEvent:
        fr = getattr(domain_event, "fr", None)
        event_class = type(domain_event)
        if not isinstance(event_class, type) or not issubclass(event_class, ev.GovEvent):
            msg = f"only governance events may be stored, not {event_class.__name__}"
            raise InvalidSchemaError(msg, rule="11.5.7")
        # A ValidatedFR still intact comes back as itself (no second schema run).
        checked = normalise(fr)
        if (checked is not fr and checked != fr) or checked["type"] != event_class.event_type:
            msg = (
                f"{event_class.event_type}: the event's FR payload is not in its validated, "
                "normalised form or names another type"
            )
            raise InvalidSchemaError(msg, field="type", rule="normalised")
        if domain_event.originator_id != aggregate_id(checked["decision_id"]):
            msg = f"{checked['type']}: decision_id does not match the aggregate it is appended to"
            raise BindingMismatchError(msg, field="decision_id", rule="2.6.8.12.6.3")
        return GovStoredEvent.of(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=event_class.TOPIC,
            state=checked.canonical,
            event_id=checked["event_id"].lower(),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        originator_id = stored_event.originator_id
        try:
            return ev.build(
                ev.EVENT_TYPES[stored_event.topic],
                originator_id if isinstance(originator_id, UUID) else UUID(originator_id),
                stored_event.originator_version,
                orjson.loads(stored_event.state),
            )
        except (KeyError, TypeError, ValueError) as exc:
            msg = (
                f"stored event {stored_event.originator_id}@{stored_event.originator_version} "
                f"is not a governance event: {exc}"
            )
            raise MapperDeserialisationError(msg) from None
