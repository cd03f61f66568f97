"""Names from the spec: automation levels, gate types, decisions, actors.

Legacy inputs are normalised here, once, at the boundary (2.6.8.12.6.1).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from confusable_homoglyphs import confusables  # type: ignore[import-untyped]

__all__ = [
    "LEGACY_LEVELS",
    "AutomationLevel",
    "Decision",
    "GateType",
    "imitated",
    "skeleton",
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


# --- exact spellings ------------------------------------------------------------------------

#: ASCII look-alikes, after case folding: i (from a capital I), 1 and | read as l (UTS 39
#: maps I, l, 1 and | together), 0 as o.
_ASCII_LOOKALIKES: Final = str.maketrans({"i": "l", "1": "l", "|": "l", "0": "o"})
#: What a reader does not see, or sees as mere separation, between letters.
_SEPARATORS: Final = frozenset(" _-.")


def skeleton(text: str) -> str:
    """
    What ``text`` looks like to a reader, for comparison only (never for display).

    Unicode compatibility forms folded (NFKC), invisible, control and space characters
    and the separators ``_ - .`` dropped, look-alike letters of other scripts mapped to
    the Latin letter they imitate (Unicode's confusables data), case folded.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        text = "".join(
            _latin(ch)
            for ch in text
            if unicodedata.category(ch)[0] not in "CZ" and ch not in _SEPARATORS
        )
    else:
        text = "".join(ch for ch in text if ch.isprintable() and ch not in _SEPARATORS)
    return text.casefold().translate(_ASCII_LOOKALIKES)


@functools.lru_cache(maxsize=4096)
def _latin(ch: str) -> str:
    if ch.isascii():
        return ch
    found = confusables.is_confusable(ch, preferred_aliases=["latin"], greedy=True) or []
    for hit in found:
        for glyph in hit["homoglyphs"]:
            if glyph["c"].isascii():
                return str(glyph["c"])
    return ch


def imitated(value: str, exact: Iterable[str]) -> str | None:
    """
    The one of ``exact`` that ``value`` imitates without being it (None: it imitates none).

    "Imitates" is: the same skeleton, a different spelling (case, compatibility form,
    look-alike letters, invisible or separating characters).
    """
    seen = skeleton(value)
    for name in exact:
        if value != name and seen == _skeleton_of(name):
            return name
    return None


@functools.lru_cache(maxsize=256)
def _skeleton_of(name: str) -> str:
    return skeleton(name)
