"""Every policy question the ledger asks, answered in one place.

The gate automation table of 2.6.8.12.2 is normative, so it lives here as
reviewed data; ``GatePolicy`` answers from it (and, later, from an operator's
tighten-only additions): the cell for a gate and level, the verdict for a
confidence, whether an AutoSignature is refused and why, what a LOCKED halt
records, and which rule a halt cites. Nothing else in the ledger compares a
confidence with a threshold or names a gate type that may never be auto-signed.

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
* A LOCKED halt records ``reject`` for a gate that may never be auto-signed
  (nothing but a human could ever satisfy it) and ``defer`` otherwise.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

import orjson

from ledger.errors import ConfigurationError, LedgerError
from ledger.vocabulary import AutomationLevel, Decision, GateType, imitated

__all__ = [
    "AUTO",
    "BUILTIN",
    "HUMAN",
    "NEVER_AUTO_SIGNED",
    "RULES",
    "AutoIf",
    "GatePolicy",
    "HumanCell",
    "Outcome",
    "Rule",
    "Verdict",
    "evaluate",
    "is_locked_halt",
    "qualifies",
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

#: The columns of the table; LOCKED reads AUTONOMOUS's.
COLUMNS: Final = (_L.FULL_HUMAN, _L.HYBRID, _L.AUTONOMOUS)

#: A gate type the table does not name (2.6.8.12.1: AUTONOMOUS "self-approves most gates").
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


def qualifies(confidence: float | None, threshold: float | None) -> bool:
    """
    Whether ``confidence`` meets ``threshold`` (inclusive; a missing confidence never does).

    The one comparison of a confidence with a threshold in the ledger.
    """
    if threshold is None:
        return True
    return confidence is not None and confidence >= threshold


_CLOSING: Final = frozenset({Decision.REJECT.value, Decision.DEFER.value})


def is_locked_halt(level: str, verdict: str, model_decision: str | None) -> bool:
    """
    A LOCKED decision that needed a human, recorded as reject/defer (2.6.8.12.6.1).
    """
    return level == _L.LOCKED and verdict == Verdict.HALT and model_decision in _CLOSING


@dataclass(frozen=True)
class GatePolicy:
    """
    The gate policy in force: the normative table, plus what an operator added.

    ``cells`` holds only what differs from the normative table and the default
    for unlisted gates; ``never_auto_signed`` always includes the normative pair.
    """

    #: A label shown in reports (the operator's ``version``; "builtin" for the table alone).
    version: str = "builtin"
    cells: Mapping[tuple[str, AutomationLevel], Rule] = field(
        default_factory=lambda: MappingProxyType({})
    )
    never_auto_signed: frozenset[str] = NEVER_AUTO_SIGNED
    #: A 005 must name its human (a user_id, actor human); else it is recorded unattributed.
    require_human_identity: bool = False
    #: "bounded" (bounded text, credential guard) or "refs_only" (safe tokens only).
    text: str = "bounded"
    _memo: dict[tuple[str, AutomationLevel, float | None], Outcome] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _digest: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    # --- the table ---------------------------------------------------------------------

    def cell(self, gate_type: str, level: AutomationLevel) -> Rule:
        """
        The cell for ``gate_type`` at ``level`` (LOCKED reads the AUTONOMOUS column).
        """
        column = _L.AUTONOMOUS if level is _L.LOCKED else level
        declared = self.cells.get((gate_type, column))
        if declared is not None:
            return declared
        # GateType is a StrEnum: a plain string finds its normative row.
        normative = RULES.get((gate_type, column))  # type: ignore[arg-type]
        return normative if normative is not None else _UNLISTED[column]

    def evaluate(self, gate_type: str, level: AutomationLevel, confidence: float | None) -> Outcome:
        """
        Apply the table (and LOCKED, 2.6.8.12.6.1) to one gate evaluation.
        """
        key = (gate_type, level, confidence)
        found = self._memo.get(key)
        if found is None:
            found = self._evaluate(gate_type, level, confidence)
            if len(self._memo) < 1 << 14:  # repeated cells and confidences are common
                self._memo[key] = found
        return found

    def _evaluate(
        self, gate_type: str, level: AutomationLevel, confidence: float | None
    ) -> Outcome:
        rule = self.cell(gate_type, level)
        cell = f"{gate_type} x {level.value}"
        if isinstance(rule, AutoIf):
            if rule.threshold is None:
                return Outcome(Verdict.AUTO, None, f"{cell}: Auto")
            if qualifies(confidence, rule.threshold):
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

    # --- AutoSignature -------------------------------------------------------------------

    def auto_signature_refusal(
        self, gate_type: str, level: AutomationLevel, confidence: float | None, whose: str
    ) -> str | None:
        """
        Why the policy forbids an AutoSignature here (None: it does not).

        ``whose`` names the confidence that was judged ("the decision's", ...).
        """
        if gate_type in self.never_auto_signed:
            return (
                f"AutoSignature MUST NOT be used for {gate_type} (2.6.8.12.4, 2.6.8.12.6.3), "
                "at any automation level"
            )
        if level is _L.FULL_HUMAN:
            return "FULL_HUMAN: every gate requires human approval (2.6.8.12.2)"
        rule = self.cell(gate_type, level)
        if not isinstance(rule, AutoIf):
            return f"{gate_type} x {level.value} requires a human (2.6.8.12.2)"
        if not qualifies(confidence, rule.threshold):
            shown = "missing" if confidence is None else confidence
            return (
                f"{whose} confidence {shown} is below the {gate_type} x {level.value} threshold "
                f"{rule.threshold} (2.6.8.12.2, inclusive)"
            )
        return None

    def is_thresholded(self, gate_type: str, level: AutomationLevel) -> bool:
        """
        Whether the cell's answer depends on a confidence.
        """
        rule = self.cell(gate_type, level)
        return isinstance(rule, AutoIf) and rule.threshold is not None

    # --- LOCKED halts --------------------------------------------------------------------

    def halt_decision(self, gate_type: str) -> Decision:
        """
        What a LOCKED halt records: ``reject`` where only a human could ever satisfy the gate.
        """
        return Decision.REJECT if gate_type in self.never_auto_signed else Decision.DEFER

    @staticmethod
    def halt_rule(gate_type: str) -> str:
        """
        The sections a LOCKED halt of ``gate_type`` cites.
        """
        if gate_type == GateType.CLOUD_ESCALATION:
            return "2.6.8.12.6.1, 11.1.7.3"  # in LOCKED, cloud escalation MUST be denied
        return "2.6.8.12.6.1"

    # --- identity ------------------------------------------------------------------------

    def canonical(self) -> bytes:
        """
        The policy as canonical JSON (keys sorted): what its digest is taken over.
        """
        gates: dict[str, dict[str, object]] = {}
        for (gate_type, level), rule in sorted(self.cells.items()):
            gates.setdefault(str(gate_type), {})[level.value] = _cell_text(rule)
        for gate_type in sorted(self.never_auto_signed - NEVER_AUTO_SIGNED):
            gates.setdefault(str(gate_type), {})["never_auto_signed"] = True
        return orjson.dumps(
            {
                "version": self.version,
                "gates": gates,
                "require_human_identity": self.require_human_identity,
                "text": self.text,
            },
            option=orjson.OPT_SORT_KEYS,
        )

    @property
    def digest(self) -> str:
        """
        SHA-256 of ``canonical()``, hex: names this policy in the store and in reports.
        """
        if not self._digest:  # computed once: every decision created records it
            self._digest.append(hashlib.sha256(self.canonical()).hexdigest())
        return self._digest[0]

    # --- operator files --------------------------------------------------------------------

    @classmethod
    def from_toml(cls, text: str, source: str = "policy") -> GatePolicy:
        """
        An operator's policy file (TOML), validated: ``ConfigurationError`` naming why.

        The five normative gates of 2.6.8.12.2 may appear only to tighten their cells
        (a higher threshold, or human); other gates may be declared freely.
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise _policy_error(source, f"not TOML: {exc}", rule="toml") from None
        return _from_mapping(data, source, strict=True)

    @classmethod
    def from_canonical(cls, text: str | bytes) -> GatePolicy:
        """
        A policy from its canonical form (as the store keeps it).
        """
        return _from_mapping(orjson.loads(text), "stored policy", strict=False)


