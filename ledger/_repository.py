"""Decisions as the store holds them: loads, a bounded cache, event-id lookups, store errors.

The library's ``Repository.get`` reads one aggregate per round trip; judging a
batch of 1,000 events needs the decisions of all of them at once, so
``DecisionRepository.load`` reads many in one query and replays each through
the same mapper and the same ``mutate`` as the library does
(``tests/integration/test_repository.py`` checks the two agree). Every store
failure becomes a ``StoreError`` here, through ``store_errors``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final
from uuid import UUID

from eventsourcing.persistence import (
    IntegrityError,
    Mapper,
    MapperDeserialisationError,
    PersistenceError,
)

from ledger.errors import LedgerError, StoreError, TamperDetectedError
from ledger.gate import GateEvaluation
from ledger.policy import BUILTIN, GatePolicy
from ledger.stores import EventStore

__all__ = ["DecisionRepository", "store_errors"]

#: Closed decisions kept for quick reads right after they close.
_CLOSED_KEPT: Final = 1024


@contextmanager
def store_errors(label: str, doing: str, *, nothing_stored: bool = False) -> Iterator[None]:
    """
    A library persistence error inside becomes ``StoreError`` naming the store.

    ``IntegrityError`` passes through: it means another writer got there first, and
    the caller judges its batch again.
    """
    try:
        yield
    except IntegrityError:
        raise
    except PersistenceError as exc:
        tail = "; nothing in this batch was stored" if nothing_stored else ""
        raise StoreError(
            f"could not {doing} the event store {label}: {exc}{tail}", rule="store"
        ) from None


def _undecodable(oid: UUID, version: int, exc: Exception, label: str) -> TamperDetectedError:
    why = exc.message if isinstance(exc, LedgerError) else f"{type(exc).__name__}: {exc}"
    return TamperDetectedError(
        f"the stored event {oid}@{version} in {label} is not a governance event the ledger "
        f"could have stored ({why}); the store was changed behind the ledger's back (run "
        "govledger verify); nothing was done with this decision",
        field="decision",
        rule="decodable",
    )


class DecisionRepository:
    """
    Loads decisions (many per round trip) and keeps recent ones between batches.

    Open decisions may still receive events; closed ones (after their 002) only
    refusals, so few of them are kept: memory stays flat on long streams.
    """

    def __init__(
        self,
        store: EventStore,
        mapper: Mapper[UUID],
        label: str,
        capacity: int,
        policy: GatePolicy = BUILTIN,
    ) -> None:
        self._store = store
        self._mapper = mapper
        self._label = label
        self._capacity = capacity
        # The policies decisions were created under, by digest (the store keeps them all).
        self._policies: dict[str, GatePolicy] = {BUILTIN.digest: BUILTIN, policy.digest: policy}
        self._open: OrderedDict[UUID, GateEvaluation] = OrderedDict()
        self._closed: OrderedDict[UUID, GateEvaluation] = OrderedDict()

    def load(self, oids: Iterable[UUID], *, cached: bool = True) -> dict[UUID, GateEvaluation]:
        """
        Current aggregates for ``oids`` (absent ones are new decisions), cache first.

        Cached aggregates are returned themselves, not copies: only the batch judge
        may change them, and it forgets them if its batch fails. The cache only speeds
        up writes: a stale entry (another process appended) makes the insert collide
        on (aggregate, version), and the batch is judged again from the store. Reads
        for callers pass ``cached=False`` and so get aggregates of their own.
        """
        found: dict[UUID, GateEvaluation] = {}
        missing: list[UUID] = []
        for oid in oids:
            hit = (self._open.get(oid) or self._closed.get(oid)) if cached else None
            if hit is None:
                missing.append(oid)
            else:
                found[oid] = hit
        if missing:
            with store_errors(self._label, "read"):
                stored = self._store.select_events_many(missing)
                pins = self._store.policy_pins(list(stored)) if stored else {}
            for oid, rows in stored.items():
                aggregate: Any = None
                for row in rows:
                    # What the library's Repository does for each stored event; a 001 also
                    # carries the policy its decision was created under (4.3.7.1: pinned).
                    try:
                        event = self._mapper.to_domain_event(row)
                        if row.originator_version == 1:
                            event.__dict__["policy"] = self.policy(pins.get(oid))
                        aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
                    except StoreError:
                        raise
                    except (
                        MapperDeserialisationError,
                        LedgerError,
                        KeyError,
                        TypeError,
                        ValueError,
                        AttributeError,
                    ) as exc:
                        raise _undecodable(oid, row.originator_version, exc, self._label) from None
                found[oid] = aggregate
        return found

    def policy(self, digest: str | None) -> GatePolicy:
        """
        The gate policy with ``digest`` (None: a decision from before policies were kept,
        when the normative table was the only policy).
        """
        if digest is None:
            return BUILTIN
        found = self._policies.get(digest)
        if found is None:
            with store_errors(self._label, "read"):
                records = self._store.policy_records([digest])
            if digest not in records:
                msg = f"the store names gate policy {digest} but does not keep it"
                raise StoreError(msg, rule="policy")
            found = self._policies[digest] = GatePolicy.from_canonical(records[digest].canonical)
        return found

    def stored_event_ids(self, event_ids: Sequence[str]) -> dict[str, bytes]:
        """
        The stored bytes of each of ``event_ids`` (lower case) that is stored already.
        """
        if not event_ids:
            return {}
        with store_errors(self._label, "read"):
            return self._store.find_event_ids(event_ids)

    def remember(self, oid: UUID, aggregate: GateEvaluation) -> None:
        """
        Keep ``aggregate`` for the next batch (bounded, least recently used first out).
        """
        if not aggregate.state.closed:
            cache, bound = self._open, self._capacity
        else:
            self._open.pop(oid, None)
            cache, bound = self._closed, _CLOSED_KEPT
        cache[oid] = aggregate
        cache.move_to_end(oid)
        while len(cache) > bound:
            cache.popitem(last=False)

    def forget(self, oids: Iterable[UUID] | None = None) -> None:
        """
        Drop cached decisions (all of them by default): the store is read again for them.
        """
        if oids is None:
            self._open.clear()
            self._closed.clear()
            return
        for oid in oids:
            self._open.pop(oid, None)
            self._closed.pop(oid, None)
