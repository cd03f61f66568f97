"""What the HTTP and MCP servers do, once, over one ``GovernanceLedger``: blocking calls.

Each server process holds one ledger (one store connection pool, one decision
cache). Writes are serialised in the process (the cache is not thread-safe, and
a store takes one writer at a time anyway); other server processes on the same
PostgreSQL store are other writers, and the application re-judges a batch that
collided with one of them, as it does for concurrent ``govledger ingest``
processes. Reads never touch the cache. The adapters call these methods from
worker threads, never on the event loop.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from ledger import _journal, _time
from ledger.application import GateOutcome, GovernanceLedger
from ledger.bootstrap import Runtime
from ledger.errors import InvalidSchemaError
from ledger.ingest import LineResult, ingest_lines
from ledger.serve._errors import NoCheckpointError, UnknownDecisionError, WrongRoleError
from ledger.serve._tokens import Identity, Tokens
from ledger.trust import CheckpointStore, prove, seal_all, verify_all

__all__ = ["GATE_FIELDS", "ServeSettings", "Service", "outcome_json"]

#: What ``evaluate_gate`` takes from a caller over HTTP or MCP. ``actor`` is not among them:
#: the 001 is always the agent's; no remote input names a human.
GATE_FIELDS: Final = (
    "gate_type",
    "target_ref",
    "automation_level",
    "decision",
    "confidence",
    "rationale",
    "evidence_refs",
    "model_id",
    "decision_id",
    "wp_id",
    "mt_id",
    "job_id",
)
_GATE_REQUIRED: Final = ("gate_type", "target_ref", "automation_level", "decision")
_MiB: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """
    How a server listens and what it accepts.
    """

    host: str = "127.0.0.1"
    port: int = 8707
    #: Largest request body, after gzip inflation too (bytes).
    max_body: int = 16 * _MiB
    #: Seconds between the server's own seals when a signing key is configured (0: never).
    seal_interval: float = 30.0
    #: What a 503 tells a client to wait before it retries (seconds).
    retry_after: int = 5


def outcome_json(outcome: GateOutcome) -> dict[str, Any]:
    """
    A command's outcome as the HTTP and MCP answers show it.
    """
    shown = asdict(outcome)
    shown["event_types"] = list(outcome.event_types)
    shown["event_ids"] = list(outcome.event_ids)
    shown["awaiting_human"] = outcome.awaiting_human
    shown["halted"] = outcome.halted
    return shown


def gate_arguments(body: Mapping[str, Any]) -> dict[str, Any]:
    """
    ``evaluate_gate``'s keyword arguments from a JSON object; unknown fields are refused.

    A JSON null is the same as leaving the field out.
    """
    for name in body:
        if name not in GATE_FIELDS:
            shown = name if len(name) <= 64 and name.isprintable() else "<redacted>"  # noqa: PLR2004
            raise InvalidSchemaError(
                f"evaluate_gate: unknown field {shown!r} (allowed: {', '.join(GATE_FIELDS)})",
                field="<redacted>" if shown == "<redacted>" else name,
                rule="additionalProperties",
            )
    for name in _GATE_REQUIRED:
        if body.get(name) is None:
            raise InvalidSchemaError(
                f"evaluate_gate: field {name!r} is required", field=name, rule="required"
            )
    arguments = {name: value for name, value in body.items() if value is not None}
    arguments.setdefault("confidence", None)
    return arguments


def body_lines(body: bytes) -> Iterator[bytes]:
    """
    A JSON Lines body's lines, split exactly as ``govledger ingest`` splits a file.
    """
    for raw in io.BytesIO(body):
        yield raw.rstrip(b"\r\n")


def json_body(body: bytes) -> Any:
    """
    A request body parsed as JSON; ``invalid_schema`` (field ``body``, rule ``json``) if it
    is not JSON.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidSchemaError(
            f"body: not valid JSON: {exc.msg} (position {exc.pos})", field="body", rule="json"
        ) from None


def array_lines(body: bytes) -> list[bytes]:
    """
    A JSON array body's items, one "line" each (line N is item N, from 1).
    """
    items = json_body(body)
    if not isinstance(items, list):
        raise InvalidSchemaError(
            "body: an application/json body of events is a JSON array of FR events",
            field="body",
            rule="type",
        )
    return [orjson.dumps(item) for item in items]


