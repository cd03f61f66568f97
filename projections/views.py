"""From stored FR events to table rows: one handler per event type.

``fold`` turns one batch of notifications into one Arrow table per projection
table. Later events update a decision (001 creates it; 004/005/003/002 move it
on), so the batch is folded in memory first: each decision leaves the batch as
one final row, whatever number of its events the batch held. Decisions created
in an earlier batch are read back once per batch (``load``). Status words,
effective decision and the LOCKED-halt rule come from ``ledger.gate``'s pure
functions, so the projection says what the aggregate says. No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Final

import orjson
import pyarrow as pa  # type: ignore[import-untyped]

import ledger.events as ev
from ledger.gate import decision_status, is_locked_halt
from ledger.policy import Outcome, evaluate
from ledger.vocabulary import AutomationLevel, GateType
from projections._errors import ProjectionError

__all__ = ["SCHEMAS", "Loader", "fold"]

CREATED: Final = ev.DecisionCreated.event_type
APPLIED: Final = ev.DecisionApplied.event_type
SIGNED: Final = ev.AutoSignatureCreated.event_type
REQUESTED: Final = ev.HumanInterventionRequested.event_type
RECEIVED: Final = ev.HumanInterventionReceived.event_type

_S, _F, _I = pa.string(), pa.float64(), pa.int64()

#: The Arrow columns handed to DuckDB per table (timestamps travel as RFC 3339 text).
SCHEMAS: Final[Mapping[str, pa.Schema]] = {
    "events": pa.schema([("position", _I), ("fr", _S)]),
    "decisions": pa.schema(
        [
            ("decision_id", _S),
            ("gate_type", _S),
            ("target_ref", _S),
            ("automation_level", _S),
            ("model_decision", _S),
            ("confidence", _F),
            ("threshold", _F),
            ("verdict", _S),
            ("effective_decision", _S),
            ("status", _S),
            ("actor", _S),
            ("model_id", _S),
            ("wp_id", _S),
            ("mt_id", _S),
            ("job_id", _S),
            ("rationale", _S),
            ("evidence_refs", pa.list_(_S)),
            ("created_at", _S),
            ("signed_at", _S),
            ("applied_at", _S),
            ("applied_decision", _S),
            ("human_decision", _S),
            ("human_user_id", _S),
            ("human_decided_at", _S),
            ("awaiting_since", _S),
            ("pending_request_id", _S),
            ("created_position", _I),
            ("last_position", _I),
            ("event_count", _I),
        ]
    ),
    "auto_signatures": pa.schema(
        [
            ("auto_signature_id", _S),
            ("schema_version", _S),
            ("decision_id", _S),
            ("gate_type", _S),
            ("target_ref", _S),
            ("created_at", _S),
            ("actor_kind", _S),
            ("model_id", _S),
            ("position", _I),
        ]
    ),
    "human_interventions": pa.schema(
        [
            ("request_event_id", _S),
            ("decision_id", _S),
            ("gate_type", _S),
            ("target_ref", _S),
            ("automation_level", _S),
            ("requested_at", _S),
            ("request_reason", _S),
            ("received_event_id", _S),
            ("received_at", _S),
            ("user_id", _S),
            ("decision", _S),
            ("rationale", _S),
            ("requested_position", _I),
            ("received_position", _I),
        ]
    ),
    # Answers (005) to requests an earlier batch wrote: applied as an UPDATE.
    "human_interventions_answers": pa.schema(
        [
            ("request_event_id", _S),
            ("received_event_id", _S),
            ("received_at", _S),
            ("user_id", _S),
            ("decision", _S),
            ("rationale", _S),
            ("received_position", _I),
        ]
    ),
    # Decisions an earlier batch wrote and this batch moved on: deleted, then re-inserted.
    "decisions_replaced": pa.schema([("decision_id", _S)]),
    "locked_halts": pa.schema(
        [
            ("decision_id", _S),
            ("gate_type", _S),
            ("target_ref", _S),
            ("decision", _S),
            ("confidence", _F),
            ("threshold", _F),
            ("model_id", _S),
            ("halted_at", _S),
            ("rule", _S),
            ("reason", _S),
            ("position", _I),
        ]
    ),
}

#: Reads the stored rows of decisions created in earlier batches.
Loader = Callable[[Sequence[str]], Mapping[str, dict[str, Any]]]

_LEVELS: Final = {level.value: level for level in AutomationLevel}


@lru_cache(maxsize=4096)
def _evaluate(
    gate_type: str, level: str, confidence: float | None
) -> tuple[float | None, str, str, bool]:
    """
    (threshold, verdict, reason, halt unless the 001 proposed approve) for one 001.

    ``evaluate`` is pure, and repeated cells and confidences are common in a real
    ledger, so the answers are memoised as plain strings.
    """
    outcome: Outcome = evaluate(gate_type, _LEVELS[level], confidence)
    halts = is_locked_halt(level, outcome.verdict, "defer")
    return outcome.threshold, outcome.verdict.value, outcome.reason, halts


def fold(
    batch: Sequence[tuple[int, bytes]],
    load: Loader,
    touched: dict[str, dict[str, Any]] | None = None,
) -> dict[str, pa.Table]:
    """
    The rows one batch of (position, canonical bytes) adds or changes, per table.

    Besides one table of new rows per projection table, ``decisions_replaced`` names
    the stored decisions whose rows this batch rewrites, and
    ``human_interventions_answers`` the stored requests this batch answers. When
    ``touched`` is given it receives the final rows of the decisions this batch wrote
    (a caller may serve the next batch's ``load`` from them).
    """
    parsed = [orjson.loads(state) for _, state in batch]
    positions = [p for p, _ in batch]
    created_here = {fr["decision_id"] for fr in parsed if fr["type"] == CREATED}
    earlier = sorted({fr["decision_id"] for fr in parsed} - created_here)
    # Loaded rows are moved on in place: they are the caller's copies (fresh from
    # DuckDB, or the previous batch's rows, whose Arrow tables are already built).
    decisions: dict[str, dict[str, Any]] = dict(load(earlier))
    folder = _Folder(decisions)
    handlers = {
        CREATED: folder.created,
        APPLIED: folder.applied,
        SIGNED: folder.signed,
        REQUESTED: folder.requested,
        RECEIVED: folder.received,
    }
    for position, fr in zip(positions, parsed, strict=True):
        handlers[fr["type"]](position, fr)
    for decision_id in folder.touched:
        _settle(decisions[decision_id])
    replaced = [d for d in earlier if d in folder.touched]
    if touched is not None:
        touched.clear()
        touched.update((d, decisions[d]) for d in folder.touched)
    # Order matters: rows to delete and rows to update go before the inserts.
    return {
        "decisions_replaced": _table("decisions_replaced", [{"decision_id": d} for d in replaced]),
        "human_interventions_answers": _table("human_interventions_answers", folder.answers),
        "events": _events_table(positions, batch),
        "decisions": _table("decisions", [decisions[d] for d in folder.touched]),
        "auto_signatures": _table("auto_signatures", folder.signatures),
        "human_interventions": _table("human_interventions", list(folder.interventions.values())),
        "locked_halts": _table("locked_halts", folder.halts),
    }


class _Folder:
    """
    The five handlers; each moves one decision's row on and adds the rows its event makes.
    """

    def __init__(self, decisions: dict[str, dict[str, Any]]) -> None:
        self.decisions = decisions
        self.touched: dict[str, None] = {}  # insertion-ordered set
        self.signatures: list[dict[str, Any]] = []
        self.interventions: dict[str, dict[str, Any]] = {}
        self.answers: list[dict[str, Any]] = []
        self.halts: list[dict[str, Any]] = []

    def _decision(self, position: int, fr: Mapping[str, Any]) -> dict[str, Any]:
        decision_id = fr["decision_id"]
        try:
            row = self.decisions[decision_id]
        except KeyError:
            # The store refuses a 002..005 without its 001, so this is a foreign or damaged store.
            msg = (
                f"{fr['type']} at position {position} belongs to decision {decision_id!r}, "
                "which has no gov_decision_created before it"
            )
            raise ProjectionError(msg, decision_id=decision_id, event_type=fr["type"]) from None
        row["last_position"] = position
        row["event_count"] += 1
        self.touched[decision_id] = None
        return row

    def created(self, position: int, fr: Mapping[str, Any]) -> None:
        level = fr["automation_level"]  # canonical: the store holds normalised events
        confidence = fr.get("confidence")
        threshold, verdict, reason, may_halt = _evaluate(fr["gate_type"], level, confidence)
        decision_id = fr["decision_id"]
        self.decisions[decision_id] = {
            "decision_id": decision_id,
            "gate_type": fr["gate_type"],
            "target_ref": fr["target_ref"],
            "automation_level": level,
            "model_decision": fr.get("decision"),
            "confidence": confidence,
            "threshold": threshold,
            "verdict": verdict,
            "effective_decision": None,
            "status": None,
            "actor": fr["actor"],
            "model_id": fr.get("model_id"),
            "wp_id": fr.get("wp_id"),
            "mt_id": fr.get("mt_id"),
            "job_id": fr.get("job_id"),
            "rationale": fr.get("rationale"),
            "evidence_refs": fr.get("evidence_refs"),
            "created_at": fr["timestamp"],
            "signed_at": None,
            "applied_at": None,
            "applied_decision": None,
            "human_decision": None,
            "human_user_id": None,
            "human_decided_at": None,
            "awaiting_since": None,
            "pending_request_id": None,
            "created_position": position,
            "last_position": position,
            "event_count": 1,
        }
        self.touched[decision_id] = None
        if may_halt and is_locked_halt(level, verdict, fr.get("decision")):
            cloud = fr["gate_type"] == GateType.CLOUD_ESCALATION
            self.halts.append(
                {
                    "decision_id": decision_id,
                    "gate_type": fr["gate_type"],
                    "target_ref": fr["target_ref"],
                    "decision": fr["decision"],
                    "confidence": confidence,
                    "threshold": threshold,
                    "model_id": fr.get("model_id"),
                    "halted_at": fr["timestamp"],
                    "rule": "2.6.8.12.6.1, 11.1.7.3" if cloud else "2.6.8.12.6.1",
                    "reason": reason,
                    "position": position,
                }
            )

    def signed(self, position: int, fr: Mapping[str, Any]) -> None:
        row = self._decision(position, fr)
        row["signed_at"] = fr["timestamp"]
        self.signatures.append(
            {
                "auto_signature_id": fr["event_id"],
                "schema_version": "hsk.auto_signature@0.1",
                "decision_id": fr["decision_id"],
                "gate_type": fr["gate_type"],
                "target_ref": fr["target_ref"],
                "created_at": fr["timestamp"],
                "actor_kind": "model",
                "model_id": fr.get("model_id") or row["model_id"],
                "position": position,
            }
        )

    def requested(self, position: int, fr: Mapping[str, Any]) -> None:
        row = self._decision(position, fr)
        row["pending_request_id"] = fr["event_id"]
        row["awaiting_since"] = fr["timestamp"]
        self.interventions[fr["event_id"]] = {
            "request_event_id": fr["event_id"],
            "decision_id": fr["decision_id"],
            "gate_type": fr["gate_type"],
            "target_ref": fr["target_ref"],
            "automation_level": fr["automation_level"],
            "requested_at": fr["timestamp"],
            "request_reason": fr.get("rationale"),
            "received_event_id": None,
            "received_at": None,
            "user_id": None,
            "decision": None,
            "rationale": None,
            "requested_position": position,
            "received_position": None,
        }

    def received(self, position: int, fr: Mapping[str, Any]) -> None:
        row = self._decision(position, fr)
        request_id = row["pending_request_id"]
        requested_at = row["awaiting_since"]
        row["pending_request_id"] = None
        row["awaiting_since"] = None
        if fr.get("decision") is not None:
            row["human_decision"] = fr["decision"]
        row["human_user_id"] = fr.get("user_id")
        row["human_decided_at"] = fr["timestamp"]
        intervention = self.interventions.get(request_id)
        if intervention is None:
            # An earlier batch wrote the request's row: this batch only answers it.
            intervention = {"request_event_id": request_id, "requested_at": requested_at}
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
        row = self._decision(position, fr)
        row["applied_at"] = fr["timestamp"]
        row["applied_decision"] = fr.get("decision") or _effective(row)


def _effective(row: Mapping[str, Any]) -> str | None:
    # The human's answer when there is one, else the 001's (GateEvaluation.effective_decision).
    human: str | None = row["human_decision"]
    model: str | None = row["model_decision"]
    return human if human is not None else model


def _settle(row: dict[str, Any]) -> None:
    row["effective_decision"] = _effective(row)
    row["status"] = decision_status(
        applied_decision=row["applied_decision"],
        pending_request=row["pending_request_id"] is not None,
        signed=row["signed_at"] is not None,
        halt=is_locked_halt(row["automation_level"], row["verdict"], row["model_decision"]),
        human_decision=row["human_decision"],
    )


def _table(name: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    # Arrow converts the row dicts in C++; absent keys become nulls.
    return pa.Table.from_pylist(rows, schema=SCHEMAS[name])


def _events_table(positions: list[int], batch: Sequence[tuple[int, bytes]]) -> pa.Table:
    # Only the position and the stored bytes, which already are the normalised event as
    # JSON (UTF-8, checked by Arrow's cast); DuckDB extracts the flat columns itself,
    # vectorised, which is cheaper than building them here (see _duckdb._WRITES).
    fr = pa.array([state for _, state in batch], pa.binary()).cast(pa.string())
    return pa.Table.from_arrays([pa.array(positions, _I), fr], schema=SCHEMAS["events"])
