"""``GovernanceLedger``: the application service every entry point goes through.

Ingestion appends FR events emitted elsewhere (``append``); the command API
(``evaluate_gate``, ``record_human_decision`` and the step commands) lets the
ledger decide and record the sequence itself. Both end in one path: judge the
batch (``ledger._batch``) against its decisions (``ledger._repository``), then
store every accepted event in one transaction through the validating mapper.
Library exceptions are translated here and never reach callers.
"""

from __future__ import annotations

import bisect
import functools
import reprlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar, cast
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Notification, PersistenceError, Recording
from eventsourcing.utils import Environment, EnvType

from ledger import _journal, _time, stores
from ledger._batch import ACCEPTED, DUPLICATE, REJECTED, AppendResult, Judged, judge, prepare
from ledger._guard import redact
from ledger._plan import (
    Binding,
    GatePlan,
    Step,
    decision_created,
    plan_gate,
    plan_human_decision,
)
from ledger._replay import Replay, gate_replay, human_replay
from ledger._repository import DecisionRepository, store_errors
from ledger.artifacts import DecisionRecord
from ledger.config import LedgerConfig
from ledger.errors import (
    ConfigurationError,
    InvalidSchemaError,
    LedgerError,
    SequenceViolationError,
    StoreError,
    TamperDetectedError,
)
from ledger.events import APPLIED, REQUESTED, SIGNED, GovEvent
from ledger.gate import GateEvaluation, aggregate_id
from ledger.policy import BUILTIN, GatePolicy, Outcome
from ledger.validation import ValidatedFR
from ledger.vocabulary import AutomationLevel

__all__ = ["ACCEPTED", "DUPLICATE", "REJECTED", "AppendResult", "GateOutcome", "GovernanceLedger"]

_RETRIES: Final = 8


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """
    What ``evaluate_gate`` / ``record_human_decision`` recorded.
    """

    decision_id: str
    status: str
    verdict: str
    decision: str | None
    threshold: float | None
    reason: str
    event_types: tuple[str, ...]
    event_ids: tuple[str, ...]
    #: The call repeated one already recorded (same decision_id, same arguments): this is
    #: the first call's outcome, and nothing new was stored (issue 12).
    replayed: bool = False

    @property
    def awaiting_human(self) -> bool:
        """
        A human must answer (``record_human_decision``) before the gate can close.
        """
        return self.status == "awaiting_human"

    @property
    def halted(self) -> bool:
        """
        LOCKED failed closed: the workflow must stop here (2.6.8.12.6.1).
        """
        return self.status == "halted"


@dataclass(frozen=True, slots=True)
class _Ahead:
    """
    A judged batch whose commit is in flight.
    """

    items: list[Any]
    submitted: list[bytes | None]
    outcome: Judged
    future: Future[list[int]]


_Command = TypeVar("_Command", bound=Callable[..., GateOutcome])


def _journaled(command: _Command) -> _Command:
    """
    A refused command is written to the refusal journal before the refusal is raised.

    The journal keeps the call's SHA-256 (its arguments as JSON), never its content.
    """

    @functools.wraps(command)
    def run(ledger: GovernanceLedger, *args: Any, **kwargs: Any) -> GateOutcome:
        try:
            return command(ledger, *args, **kwargs)
        except StoreError:
            raise
        except LedgerError as exc:
            call = {"command": command.__name__, "args": list(args), "kwargs": kwargs}
            record = _journal.refusal(
                exc,
                None,
                _journal.submitted_bytes(_plain_call(call)),
                entry_point=_journal.ENTRY_POINT.get() or "api",
                at=_time.utc_text(),
            )
            ledger._save_in_order([], [record])  # noqa: SLF001 - the ledger's own journal
            raise

    return cast("_Command", run)


def _plain_call(call: dict[str, Any]) -> Any:
    # Arguments can be anything a caller passed (deeply nested, not JSON): then the digest
    # is taken over a bounded text form of them.
    try:
        orjson.dumps(call)
    except (orjson.JSONEncodeError, TypeError):
        return reprlib.repr(call)
    return call


