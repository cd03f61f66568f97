"""govledger's write side: an event-sourced ledger of governance decisions.

Implements the Autonomous Governance Protocol of the Handshake Master Spec
v02.132 (2.6.8.12, 11.5.7): FR-EVT-GOV-001..005, validated at append time,
one ``GateEvaluation`` aggregate per decision. ``bootstrap`` wires the ledger;
``ledger.trust`` seals and verifies it; ``projections`` is the read side.
"""

from ledger.application import AppendResult, GateOutcome, GovernanceLedger
from ledger.artifacts import AutoSignature, DecisionRecord, GovernanceDecision
from ledger.bootstrap import Runtime, bootstrap
from ledger.config import LedgerConfig
from ledger.decision_state import DecisionState, Status, evolve
from ledger.errors import (
    BindingMismatchError,
    CheckpointError,
    ConfigurationError,
    DuplicateEventError,
    ForbiddenGateError,
    InputUnavailableError,
    InvalidSchemaError,
    KeyUnusableError,
    LedgerError,
    LockedHaltError,
    OutputUnavailableError,
    SealError,
    SequenceViolationError,
    StoreError,
    TamperDetectedError,
    UnknownEventTypeError,
)
from ledger.gate import GateEvaluation
from ledger.ingest import LineResult, ingest_lines, validate_lines
from ledger.policy import BUILTIN, GatePolicy, Outcome, Verdict, evaluate
from ledger.validation import normalise
from ledger.vocabulary import AutomationLevel, Decision, GateType

__all__ = [
    "BUILTIN",
    "AppendResult",
    "AutoSignature",
    "AutomationLevel",
    "BindingMismatchError",
    "CheckpointError",
    "ConfigurationError",
    "Decision",
    "DecisionRecord",
    "DecisionState",
    "DuplicateEventError",
    "ForbiddenGateError",
    "GateEvaluation",
    "GateOutcome",
    "GatePolicy",
    "GateType",
    "GovernanceDecision",
    "GovernanceLedger",
    "InputUnavailableError",
    "InvalidSchemaError",
    "KeyUnusableError",
    "LedgerConfig",
    "LedgerError",
    "LineResult",
    "LockedHaltError",
    "Outcome",
    "OutputUnavailableError",
    "Runtime",
    "SealError",
    "SequenceViolationError",
    "Status",
    "StoreError",
    "TamperDetectedError",
    "UnknownEventTypeError",
    "Verdict",
    "bootstrap",
    "evaluate",
    "evolve",
    "ingest_lines",
    "normalise",
    "validate_lines",
]
