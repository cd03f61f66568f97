"""Timestamps as text: the one place that formats and parses them.

The ledger writes times in one fixed-width RFC 3339 form (UTC, microseconds,
``Z``), so text order is time order wherever they are compared as text (the
commit times, checkpoint times, the events the command API makes).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["display", "duration", "parse", "utc_text"]


def utc_text(moment: datetime | None = None) -> str:
    """
    ``moment`` (default: now) as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC.
    """
    if moment is None:
        moment = datetime.now(UTC)
    elif moment.tzinfo is None:
        msg = "a moment must carry a time zone"
        raise ValueError(msg)
    # ``isoformat``, not ``strftime("%Y...")``: strftime writes the year 500 as "500", which
    # sorts after "2026" as text, and the fixed width is what makes text order time order.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def display(moment: datetime) -> str:
    """
    ``moment`` in UTC as RFC 3339 with ``Z``, as short as it can be (for people and reports).
    """
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse(text: str) -> datetime:
    """
    An RFC 3339 timestamp (already validated: ``t``/``z`` allowed) as an aware datetime.

    A leap second (``23:59:60`` UTC) is the first instant of the next UTC day: Python's
    datetime has no second 60, and this keeps timestamps in order.
    """
    text = text.replace("t", "T").replace("z", "+00:00")
    if text[17:19] != "60":
        return datetime.fromisoformat(text)
    moment = datetime.fromisoformat(text[:17] + "59" + text[19:])
    utc = moment.astimezone(UTC)
    if (utc.hour, utc.minute) != (23, 59):
        msg = f"second 60 is a leap second, only at 23:59:60 UTC: {text!r}"
        raise ValueError(msg)
    return moment + timedelta(seconds=1)


def duration(seconds: float) -> str:
    """
    A duration for reading: the two largest units, ``5d 20h``, ``3h 12m``, ``4m 10s``, ``12s``.
    """
    sign = "-" if seconds < 0 else ""
    rest = round(abs(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count or parts:
            parts.append(f"{count}{unit}")
        if len(parts) == 2:  # noqa: PLR2004 - two units read best
            break
    if not parts:
        return "0s"
    if len(parts) == 2 and parts[1].startswith("0"):  # noqa: PLR2004 - "5d 0h" reads as "5d"
        parts.pop()
    return sign + " ".join(parts)
