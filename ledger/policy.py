"""The gate automation table of 2.6.8.12.2, as data, and one pure ``evaluate``.

The table is normative, so it lives in reviewed code: it is not configurable.

| Gate Type        | FULL_HUMAN | HYBRID          | AUTONOMOUS      |
|------------------|------------|-----------------|-----------------|
| SpecApproval     | Human      | Auto if >= 0.8  | Auto            |
| RefinementSign   | Human      | Auto if >= 0.9  | Auto            |
| ScopeChange      | Human      | Human           | Auto if >= 0.95 |
| CloudEscalation  | Human      | Human           | Human (always)  |
| PolicyViolation  | Human      | Human           | Human           |

Readings this module pins down:

* Thresholds are inclusive (``confidence >= threshold``); a missing confidence
  never qualifies for a thresholded cell. An unconditional ``Auto`` cell needs
  no confidence.
* A gate type outside the table (``gate_type`` is an open string in 11.5.7) is
  Human under FULL_HUMAN and HYBRID and Auto under AUTONOMOUS.
* LOCKED permits auto-approval exactly where AUTONOMOUS would; wherever a
  human would be needed the outcome is ``HALT`` (2.6.8.12.6.1), and cloud
  escalation is always a halt (11.1.7.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from ledger.vocabulary import AutomationLevel, GateType

__all__ = [
    "AUTO",
    "HUMAN",
    "NEVER_AUTO_SIGNED",
    "RULES",
    "AutoIf",
    "Outcome",
    "Rule",
    "Verdict",
    "evaluate",
    "rule_for",
]


@dataclass(frozen=True, slots=True)
class AutoIf:
    """
    A cell that allows auto-approval, from ``threshold`` on (``None``: always).
    """

    threshold: float | None = None


@dataclass(frozen=True, slots=True)
class HumanCell:
    """
    A cell that always needs a human.
    """


Rule = AutoIf | HumanCell
AUTO: Final = AutoIf()
HUMAN: Final = HumanCell()

_G = GateType
_L = AutomationLevel

#: 2.6.8.12.2, in the spec's row order. LOCKED has no column: it borrows AUTONOMOUS's.
RULES: Final[MappingProxyType[tuple[GateType, AutomationLevel], Rule]] = MappingProxyType(
    {
        (_G.SPEC_APPROVAL, _L.FULL_HUMAN): HUMAN,
        (_G.SPEC_APPROVAL, _L.HYBRID): AutoIf(0.8),
        (_G.SPEC_APPROVAL, _L.AUTONOMOUS): AUTO,
        (_G.REFINEMENT_SIGN, _L.FULL_HUMAN): HUMAN,
        (_G.REFINEMENT_SIGN, _L.HYBRID): AutoIf(0.9),
        (_G.REFINEMENT_SIGN, _L.AUTONOMOUS): AUTO,
        (_G.SCOPE_CHANGE, _L.FULL_HUMAN): HUMAN,
        (_G.SCOPE_CHANGE, _L.HYBRID): HUMAN,
        (_G.SCOPE_CHANGE, _L.AUTONOMOUS): AutoIf(0.95),
        (_G.CLOUD_ESCALATION, _L.FULL_HUMAN): HUMAN,
        (_G.CLOUD_ESCALATION, _L.HYBRID): HUMAN,
        (_G.CLOUD_ESCALATION, _L.AUTONOMOUS): HUMAN,
        (_G.POLICY_VIOLATION, _L.FULL_HUMAN): HUMAN,
        (_G.POLICY_VIOLATION, _L.HYBRID): HUMAN,
        (_G.POLICY_VIOLATION, _L.AUTONOMOUS): HUMAN,
    }
)

#: 2.6.8.12.4 / 2.6.8.12.6.3: AutoSignature MUST NOT be used for these, at any level.
NEVER_AUTO_SIGNED: Final = frozenset({GateType.CLOUD_ESCALATION, GateType.POLICY_VIOLATION})

_KNOWN_GATES: Final = frozenset(GateType)
_UNLISTED: Final[MappingProxyType[AutomationLevel, Rule]] = MappingProxyType(
    {_L.FULL_HUMAN: HUMAN, _L.HYBRID: HUMAN, _L.AUTONOMOUS: AUTO}
)


class Verdict(StrEnum):
    """
    What a gate evaluation may do.
    """

    AUTO = "auto"  # an AutoSignature may satisfy the gate
    HUMAN = "human"  # a human must decide
    HALT = "halt"  # LOCKED: a human would be needed, so record reject/defer and stop


@dataclass(frozen=True, slots=True)
class Outcome:
    """
    The table's answer for one gate evaluation.
    """

    verdict: Verdict
    #: The threshold of the cell that applied, if it had one.
    threshold: float | None
    #: Why, citing the cell: for error messages and audit rows.
    reason: str


def rule_for(gate_type: str, level: AutomationLevel) -> Rule:
    """
    The cell for ``gate_type`` at ``level`` (LOCKED reads the AUTONOMOUS column).
    """
    column = _L.AUTONOMOUS if level is _L.LOCKED else level
    if gate_type in _KNOWN_GATES:
        return RULES[(GateType(gate_type), column)]
    return _UNLISTED[column]


def evaluate(gate_type: str, level: AutomationLevel, confidence: float | None) -> Outcome:
    """
    Apply 2.6.8.12.2 (and LOCKED, 2.6.8.12.6.1) to one gate evaluation.
    """
    rule = rule_for(gate_type, level)
    cell = f"{gate_type} x {level.value}"
    if isinstance(rule, AutoIf):
        if rule.threshold is None:
            return Outcome(Verdict.AUTO, None, f"{cell}: Auto")
        if confidence is not None and confidence >= rule.threshold:
            return Outcome(
                Verdict.AUTO, rule.threshold, f"{cell}: Auto if confidence >= {rule.threshold}"
            )
        shown = "missing" if confidence is None else f"{confidence}"
        reason = f"{cell}: confidence {shown} is below the threshold {rule.threshold}"
        threshold = rule.threshold
    elif gate_type == GateType.CLOUD_ESCALATION:
        reason, threshold = f"{cell}: cloud escalation always requires human consent", None
    else:
        reason, threshold = f"{cell}: Human", None
    if level is _L.LOCKED:
        return Outcome(Verdict.HALT, threshold, f"LOCKED fails closed; {reason}")
    return Outcome(Verdict.HUMAN, threshold, reason)
