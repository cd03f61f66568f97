"""From stored FR events to table rows: one handler per event type.

``fold`` turns one batch of notifications into one Arrow table per projection
table. What an event does to its decision is ``ledger.decision_state.evolve``,
the same fold the aggregate uses, so the projection's status, effective
decision and LOCKED halts are the aggregate's by construction; the handlers here
only add the rows each event makes (signatures, interventions, halts). Later
events update a decision, so the batch is folded in memory first: each decision
leaves the batch as one final row, whatever number of its events the batch
held. Decisions created in an earlier batch are read back once per batch
(``load``). No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson
import pyarrow as pa  # type: ignore[import-untyped]

from ledger.decision_state import UNATTRIBUTED, DecisionState, evolve
from ledger.errors import LedgerError, TamperDetectedError
from ledger.events import APPLIED, CREATED, RECEIVED, REQUESTED, SIGNED
from ledger.policy import BUILTIN, GatePolicy
from projections._tables import BATCH_OPERATIONS, TABLES

__all__ = ["Carried", "Loader", "fold", "refusals_table"]


#: The Arrow schema of each table's (and batch operation's) rows.
_SCHEMAS: Final[Mapping[str, pa.Schema]] = {
    **{name: table.arrow_schema for name, table in TABLES.items()},
    **{name: table.arrow_schema for name, (table, _) in BATCH_OPERATIONS.items()},
}


class Carried:
    """
    One decision in a batch: its state, and the columns of its 001 the state does not hold.

    ``fold`` hands the decisions a batch wrote back to its caller as ``Carried`` values,
    so the next batch can continue them without reading their rows back.
    """

    __slots__ = ("created", "state")

    def __init__(self, state: DecisionState, created: dict[str, Any]) -> None:
        self.state = state
        self.created = created

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Carried:
        """
        A decision as its stored ``decisions`` row holds it.
        """
        return cls(DecisionState.from_columns(row), dict(row))

    def row(self) -> dict[str, Any]:
        """
        The ``decisions`` row of this decision now.
        """
        state = self.state
        # The state's enums are str: Arrow takes them as the strings they are.
        row = {**self.created, **state.__dict__}
        row["effective_decision"] = state.effective_decision
        row["status"] = state.status
        return row


#: Reads decisions created in earlier batches: stored rows, or what the last batch carried.
Loader = Callable[[Sequence[str]], Mapping[str, "Mapping[str, Any] | Carried"]]


def fold(
    batch: Sequence[tuple[int, bytes]],
    load: Loader,
    touched: dict[str, Carried] | None = None,
    policy_at: Callable[[int], GatePolicy] = lambda _: BUILTIN,
    *,
    sealed: Sequence[bool] | None = None,
    recorded: Sequence[str | None] | None = None,
) -> dict[str, pa.Table]:
    """
    The rows one batch of (position, canonical bytes) adds or changes, per table.

    Besides one table of new rows per projection table, ``decisions_replaced`` names
    the stored decisions whose rows this batch rewrites, and
    ``human_interventions_answers`` the stored requests this batch answers. When
    ``touched`` is given it receives the decisions this batch wrote, as they are after
    it (a caller may serve the next batch's ``load`` from them). ``policy_at`` names the
    gate policy a 001 at a position was judged under (the store keeps it per commit).
    ``sealed`` and ``recorded`` (one per event) fill the ``events`` columns of the same
    names.

    A stored event that is not a governance event the fold can apply raises
    ``TamperDetectedError`` naming its position: the store refuses such events, so
    one that is stored was put there behind the ledger's back.
    """
    parsed = [_decoded(position, state) for position, state in batch]
    positions = [p for p, _ in batch]
    created_here = {fr["decision_id"] for fr in parsed if fr["type"] == CREATED}
    earlier = sorted({fr["decision_id"] for fr in parsed} - created_here)
    loaded = {
        d: found if isinstance(found, Carried) else Carried.from_row(found)
        for d, found in load(earlier).items()
    }
    folder = _Folder(loaded, policy_at)
    handlers = {
        CREATED: folder.created,
        APPLIED: folder.applied,
        SIGNED: folder.signed,
        REQUESTED: folder.requested,
        RECEIVED: folder.received,
    }
    for position, fr in zip(positions, parsed, strict=True):
        try:
            handlers[fr["type"]](position, fr)
        except TamperDetectedError:
            raise
        except (LedgerError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _undecodable(position, f"it cannot be applied to its decision ({exc})") from None
    rows = [folder.decisions[d].row() for d in folder.touched]
    replaced = [d for d in earlier if d in folder.touched]
    if touched is not None:
        touched.clear()
        touched.update((d, folder.decisions[d]) for d in folder.touched)
    # Order matters: rows to delete and rows to update go before the inserts.
    return {
        "decisions_replaced": _table("decisions_replaced", [{"decision_id": d} for d in replaced]),
        "human_interventions_answers": _table("human_interventions_answers", folder.answers),
        "events": _events_table(positions, batch, sealed, recorded),
        "decisions": _table("decisions", rows),
        "auto_signatures": _table("auto_signatures", folder.signatures),
        "human_interventions": _table("human_interventions", list(folder.interventions.values())),
        "locked_halts": _table("locked_halts", folder.halts),
    }


#: What every stored event has (the rest is checked where it is used).
_KEYS: Final = frozenset({"event_id", "type", "decision_id", "timestamp", "actor"})
_TYPES: Final = frozenset({CREATED, APPLIED, SIGNED, REQUESTED, RECEIVED})


def _undecodable(position: int, why: str) -> TamperDetectedError:
    return TamperDetectedError(
        f"the stored event at position {position} is not a governance event the ledger "
        f"could have stored: {why}; the store was changed behind the ledger's back "
        "(run govledger verify)",
        position=position,
        field="position",
        rule="decodable",
    )


def _decoded(position: int, state: bytes) -> dict[str, Any]:
    try:
        fr = orjson.loads(state)
    except orjson.JSONDecodeError as exc:
        raise _undecodable(position, f"not JSON ({exc})") from None
    if type(fr) is not dict or not fr.keys() >= _KEYS:
        raise _undecodable(position, "not an object with " + ", ".join(sorted(_KEYS)))
    if fr["type"] not in _TYPES:
        raise _undecodable(position, f"unknown type {fr['type']!r}")
    return fr


class _Folder:
    """
    The five handlers; each moves one decision on and adds the rows its event makes.
    """

    def __init__(
        self, decisions: dict[str, Carried], policy_at: Callable[[int], GatePolicy]
    ) -> None:
        self.decisions = decisions
        self.policy_at = policy_at
        self.touched: dict[str, None] = {}  # insertion-ordered set
        self.signatures: list[dict[str, Any]] = []
        self.interventions: dict[str, dict[str, Any]] = {}
        self.answers: list[dict[str, Any]] = []
        self.halts: list[dict[str, Any]] = []

    def _moved(self, position: int, fr: Mapping[str, Any]) -> tuple[Carried, DecisionState]:
        """
        The decision ``fr`` moves on, and its state before ``fr``.
        """
        decision_id = fr["decision_id"]
        try:
            decision = self.decisions[decision_id]
        except KeyError:
            # The store refuses a 002..005 without its 001, so this is a foreign or damaged store.
            why = f"its decision {decision_id!r} has no gov_decision_created before it"
            raise _undecodable(position, why) from None
        before = decision.state
        decision.state = evolve(before, fr)
        decision.created["last_position"] = position
        self.touched[decision_id] = None
        return decision, before

    def created(self, position: int, fr: Mapping[str, Any]) -> None:
        policy = self.policy_at(position)
        state = evolve(None, fr, policy)
        decision_id = state.decision_id
        self.decisions[decision_id] = Carried(
            state,
            {
                "actor": fr["actor"],
                "wp_id": fr.get("wp_id"),
                "mt_id": fr.get("mt_id"),
                "job_id": fr.get("job_id"),
                "rationale": fr.get("rationale"),
                "evidence_refs": fr.get("evidence_refs"),
                "created_position": position,
                "last_position": position,
            },
        )
        self.touched[decision_id] = None
        if state.is_halt:
            self.halts.append(
                {
                    "decision_id": decision_id,
                    "gate_type": state.gate_type,
                    "target_ref": state.target_ref,
                    "decision": state.model_decision,
                    "confidence": state.confidence,
                    "threshold": state.threshold,
                    "model_id": state.model_id,
                    "halted_at": state.created_at,
                    "rule": policy.halt_rule(state.gate_type),
                    "reason": state.reason,
                    "position": position,
                }
            )

    def signed(self, position: int, fr: Mapping[str, Any]) -> None:
        decision, _ = self._moved(position, fr)
        model_id = decision.state.signed_by
        self.signatures.append(
            {
                "auto_signature_id": fr["event_id"],
                "schema_version": "hsk.auto_signature@0.1",
                "decision_id": fr["decision_id"],
                "gate_type": fr["gate_type"],
                "target_ref": fr["target_ref"],
                "created_at": fr["timestamp"],
                "actor_kind": "model",
                "model_id": model_id if model_id is not None else UNATTRIBUTED,
                "model_attributed": model_id is not None,
                "position": position,
            }
        )

    def requested(self, position: int, fr: Mapping[str, Any]) -> None:
        self._moved(position, fr)
        self.interventions[fr["event_id"]] = {
            "request_event_id": fr["event_id"],
            "decision_id": fr["decision_id"],
            "gate_type": fr["gate_type"],
            "target_ref": fr["target_ref"],
            "automation_level": fr["automation_level"],
            "requested_at": fr["timestamp"],
            "request_reason": fr.get("rationale"),
            "requested_position": position,
        }

    def received(self, position: int, fr: Mapping[str, Any]) -> None:
        _, before = self._moved(position, fr)
        request_id = before.pending_request_id
        intervention = self.interventions.get(request_id) if request_id is not None else None
        if intervention is None:
            # An earlier batch wrote the request's row: this batch only answers it.
            intervention = {"request_event_id": request_id}
            self.answers.append(intervention)
        intervention.update(
            received_event_id=fr["event_id"],
            received_at=fr["timestamp"],
            user_id=fr.get("user_id"),
            decision=fr.get("decision"),
            rationale=fr.get("rationale"),
            received_position=position,
        )

    def applied(self, position: int, fr: Mapping[str, Any]) -> None:
        self._moved(position, fr)


def _table(name: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    # Arrow converts the row dicts in C++; absent keys become nulls, extra keys are ignored.
    return pa.Table.from_pylist(rows, schema=_SCHEMAS[name])


def refusals_table(rows: Sequence[tuple[int, Sequence[Any]]]) -> pa.Table:
    """
    The ``refusals`` rows of a page of the refusal journal: (position, record).
    """
    names = [c.name for c in TABLES["refusals"].columns if c.name != "position"]
    return _table(
        "refusals",
        [
            {"position": position, **dict(zip(names, record, strict=True))}
            for position, record in rows
        ],
    )


def _events_table(
    positions: list[int],
    batch: Sequence[tuple[int, bytes]],
    sealed: Sequence[bool] | None,
    recorded: Sequence[str | None] | None,
) -> pa.Table:
    # Only the position and the stored bytes, which already are the normalised event as
    # JSON (UTF-8, checked by Arrow's cast); DuckDB extracts the flat columns itself.
    fr = pa.array([state for _, state in batch], pa.binary()).cast(pa.string())
    count = len(positions)
    return pa.Table.from_arrays(
        [
            pa.array(positions, pa.int64()),
            fr,
            pa.array(sealed if sealed is not None else [False] * count, pa.bool_()),
            pa.array(recorded if recorded is not None else [None] * count, pa.string()),
        ],
        schema=_SCHEMAS["events"],
    )