class Service:
    """
    The ledger, its tokens and its keys, opened for the life of one server process.
    """

    def __init__(self, runtime: Runtime, settings: ServeSettings, *, entry_point: str) -> None:
        self.runtime = runtime
        self.settings = settings
        #: "http" or "mcp": which entry point refusals came through (the refusal journal).
        self.entry_point = entry_point
        self._stack = ExitStack()
        self.ledger: GovernanceLedger = self._stack.enter_context(runtime.ledger())
        self.tokens = Tokens.of(self.ledger)
        # Named but unusable keys fail here, at start, not at the first seal.
        self.signing_key = runtime.signing_key()
        self._writing = threading.Lock()
        self._projecting = threading.Lock()
        self._sealing = threading.Lock()

    def close(self) -> None:
        """
        Seal what this server stored (when it has a key), then close the store.
        """
        try:
            self.seal()
        finally:
            self._stack.close()

    # --- who may ----------------------------------------------------------------------

    def authenticate(self, token: str | None, roles: Sequence[str]) -> Identity:
        """
        The caller's identity, if ``token`` is active and its role is one of ``roles``.
        """
        identity = self.tokens.authenticate(token)
        if identity.role not in roles:
            raise WrongRoleError(
                f"the token's role {identity.role!r} may not do this (needs: {', '.join(roles)})",
                field="authorization",
                rule="role",
            )
        return identity

    # --- writes -------------------------------------------------------------------------

    @contextmanager
    def _entry(self) -> Iterator[None]:
        # The refusal journal records which entry point a refused command came through.
        token = _journal.ENTRY_POINT.set(self.entry_point)
        try:
            yield
        finally:
            _journal.ENTRY_POINT.reset(token)

    def ingest(self, lines: Sequence[bytes]) -> list[LineResult]:
        """
        Each line judged and stored exactly as ``govledger ingest`` does, batch by batch;
        returns after the last batch committed. Refused lines are journaled as this entry
        point's, with the SHA-256 of each line as it arrived.
        """
        with self._writing:
            return list(ingest_lines(self.ledger, lines, entry_point=self.entry_point))

    def evaluate_gate(self, arguments: Mapping[str, Any]) -> GateOutcome:
        """
        ``GovernanceLedger.evaluate_gate`` with the caller's (already checked) arguments.
        """
        with self._writing, self._entry():
            return self.ledger.evaluate_gate(**arguments)

    def human_decision(
        self, decision_id: str, identity: Identity, decision: Any, rationale: Any
    ) -> GateOutcome:
        """
        ``identity`` answers ``decision_id``: its token name is the user_id recorded.
        """
        self._known(decision_id)
        with self._writing, self._entry():
            return self.ledger.record_human_decision(
                decision_id, identity.name, decision, rationale
            )

    def seal(self) -> None:
        """
        Seal the events stored since the last checkpoint, if this server has a key.
        """
        if self.signing_key is None:
            return
        with self._sealing:
            seal_all(self.ledger, self.signing_key)

    # --- reads --------------------------------------------------------------------------

    def _known(self, decision_id: Any) -> None:
        if not isinstance(decision_id, str) or self.ledger.gate(decision_id) is None:
            raise UnknownDecisionError(
                "no decision with this decision_id is stored",
                field="decision_id",
                rule="exists",
            )

    def decision(self, decision_id: str) -> dict[str, Any]:
        """
        The decision's artifacts, status and events, as ``govledger show`` prints them.
        """
        record = self.ledger.decision(decision_id) if isinstance(decision_id, str) else None
        if record is None:
            self._known(decision_id)
        assert record is not None  # noqa: S101 - _known raised otherwise
        return record.model_dump(mode="json")

    def decisions(self, status: str, *, after: int, limit: int) -> dict[str, Any]:
        """
        A page of decisions by status, oldest first, and the cursor of the next page.
        """
        with self._projecting:
            _, rows = self.runtime.decisions(self.ledger, status, after=after, limit=limit)
        for row in rows:
            for key in ("created_at", "awaiting_since"):
                if row.get(key) is not None:
                    row[key] = _iso(row[key])
        next_after = rows[-1]["position"] if len(rows) == limit else None
        return {"decisions": rows, "next_after": next_after}

    def checkpoint(self) -> str:
        """
        The latest signed checkpoint (a C2SP signed note).
        """
        latest = CheckpointStore.of(self.ledger).latest()
        if latest is None:
            raise NoCheckpointError(
                "the store has no signed checkpoint yet", field=None, rule="checkpoint"
            )
        return latest.note

    def proof(self, decision_id: str) -> dict[str, Any]:
        """
        The decision's inclusion proofs, as ``govledger prove`` prints them.
        """
        self._known(decision_id)
        self.checkpoint()
        return prove(self.ledger, self.runtime.trusted_key(), decision_id)

    def verify(self) -> dict[str, Any]:
        """
        ``govledger verify``'s report over the whole store.
        """
        report = verify_all(self.ledger, self.runtime.trusted_key(), None)
        shown: dict[str, Any] = orjson.loads(report.to_json())
        return shown


def _iso(value: Any) -> Any:
    return _time.utc_text(value) if isinstance(value, datetime) else value