def _cell_text(rule: Rule) -> object:
    if isinstance(rule, HumanCell):
        return "human"
    return "auto" if rule.threshold is None else rule.threshold


#: The normative table alone: the policy in force when the operator declares none.
BUILTIN: Final = GatePolicy()


def rule_for(gate_type: str, level: AutomationLevel) -> Rule:
    """
    The built-in policy's cell for ``gate_type`` at ``level``.
    """
    return BUILTIN.cell(gate_type, level)


def evaluate(gate_type: str, level: AutomationLevel, confidence: float | None) -> Outcome:
    """
    The built-in policy's outcome for one gate evaluation (2.6.8.12.2, 2.6.8.12.6.1).
    """
    return BUILTIN.evaluate(gate_type, level, confidence)


# --- reading an operator's policy file ---------------------------------------------------------

_TEXT_MODES: Final = ("bounded", "refs_only")
_TOP_KEYS: Final = frozenset({"version", "gates", "require_human_identity", "text"})
_LEVELS_BY_NAME: Final = {level.value: level for level in COLUMNS}
#: A gate type named in a policy file: the same token as in events (schemas/).
_GATE_TOKEN: Final = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def _policy_error(source: str, why: str, *, gate: str | None = None, **kw: str) -> LedgerError:
    where = f"gate {gate!r}: " if gate is not None else ""
    return ConfigurationError(
        f"{source}: {where}{why}",
        field=kw.get("field", "policy"),
        **{k: v for k, v in kw.items() if k != "field"},
    )


