"""Names from the spec: automation levels, gate types, decisions, actors.

Legacy inputs are normalised here, once, at the boundary (2.6.8.12.6.1).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "LEGACY_LEVELS",
    "AutomationLevel",
    "Decision",
    "GateType",
]


class AutomationLevel(StrEnum):
    """
    The canonical AutomationLevel set (2.6.8.12.6.1).
    """

    FULL_HUMAN = "FULL_HUMAN"
    HYBRID = "HYBRID"
    AUTONOMOUS = "AUTONOMOUS"
    LOCKED = "LOCKED"

    @classmethod
    def parse(cls, value: str) -> AutomationLevel:
        """
        Canonical member for ``value``; ``ASSISTED``/``SUPERVISED`` become ``HYBRID``.

        Raises ``ValueError`` for anything else.
        """
        legacy = LEGACY_LEVELS.get(value)
        if legacy is not None:
            return legacy
        return cls(value)


#: Stage-imported levels that 2.6.8.12.6.1 says MUST be stored as HYBRID.
LEGACY_LEVELS: dict[str, AutomationLevel] = {
    "ASSISTED": AutomationLevel.HYBRID,
    "SUPERVISED": AutomationLevel.HYBRID,
}


class GateType(StrEnum):
    """
    The gate types of the automation table (2.6.8.12.2).

    ``gate_type`` is an open string in 11.5.7: other values are accepted and
    governed by ``ledger.policy`` (Human unless AUTONOMOUS).
    """

    SPEC_APPROVAL = "SpecApproval"
    REFINEMENT_SIGN = "RefinementSign"
    SCOPE_CHANGE = "ScopeChange"
    CLOUD_ESCALATION = "CloudEscalation"
    POLICY_VIOLATION = "PolicyViolation"


class Decision(StrEnum):
    """
    GovernanceDecision.decision (2.6.8.12.3).
    """

    APPROVE = "approve"
    REJECT = "reject"
    DEFER = "defer"
