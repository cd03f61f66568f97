"""Timestamps as text: the one place that formats and parses them.

The ledger writes times in one fixed-width RFC 3339 form (UTC, microseconds,
``Z``), so text order is time order wherever they are compared as text (the
commit times, checkpoint times, the events the command API makes).
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["display", "parse", "utc_text"]

_FIXED = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_text(moment: datetime | None = None) -> str:
    """
    ``moment`` (default: now) as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC.
    """
    if moment is None:
        moment = datetime.now(UTC)
    elif moment.tzinfo is None:
        msg = "a moment must carry a time zone"
        raise ValueError(msg)
    return moment.astimezone(UTC).strftime(_FIXED)


def display(moment: datetime) -> str:
    """
    ``moment`` in UTC as RFC 3339 with ``Z``, as short as it can be (for people and reports).
    """
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse(text: str) -> datetime:
    """
    An RFC 3339 timestamp (already validated: ``t``/``z`` allowed) as an aware datetime.
    """
    return datetime.fromisoformat(text.replace("t", "T").replace("z", "+00:00"))
