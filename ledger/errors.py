"""The error taxonomy callers branch on (work packet ERROR_TAXONOMY_PLAN).

Each error has a stable ``code``; each class also subclasses the nearest builtin
so that callers who only know ``ValueError`` still catch it. This module imports
nothing from the rest of the package.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "CODES",
    "BindingMismatchError",
    "CheckpointError",
    "ConfigurationError",
    "DuplicateEventError",
    "ForbiddenGateError",
    "InputUnavailableError",
    "InvalidSchemaError",
    "KeyUnusableError",
    "LedgerError",
    "LockedHaltError",
    "OutputUnavailableError",
    "SealError",
    "SequenceViolationError",
    "StaleSealError",
    "StoreError",
    "TamperDetectedError",
    "UnknownEventTypeError",
]


class LedgerError(Exception):
    """
    Base of every error govledger raises on purpose.
    """

    code: ClassVar[str] = "ledger_error"
    #: One line for the README's error-code table.
    meaning: ClassVar[str] = ""
    #: The CLI's exit status for this error: 1 refused or failed, 2 usage, 3 unavailable.
    exit_status: ClassVar[int] = 1

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        rule: str | None = None,
        decision_id: str | None = None,
        event_type: str | None = None,
        event_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule
        self.decision_id = decision_id
        self.event_type = event_type
        self.event_id = event_id

    def as_dict(self) -> dict[str, str | None]:
        """
        The structured form used in per-line results and CLI error lines.
        """
        return {"code": self.code, "field": self.field, "rule": self.rule, "message": self.message}


class InvalidSchemaError(LedgerError, ValueError):
    """
    The event does not match its JSON Schema (or is not a JSON object at all).
    """

    code = "invalid_schema"
    meaning = "the event is not a JSON object of the declared shape; names the field and the rule"


class UnknownEventTypeError(LedgerError, ValueError):
    """
    ``type`` is not one of the five FR-EVT-GOV-001..005 strings.
    """

    code = "unknown_event_type"
    meaning = (
        "type is not one of the five 11.5.7 strings (deprecated aliases and Stage 9.1.2 "
        "names included)"
    )


class BindingMismatchError(LedgerError, ValueError):
    """
    A later event disagrees with its decision's 001 on what it is bound to.
    """

    code = "binding_mismatch"
    meaning = (
        "gate_type, target_ref or automation_level differ from the decision's 001, or a 002's "
        "decision differs from the effective decision"
    )


class ForbiddenGateError(LedgerError, PermissionError):
    """
    The gate automation table (2.6.8.12.2) forbids this AutoSignature.
    """

    code = "forbidden_gate"
    meaning = (
        "an AutoSignature the gate policy forbids: CloudEscalation, PolicyViolation (or a gate "
        "the policy never auto-signs), FULL_HUMAN, a Human cell, or confidence below the "
        "threshold"
    )


class LockedHaltError(LedgerError, PermissionError):
    """
    LOCKED fails closed: what would need a human is refused (2.6.8.12.6.1).
    """

    code = "locked_halt"
    meaning = (
        "under LOCKED a human would be needed: 003/004/005 and an approving 001 or 002 are "
        "refused, before any other rule; only a reject/defer 001 + 002 (the halt) may be recorded"
    )


class SequenceViolationError(LedgerError, ValueError):
    """
    The event is out of the order 2.6.8.12.6.4 allows for its decision.
    """

    code = "sequence_violation"
    meaning = (
        "out of order for its decision (2.6.8.12.6.4): no 001 first, 005 without a pending 004, "
        "004 after 003, approve 002 without 003 or an approving 005, anything after 002"
    )


class DuplicateEventError(LedgerError, ValueError):
    """
    The ``event_id`` is already stored (identical re-sends are idempotent no-ops).
    """

    code = "duplicate"
    meaning = (
        "the event_id is already stored: an identical re-send is a no-op (status duplicate); "
        "different content under the same event_id, or a second 001 for a decision_id, is refused"
    )

    def __init__(self, message: str, *, identical: bool, **kwargs: str | None) -> None:
        super().__init__(message, **kwargs)
        self.identical = identical


class StoreError(LedgerError, OSError):
    """
    The event store cannot be read or written (read-only file, full disk, lost connection).

    Not an event's fault: nothing in the failed write was acknowledged.
    """

    code = "store_unavailable"
    meaning = "the store could not be written or read; nothing in the failed write was acknowledged"
    exit_status = 3


class ConfigurationError(LedgerError, ValueError):
    """
    The ledger's configuration cannot be used (an option, a variable, a file it names).
    """

    code = "configuration_error"
    meaning = "an option, environment variable or file the configuration names cannot be used"
    exit_status = 2


class InputUnavailableError(LedgerError, OSError):
    """
    An input file named on the command line cannot be read.
    """

    code = "input_unavailable"
    meaning = "an input file cannot be read"
    exit_status = 3


class OutputUnavailableError(LedgerError, OSError):
    """
    An output the command line names cannot be written as asked.
    """

    code = "output_unavailable"
    meaning = (
        "an output file or directory cannot be written: no such directory, not writable, or it "
        "exists and holds something govledger did not write (left unchanged)"
    )
    exit_status = 3


class TamperDetectedError(LedgerError, ValueError):
    """
    A stored event is not what the signed checkpoints sealed, or is not a governance event.

    Raised before anything derived from it is written or shown.
    """

    code = "tamper_detected"
    meaning = (
        "a stored event does not hash to what a signed checkpoint sealed, or cannot be decoded "
        "as a valid governance event; names the first position (nothing of it was projected)"
    )

    def __init__(self, message: str, *, position: int | None = None, **kwargs: str | None) -> None:
        super().__init__(message, **kwargs)
        self.position = position

    def as_dict(self) -> dict[str, str | None]:
        """
        The structured form, with the store position it names.
        """
        out = super().as_dict()
        out["position"] = None if self.position is None else str(self.position)
        return out


class CheckpointError(LedgerError, ValueError):
    """
    A checkpoint, key or proof is malformed, or not signed by the trusted key.
    """

    code = "checkpoint_invalid"
    meaning = "a checkpoint, key or proof is malformed, or not signed by the trusted key"


class KeyUnusableError(CheckpointError):
    """
    The signing or verification key the configuration names is missing or unreadable.
    """

    code = "key_unusable"
    meaning = "the signing or verification key is missing, unreadable or not a key"
    exit_status = 2


class SealError(LedgerError, RuntimeError):
    """
    The store cannot be sealed honestly (its last checkpoint does not match its own tree edge).
    """

    code = "seal_failed"
    meaning = "the store could not be sealed honestly; run govledger verify"


class StaleSealError(SealError):
    """
    Another process sealed first (the ``seq`` or a leaf index is taken): read again and retry.

    Never reaches a caller: sealing retries, and gives up with ``SealError``.
    """

    code = "seal_collision"
    meaning = "another process sealed the same events first"


#: Every event-level code, in the order the README documents them.
CODES: tuple[str, ...] = (
    InvalidSchemaError.code,
    UnknownEventTypeError.code,
    BindingMismatchError.code,
    ForbiddenGateError.code,
    LockedHaltError.code,
    SequenceViolationError.code,
    DuplicateEventError.code,
)