class GovernanceLedger(Application[UUID]):
    """
    The governance ledger on one event store (SQLite file, in-memory, or PostgreSQL).

    ``policy`` is the gate policy new decisions are created under.
    """

    name = "govledger"

    def __init__(
        self,
        config: LedgerConfig | None = None,
        *,
        policy: GatePolicy = BUILTIN,
        create: bool = True,
    ) -> None:
        self.config = config or LedgerConfig()
        self.policy = policy
        try:
            super().__init__(env=stores.environment(self.config, create=create))
        except StoreError:
            raise
        except (PersistenceError, OSError) as exc:
            raise StoreError(
                f"cannot open the event store {self.config.store_label}: {exc}", rule="store"
            ) from None
        if not isinstance(self.recorder, stores.EventStore):
            raise ConfigurationError(f"{type(self.recorder).__name__} is not a govledger store")
        if self.snapshots is not None:
            # A snapshot is a second copy of a decision's state, outside the tamper evidence.
            raise ConfigurationError("govledger does not support snapshots", rule="snapshots")
        self.store: stores.EventStore = self.recorder
        try:
            with store_errors(self.config.store_label, "open"):
                self.store.open_meta(create=create, label=self.config.store_label)
        except BaseException:
            self.close()
            raise
        self.decisions = DecisionRepository(
            self.store, self.mapper, self.config.store_label, self.config.cache_decisions, policy
        )
        self._policy_record = stores.PolicyRecord(
            policy.digest, policy.version, policy.canonical().decode()
        )

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # LedgerConfig is the only reader of the process environment: never merge it in here.
        return Environment(name, dict(env or {}))

    # --- appending -------------------------------------------------------------------

    def append(
        self,
        events: Iterable[Any],
        *,
        entry_point: str | None = None,
        submitted: Sequence[bytes | None] | None = None,
    ) -> list[AppendResult]:
        """
        Judge and store FR events (dicts, or ``LedgerError`` for inputs that did not parse).

        Every event is judged on its own, in order; refused events never block or undo
        the accepted ones. All accepted events are stored in one transaction, with a
        record of each refused one in the refusal journal (``entry_point`` says where they
        came from; ``submitted``, the bytes each event arrived as, when known), and are
        acknowledged only after it commits.
        """
        items = list(events)
        where = entry_point or _journal.ENTRY_POINT.get() or "append"
        raw = list(submitted) if submitted is not None else [None] * len(items)
        return self._append(items, atomic=False, entry_point=where, submitted=raw)

    def append_one(self, event: Any) -> AppendResult:
        """
        ``append`` for a single event.
        """
        return self.append([event])[0]

    def _append(self, items: Sequence[Any], **options: Any) -> list[AppendResult]:
        for _ in range(_RETRIES):
            try:
                return self._append_once(items, **options)
            except IntegrityError:
                # Another writer got there first: forget what we believed and judge again.
                self.decisions.forget()
        raise StoreError(
            "concurrent writers kept colliding; nothing in this batch was stored", rule="store"
        )

    def _append_once(
        self,
        items: Sequence[Any],
        *,
        atomic: bool,
        new_ids: bool = False,
        new_decision: bool = False,
        entry_point: str = "api",
        submitted: Sequence[bytes | None] = (),
    ) -> list[AppendResult]:
        judged = prepare(items)
        candidates = [fr for fr in judged if not isinstance(fr, LedgerError)]
        # ``new_ids``: the ledger made these ids (uuid4) itself, so none can be stored yet (and
        # the index's PRIMARY KEY would still refuse a second copy). ``new_decision``: likewise
        # for the decision_id.
        # Decisions first, then event_ids: an event another writer commits between the two
        # reads is then found by its id (a duplicate), never judged against a decision that
        # already holds it (which read the other way round made a sequence_violation).
        aggregates = (
            {}
            if new_decision
            else self.decisions.load({aggregate_id(fr["decision_id"]) for fr in candidates})
        )
        stored = (
            {}
            if new_ids
            else self.decisions.stored_event_ids([fr["event_id"].lower() for fr in candidates])
        )
        outcome = Judged()
        try:
            judge(judged, stored, aggregates, self.policy, atomic=atomic, into=outcome)
            refusals = self._refusals(outcome, items, submitted, entry_point)
            positions = (
                self._save_in_order(outcome.pending, refusals)
                if outcome.pending or refusals
                else []
            )
        except BaseException:
            # Judging works on the cached aggregates themselves (copying them costs more
            # than ingesting): whatever this batch applied to them is forgotten on failure.
            self.decisions.forget(outcome.touched)
            raise
        for event in outcome.pending:
            # The judged bytes are in the store now; cached decisions need not hold them.
            if isinstance(event.fr, ValidatedFR):
                event.fr.release()
        for oid, aggregate in outcome.touched.items():
            self.decisions.remember(oid, aggregate)
        return outcome.acknowledged(positions)

    def append_batches(
        self,
        batches: Iterable[tuple[Sequence[Any], Sequence[bytes | None]]],
        *,
        entry_point: str | None = None,
        fresh: bool = False,
    ) -> Iterator[list[AppendResult]]:
        """
        ``append`` for a stream of batches ((events, submitted bytes) each), one result
        list per batch, in order, each yielded only after its transaction committed.

        The same judging, rules, journal and durability as ``append`` batch after batch;
        but while one batch commits (the fsync, or a PostgreSQL round trip, with the GIL
        released), the next is already judged against the decisions as that commit leaves
        them. It is written only once the commit before it returned; if that commit
        fails, nothing judged on top of it is stored or acknowledged.

        ``fresh``: every ``ValidatedFR`` in the batches was made by the caller for this call
        and is held by nobody else (``ingest_lines``): it is not encoded again to check it
        before judging (the mapper still checks it before it is stored).
        """
        where = entry_point or _journal.ENTRY_POINT.get() or "append"
        committer = ThreadPoolExecutor(1, thread_name_prefix="govledger-commit")
        ahead: _Ahead | None = None
        # Judged on top of ``ahead`` but not written yet: its decisions are forgotten if the
        # caller stops here (or anything fails) before it is handed to the store.
        unwritten: Judged | None = None
        try:
            for events, submitted in batches:
                items, raw = list(events), list(submitted)
                try:
                    outcome, refusals = self._judge_once(items, raw, where, ahead, fresh=fresh)
                except IntegrityError:  # pragma: no cover - judging reads, never writes
                    outcome, refusals = None, []
                unwritten = outcome
                if ahead is not None:
                    done, ahead = ahead, None
                    results = self._committed(done, also_forget=outcome)
                    if results is None:  # a writer got there first: both again, in order
                        outcome = unwritten = None  # forgotten with the whole cache
                        yield self._append(
                            done.items, atomic=False, entry_point=where, submitted=done.submitted
                        )
                    else:
                        yield results
                if outcome is None:
                    yield self._append(items, atomic=False, entry_point=where, submitted=raw)
                    continue
                try:
                    finish = self._write(outcome, refusals)
                except IntegrityError:
                    unwritten = None
                    self.decisions.forget()
                    yield self._append(items, atomic=False, entry_point=where, submitted=raw)
                    continue
                ahead = _Ahead(items, raw, outcome, committer.submit(self._durable, finish))
                unwritten = None
            if ahead is not None:
                done, ahead = ahead, None
                results = self._committed(done)
                yield (
                    results
                    if results is not None
                    else self._append(
                        done.items, atomic=False, entry_point=where, submitted=done.submitted
                    )
                )
        finally:
            if ahead is not None:
                # Stopped early: wait for the commit in flight, and keep the cache true.
                self._committed(ahead, quiet=True)
            if unwritten is not None:
                self.decisions.forget(unwritten.touched)
            committer.shutdown(wait=True)

    def _judge_once(
        self,
        items: list[Any],
        submitted: list[bytes | None],
        entry_point: str,
        ahead: _Ahead | None,
        *,
        fresh: bool = False,
    ) -> tuple[Judged, list[stores.RefusalRecord]]:
        """
        ``_append_once``'s judging, as the batch ``ahead`` (still committing) leaves things:
        its event_ids count as stored and its decisions as it left them.
        """
        judged = prepare(items, fresh=fresh)
        candidates = [fr for fr in judged if not isinstance(fr, LedgerError)]
        keys = [fr["event_id"].lower() for fr in candidates]
        oids = {aggregate_id(d) for d in {fr["decision_id"] for fr in candidates}}
        in_flight = ahead.outcome if ahead is not None else None
        # Decisions first, then event_ids, as ``_append_once`` reads them (an event another
        # writer commits between the two reads is a duplicate, not a sequence violation).
        if in_flight is not None:
            aggregates = self.decisions.load(oids - in_flight.touched.keys())
            aggregates.update(
                (oid, in_flight.touched[oid]) for oid in oids if oid in in_flight.touched
            )
        else:
            aggregates = self.decisions.load(oids)
        stored = self.decisions.stored_event_ids(keys)
        if in_flight is not None:
            written = in_flight.written
            stored.update((key, written[key]) for key in keys if key in written)
        outcome = Judged()
        try:
            judge(judged, stored, aggregates, self.policy, atomic=False, into=outcome)
            refusals = self._refusals(outcome, items, submitted, entry_point)
        except BaseException:
            self.decisions.forget(outcome.touched)
            raise
        return outcome, refusals

    def _write(
        self, outcome: Judged, refusals: Sequence[stores.RefusalRecord]
    ) -> Callable[[], Sequence[int]]:
        """
        Map and write a judged batch (``EventStore.write_events``); the call that commits it.
        """
        if not outcome.pending and not refusals:
            return list
        to_stored = self.mapper.to_stored_event
        with store_errors(self.config.store_label, "write to", nothing_stored=True):
            stored = [to_stored(event) for event in outcome.pending]
            return self.store.write_events(stored, policy=self._policy_record, refusals=refusals)

    def _durable(self, finish: Callable[[], Sequence[int]]) -> list[int]:
        with store_errors(self.config.store_label, "write to", nothing_stored=True):
            return list(finish())

    def _committed(
        self, done: _Ahead, *, also_forget: Judged | None = None, quiet: bool = False
    ) -> list[AppendResult] | None:
        """
        The results of ``done`` once its commit returned; None if a concurrent writer made
        it collide (nothing stored: judge it again). On any failure, the decisions it and
        ``also_forget`` (judged on top of it) touched are forgotten.
        """
        try:
            positions = done.future.result()
        except IntegrityError:
            self.decisions.forget()
            return None
        except BaseException:
            self.decisions.forget(done.outcome.touched)
            if also_forget is not None:
                self.decisions.forget(also_forget.touched)
            if quiet:
                return None
            raise
        for event in done.outcome.pending:
            if isinstance(event.fr, ValidatedFR):
                event.fr.release()
        for oid, aggregate in done.outcome.touched.items():
            self.decisions.remember(oid, aggregate)
        return done.outcome.acknowledged(positions)

    @staticmethod
    def _refusals(
        outcome: Judged, items: Sequence[Any], submitted: Sequence[bytes | None], entry_point: str
    ) -> list[stores.RefusalRecord]:
        """
        The journal records of this batch's refused events (an identical re-send is not one).
        """
        at = _time.utc_text()
        return [
            _journal.refusal(
                result.error,
                items[n],
                submitted[n] if n < len(submitted) else None,
                entry_point=entry_point,
                at=at,
            )
            for n, result in enumerate(outcome.results)
            if isinstance(result, AppendResult)
            and result.status == REJECTED
            and result.error is not None
        ]

    def _save_in_order(
        self, events: list[GovEvent], refusals: Sequence[stores.RefusalRecord] = ()
    ) -> list[int]:
        """
        ``Application.save`` for events already collected, in input order; their positions.

        The library's ``save`` collects events from what it is given, checking each
        object against runtime Protocols (~9 us per event, more than judging it), and its
        ``EventStore.put`` builds a ``Notification`` and a ``Recording`` per event for
        ``_notify``, which this application does not override (and snapshots are refused):
        this maps the collected events through the validating mapper and hands them to the
        store in one transaction, the rest of ``put``'s path unchanged; recordings are
        built only for a subclass that listens. ``tests/integration/test_repository.py``
        checks it stores what ``save`` stores.
        """
        # Written by the store in the same transaction (the library hands save's keyword
        # arguments to the recorder): the policy the new decisions were judged under, and
        # the refusal journal's records.
        to_stored = self.mapper.to_stored_event
        with store_errors(self.config.store_label, "write to", nothing_stored=True):
            stored = [to_stored(event) for event in events]
            positions = self.store.insert_events(
                stored, policy=self._policy_record, refusals=refusals
            )
        positions = list(positions or ())
        if type(self)._notify is not Application._notify:  # noqa: SLF001 - a subclass listens
            self._notify(
                [
                    Recording(
                        event,
                        Notification(
                            s.originator_id, s.originator_version, s.topic, s.state, position
                        ),
                    )
                    for event, s, position in zip(events, stored, positions, strict=True)
                ]
            )
        return positions

    # --- reading ---------------------------------------------------------------------

    def gate(self, decision_id: str) -> GateEvaluation | None:
        """
        The decision's aggregate (a copy of its own), or None if it was never created.
        """
        _require_text("gate", decision_id=decision_id)
        oid = aggregate_id(decision_id)
        return self.decisions.load({oid}, cached=False).get(oid)

    def decision(self, decision_id: str) -> DecisionRecord | None:
        """
        The decision's artifacts (GovernanceDecision, AutoSignature) and event sequence.
        """
        agg = self.gate(decision_id)
        if agg is None:
            return None
        try:
            return DecisionRecord.from_history(agg.history, agg.state)
        except (ValueError, KeyError, TypeError) as exc:
            msg = (
                f"decision {decision_id}'s stored events do not make a governance decision "
                f"({type(exc).__name__}); the store was changed behind the ledger's back (run "
                "govledger verify)"
            )
            raise TamperDetectedError(msg, field="decision_id", rule="decodable") from None

    def stored_events(
        self, *, start: int = 1, limit: int = 1000, stop: int | None = None
    ) -> Iterator[tuple[int, bytes]]:
        """
        (position, canonical bytes) of stored events in store order, fetched in pages.
        """
        position = start
        while True:
            with store_errors(self.config.store_label, "read"):
                page = self.store.select_states(position, limit, stop)
            if not page:
                return
            yield from page
            position = page[-1][0] + 1

    def position_at(self, moment: datetime) -> int:
        """
        The last store position the ledger had recorded at ``moment`` (0: none yet).
        """
        text = _time.utc_text(moment)
        with store_errors(self.config.store_label, "read"):
            return int(self.store.position_at(text))

    def creation_policies(self, start: int, stop: int) -> Callable[[int], GatePolicy]:
        """
        For positions in [start, stop]: the gate policy a 001 stored there was judged under.
        """
        with store_errors(self.config.store_label, "read"):
            commits = self.store.commit_policies(start, stop)
        lasts = [position for position, _ in commits]
        policies = [self.decisions.policy(digest) for _, digest in commits]

        def policy_at(position: int) -> GatePolicy:
            # A commit's row names its last position: the first one at or after this.
            found = bisect.bisect_left(lasts, position)
            return policies[found] if found < len(policies) else BUILTIN

        return policy_at

    def refusals(self, *, start: int = 1, limit: int = 1000) -> list[tuple[int, Any]]:
        """
        (position, ``RefusalRecord``) of the refusal journal from ``start`` on, one page.
        """
        with store_errors(self.config.store_label, "read"):
            return list(self.store.select_refusals(start, limit))

    def max_position(self) -> int:
        """
        The last store position (0 for an empty store).
        """
        with store_errors(self.config.store_label, "read"):
            return int(self.store.max_notification_id() or 0)

    def tally(self) -> stores.StoreTally:
        """
        The events, decisions and refusal journal rows the store holds, counted.
        """
        with store_errors(self.config.store_label, "read"):
            return self.store.tally()

    def event_positions(self, event_ids: Sequence[str]) -> dict[str, int]:
        """
        The store position of each stored event among ``event_ids``.
        """
        with store_errors(self.config.store_label, "read"):
            return self.store.event_positions([e.lower() for e in event_ids])

    def commit_times(self, start: int, stop: int) -> list[tuple[int, str]]:
        """
        (last position, recorded_at) of the commits holding positions ``start``..``stop``.
        """
        with store_errors(self.config.store_label, "read"):
            return self.store.commit_times(start, stop)

    def policy_records(self, digests: Sequence[str]) -> dict[str, stores.PolicyRecord]:
        """
        The gate policies the store keeps under these digests.
        """
        with store_errors(self.config.store_label, "read"):
            return self.store.policy_records(digests) if digests else {}

    def commit_time(self, position: int) -> str | None:
        """
        When the store committed the event at ``position`` (UTC text), None if unknown.
        """
        with store_errors(self.config.store_label, "read"):
            times = self.store.commit_times(position, position)
        found = [at for last, at in times if last >= position]
        return found[0] if found else None

    # --- command API ------------------------------------------------------------------

    @_journaled
    def evaluate_gate(
        self,
        gate_type: str,
        target_ref: str,
        automation_level: str,
        decision: str,
        confidence: float | None,
        rationale: str = "",
        evidence_refs: Sequence[str] | None = None,
        model_id: str | None = None,
        *,
        decision_id: str | None = None,
        wp_id: str | None = None,
        mt_id: str | None = None,
        job_id: str | None = None,
        actor: str = "agent",
    ) -> GateOutcome:
        """
        Apply the gate policy and record the right sequence, durably, in one transaction.

        * auto-approved: 001 -> 003 -> 002 (approve);
        * a human is needed and allowed: 001 -> 004 (``awaiting_human``);
        * LOCKED where a human would be needed: 001 (defer; reject for CloudEscalation and
          PolicyViolation) -> 002, and the outcome is ``halted``;
        * a reject/defer the table lets the model make: 001 -> 002.
        """
        _require_text(
            "evaluate_gate",
            gate_type=gate_type,
            automation_level=automation_level,
            decision=decision,  # quoted in a LOCKED halt's rationale: text, never an object
            decision_id=decision_id,
            rationale=rationale,
            optional=("decision_id",),
        )
        if confidence is not None and (
            isinstance(confidence, bool) or not isinstance(confidence, int | float)
        ):
            raise InvalidSchemaError(
                "evaluate_gate: field 'confidence' has the wrong JSON type (a number in [0, 1])",
                field="confidence",
                rule="type",
            )
        try:
            level = AutomationLevel.parse(automation_level)
        except ValueError:
            raise InvalidSchemaError(
                "evaluate_gate: field 'automation_level' is not one of the allowed values "
                "(FULL_HUMAN, HYBRID, AUTONOMOUS, LOCKED; legacy ASSISTED/SUPERVISED)",
                field="automation_level",
                rule="enum",
            ) from None

        def planned(policy: GatePolicy) -> GatePlan:
            return plan_gate(
                policy,
                gate_type=gate_type,
                level=level,
                decision=decision,
                confidence=confidence,
                rationale=rationale,
                evidence_refs=evidence_refs,
                model_id=model_id,
                actor=actor,
            )

        plan = planned(self.policy)
        binding = Binding(
            decision_id or str(uuid.uuid4()),
            gate_type,
            target_ref,
            level.value,
            (("wp_id", wp_id), ("mt_id", mt_id), ("job_id", job_id)),
        )
        try:
            return self._record_steps(
                binding, plan.steps, plan.outcome, new_ids=True, new_decision=decision_id is None
            )
        except (InvalidSchemaError, StoreError):
            raise
        except LedgerError:
            # A used decision_id (ours from a first try, or another writer's): a retry with
            # the same arguments gets the recorded outcome, anything else is ``duplicate``.
            agg = None if decision_id is None else self.gate(decision_id)
            if agg is None:
                raise
            again = planned(agg.policy)
            replay = gate_replay(agg.history, agg.policy, binding, again.steps)
            return _replayed(binding.decision_id, replay, again.outcome)

    @_journaled
    def record_human_decision(
        self,
        decision_id: str,
        user_id: str,
        decision: str,
        rationale: str = "",
        *,
        final: bool = True,
    ) -> GateOutcome:
        """
        Record a human's answer (005) and, when it is final, close the gate (002).

        ``user_id`` is required: the ledger's own API never records an anonymous human.
        The same answer by the same user, repeated, returns the recorded outcome
        (``replayed``); a decision already answered by another user or otherwise is
        ``duplicate``.
        """
        _require_text("record_human_decision", user_id=user_id)
        if not user_id.strip():
            raise InvalidSchemaError(
                "record_human_decision: field 'user_id' must name the human who answered "
                "(the ledger's own API never records an anonymous human)",
                field="user_id",
                rule="required",
                decision_id=decision_id if isinstance(decision_id, str) else None,
            )
        agg = self._existing(
            decision_id, "record_human_decision", "a human answers a recorded decision"
        )
        steps = plan_human_decision(user_id, decision, rationale, final=final)
        binding = Binding.of(agg.state)
        try:
            return self._record_steps(binding, steps, None, new_ids=True)
        except (InvalidSchemaError, StoreError):
            raise
        except LedgerError:
            # Answered already (by this call's first try, or by someone else meanwhile)?
            agg = self._existing(decision_id, "record_human_decision")
            replay = human_replay(agg.history, agg.policy, binding, steps)
            if replay is None:
                raise
            state = replay.state
            return _replayed(
                decision_id, replay, Outcome(state.verdict, state.threshold, state.reason)
            )

    # --- step commands: for orchestrators that drive each step themselves ---------------

    @_journaled
    def create_decision(
        self,
        gate_type: str,
        target_ref: str,
        automation_level: str,
        decision: str | None,
        confidence: float | None,
        rationale: str = "",
        evidence_refs: Sequence[str] | None = None,
        model_id: str | None = None,
        *,
        decision_id: str | None = None,
        event_id: str | None = None,
        actor: str = "agent",
        **correlation: str,
    ) -> GateOutcome:
        """
        Record only the 001; the caller drives the rest (``auto_sign``, ``apply_decision``...).

        The ledger still refuses what the rules forbid, e.g. an approving 001 under
        LOCKED where a human would be needed (``locked_halt``).
        """
        binding = Binding(
            decision_id or str(uuid.uuid4()),
            gate_type,
            target_ref,
            automation_level,
            tuple(correlation.items()),
        )
        step = decision_created(actor, decision, confidence, rationale, evidence_refs, model_id)
        return self._record_steps(binding, (step,), None, event_id=event_id)

    @_journaled
    def auto_sign(
        self,
        decision_id: str,
        model_id: str | None = None,
        confidence: float | None = None,
        *,
        event_id: str | None = None,
    ) -> GateOutcome:
        """
        Record an AutoSignature (003); ``forbidden_gate`` where the table forbids it.
        """
        step = Step(SIGNED, "agent", {"model_id": model_id, "confidence": confidence})
        return self._next(decision_id, step, event_id)

    @_journaled
    def request_human_intervention(
        self, decision_id: str, rationale: str = "", *, event_id: str | None = None
    ) -> GateOutcome:
        """
        Record a human intervention request (004); ``locked_halt`` under LOCKED.
        """
        step = Step(REQUESTED, "system", {"rationale": rationale})
        return self._next(decision_id, step, event_id)

    @_journaled
    def apply_decision(
        self, decision_id: str, decision: str | None = None, *, event_id: str | None = None
    ) -> GateOutcome:
        """
        Close the gate (002) with the effective decision (or ``decision``, which must match it).
        """
        agg = self._existing(decision_id)
        applied = decision or agg.state.effective_decision
        step = Step(APPLIED, "system", {"decision": applied})
        return self._record_steps(Binding.of(agg.state), (step,), None, event_id=event_id)

    def _next(self, decision_id: str, step: Step, event_id: str | None) -> GateOutcome:
        agg = self._existing(decision_id)
        return self._record_steps(Binding.of(agg.state), (step,), None, event_id=event_id)

    def _existing(
        self,
        decision_id: str,
        command: str = "gate",
        why: str = "every later event needs its gov_decision_created first",
    ) -> GateEvaluation:
        _require_text(command, decision_id=decision_id)
        agg = self.gate(decision_id)
        if agg is None:
            raise SequenceViolationError(
                f"decision_id {redact(decision_id)!r} does not exist: {why} (2.6.8.12.6.4)",
                field="decision_id",
                rule="2.6.8.12.6.4",
                decision_id=redact(decision_id),
            )
        return agg

    def _record_steps(
        self,
        binding: Binding,
        steps: Sequence[Step],
        outcome: Outcome | None,
        *,
        event_id: str | None = None,
        new_ids: bool = False,
        new_decision: bool = False,
    ) -> GateOutcome:
        now = _time.utc_text()
        sequence = [
            binding.event(step, event_id=event_id or str(uuid.uuid4()), timestamp=now)
            for step in steps
        ]
        # The ledger decided: either the whole sequence is stored or none of it is.
        results = self._append(sequence, atomic=True, new_ids=new_ids, new_decision=new_decision)
        for result in results:
            if result.error is not None:
                raise result.error
        # The decision as this commit left it: the aggregate just judged, kept in the cache.
        oid = aggregate_id(binding.decision_id)
        agg = self.decisions.load({oid})[oid]
        state = agg.state
        if outcome is None:
            outcome = Outcome(state.verdict, state.threshold, state.reason)
        return GateOutcome(
            decision_id=binding.decision_id,
            status=state.status.value,
            verdict=outcome.verdict.value,
            decision=state.effective_decision,
            threshold=outcome.threshold,
            reason=outcome.reason,
            event_types=tuple(fr["type"] for fr in sequence),
            event_ids=tuple(fr["event_id"] for fr in sequence),
        )


def _replayed(decision_id: str, replay: Replay, outcome: Outcome) -> GateOutcome:
    """
    The outcome a command's first call returned, rebuilt from what it recorded.
    """
    return GateOutcome(
        decision_id=decision_id,
        status=replay.state.status.value,
        verdict=outcome.verdict.value,
        decision=replay.state.effective_decision,
        threshold=outcome.threshold,
        reason=outcome.reason,
        event_types=tuple(fr["type"] for fr in replay.events),
        event_ids=tuple(fr["event_id"] for fr in replay.events),
        replayed=True,
    )


def _require_text(command: str, *, optional: tuple[str, ...] = (), **values: Any) -> None:
    # Keys into the gate table and the aggregate id: anything but text is refused here, before
    # it can reach a dict lookup or uuid5 (the other fields are judged by the schemas).
    for name, value in values.items():
        if value is None and name in optional:
            continue
        if not isinstance(value, str):
            raise InvalidSchemaError(
                f"{command}: field {name!r} has the wrong JSON type (must be a string)",
                field=name,
                rule="type",
            )
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise InvalidSchemaError(
                    f"{command}: field {name!r} is not valid Unicode (a lone surrogate)",
                    field=name,
                    rule="utf-8",
                ) from None