def _from_mapping(data: Any, source: str, *, strict: bool) -> GatePolicy:
    if not isinstance(data, dict):
        raise _policy_error(source, "a policy is a table of keys", rule="type")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise _policy_error(
            source,
            f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_TOP_KEYS))})",
            rule="unknown_key",
        )
    version = data.get("version")
    if not isinstance(version, str) or not version.strip() or len(version) > 128:  # noqa: PLR2004
        raise _policy_error(
            source, "'version' must be a label (text, 1 to 128 characters)", rule="version"
        )
    identity = data.get("require_human_identity", False)
    if not isinstance(identity, bool):
        raise _policy_error(source, "'require_human_identity' must be true or false", rule="type")
    text = data.get("text", "bounded")
    if text not in _TEXT_MODES:
        raise _policy_error(source, f"'text' must be one of {', '.join(_TEXT_MODES)}", rule="text")
    cells, never = _gates(source, data.get("gates", {}), strict=strict)
    return GatePolicy(
        version=version,
        cells=MappingProxyType(cells),
        never_auto_signed=frozenset(never),
        require_human_identity=identity,
        text=text,
    )


def _gates(
    source: str, gates: Any, *, strict: bool
) -> tuple[dict[tuple[str, AutomationLevel], Rule], set[str]]:
    if not isinstance(gates, dict):
        raise _policy_error(source, "'gates' must be a table of gate tables", rule="type")
    cells: dict[tuple[str, AutomationLevel], Rule] = {}
    never: set[str] = {str(gate) for gate in NEVER_AUTO_SIGNED}
    for gate_type, declared in gates.items():
        _check_gate_name(source, gate_type)
        if not isinstance(declared, dict):
            raise _policy_error(source, "must be a table of levels", gate=gate_type, rule="type")
        for key, value in declared.items():
            if key == "never_auto_signed":
                never = _never_auto_signed(source, gate_type, value, never)
                continue
            level = _level(source, gate_type, key)
            rule = _cell(source, gate_type, level, value)
            if strict:
                _check_tightens(source, gate_type, level, rule)
            cells[(gate_type, level)] = rule
    return cells, never


def _check_gate_name(source: str, gate_type: str) -> None:
    original = imitated(gate_type, [g.value for g in GateType])
    if original is not None:
        raise _policy_error(
            source,
            f"imitates the normative gate {original!r}; name it exactly",
            gate=gate_type,
            rule="gate_type_confusable",
        )
    if not _GATE_TOKEN.fullmatch(gate_type):
        raise _policy_error(
            source,
            "a gate type is letters, digits, '_', '.' and '-' (at most 128)",
            gate=gate_type,
            rule="pattern",
        )


def _never_auto_signed(source: str, gate_type: str, value: Any, never: set[str]) -> set[str]:
    if not isinstance(value, bool):
        raise _policy_error(source, "never_auto_signed must be true or false", gate=gate_type)
    if value:
        return never | {gate_type}
    if gate_type in NEVER_AUTO_SIGNED:
        raise _policy_error(
            source,
            "never_auto_signed = false would loosen 2.6.8.12.4 (AutoSignature MUST NOT be "
            "used for it)",
            gate=gate_type,
            rule="tighten_only",
        )
    return never - {gate_type}


def _level(source: str, gate_type: str, key: str) -> AutomationLevel:
    level = _LEVELS_BY_NAME.get(key)
    if level is not None:
        return level
    if key == _L.LOCKED:
        why = "LOCKED has no column of its own: it reads the AUTONOMOUS column (2.6.8.12.6.1)"
    else:
        why = f"unknown level {key!r} (FULL_HUMAN, HYBRID, AUTONOMOUS, or never_auto_signed)"
    raise _policy_error(source, why, gate=gate_type, field="level", rule="level")


def _cell(source: str, gate_type: str, level: AutomationLevel, value: Any) -> Rule:
    if value == "human":
        return HUMAN
    if value == "auto":
        return AUTO
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return AutoIf(float(value))
    raise _policy_error(
        source,
        f'{level.value}: a cell is "human", "auto" or a threshold in [0, 1]',
        gate=gate_type,
        field="level",
        rule="cell",
    )


def _check_tightens(source: str, gate_type: str, level: AutomationLevel, rule: Rule) -> None:
    """
    A normative cell may only be tightened: human anywhere; a higher threshold for Auto.
    """
    normative = RULES.get((gate_type, level))  # type: ignore[arg-type]
    if normative is None or isinstance(rule, HumanCell):
        return
    ok = isinstance(normative, AutoIf) and (
        normative.threshold is None
        or (rule.threshold is not None and rule.threshold >= normative.threshold)
    )
    if not ok:
        raise _policy_error(
            source,
            f"{level.value}: {_cell_text(rule)!r} would loosen 2.6.8.12.2's "
            f"{_cell_text(normative)!r}; the normative gates may only be tightened",
            gate=gate_type,
            field="level",
            rule="tighten_only",
        )
