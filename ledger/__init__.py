"""govledger's write side: an event-sourced ledger of governance decisions.

Implements the Autonomous Governance Protocol of the Handshake Master Spec
v02.132 (2.6.8.12, 11.5.7): FR-EVT-GOV-001..005, validated at append time,
one ``GateEvaluation`` aggregate per decision.
"""

from ledger.application import AppendResult, GateOutcome, GovernanceLedger
from ledger.artifacts import AutoSignature, DecisionRecord, GovernanceDecision
from ledger.config import LedgerConfig
from ledger.errors import (
    BindingMismatchError,
    DuplicateEventError,
    ForbiddenGateError,
    InvalidSchemaError,
    LedgerError,
    LockedHaltError,
    SequenceViolationError,
    StoreError,
    UnknownEventTypeError,
)
from ledger.gate import GateEvaluation
from ledger.ingest import LineResult, ingest_lines, validate_lines
from ledger.policy import Outcome, Verdict, evaluate
from ledger.validation import normalise
from ledger.vocabulary import AutomationLevel, Decision, GateType

__all__ = [
    "AppendResult",
    "AutoSignature",
    "AutomationLevel",
    "BindingMismatchError",
    "Decision",
    "DecisionRecord",
    "DuplicateEventError",
    "ForbiddenGateError",
    "GateEvaluation",
    "GateOutcome",
    "GateType",
    "GovernanceDecision",
    "GovernanceLedger",
    "InvalidSchemaError",
    "LedgerConfig",
    "LedgerError",
    "LineResult",
    "LockedHaltError",
    "Outcome",
    "SequenceViolationError",
    "StoreError",
    "UnknownEventTypeError",
    "Verdict",
    "evaluate",
    "ingest_lines",
    "normalise",
    "validate_lines",
]
