"""Argument types and help pieces the verbs share."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ledger.errors import ConfigurationError

__all__ = ["example", "moment", "period", "period_options", "positive"]


def example(*lines: str) -> str:
    """
    An ``examples:`` epilog: one command per line, laid out as written.
    """
    head = "examples:" if len(lines) > 1 else "example:"
    return head + "\n" + "\n".join(f"  {line}" for line in lines)


def positive(text: str) -> int:
    """
    A whole number of at least 1.
    """
    try:
        value = int(text)
    except ValueError:
        msg = f"not a whole number: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if value < 1:
        msg = "must be at least 1"
        raise argparse.ArgumentTypeError(msg)
    return value


def moment(text: str) -> datetime:
    """
    An RFC 3339 moment with a time zone (``Z`` or an offset), in range in UTC.
    """
    try:
        found = datetime.fromisoformat(text.upper())  # 3.11 reads Z as UTC
    except ValueError:
        msg = f"not an RFC 3339 moment: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if found.tzinfo is None:
        msg = f"{text!r} has no time zone (add Z or +hh:mm)"
        raise argparse.ArgumentTypeError(msg)
    try:
        found.astimezone(UTC)
    except OverflowError:
        msg = f"{text!r} is out of range in UTC"
        raise argparse.ArgumentTypeError(msg) from None
    return found


def period_options(p: argparse.ArgumentParser, *, what: str) -> None:
    """
    ``--since`` (inclusive) and ``--until`` (exclusive), RFC 3339 moments.
    """
    p.add_argument(
        "--since",
        type=moment,
        metavar="RFC3339",
        help=f"period start, inclusive, for {what} (default: from the first)",
    )
    p.add_argument(
        "--until",
        type=moment,
        metavar="RFC3339",
        help=f"period end, exclusive, for {what} (default: to the last)",
    )


def period(args: argparse.Namespace) -> tuple[datetime | None, datetime | None]:
    """
    (since, until) as given; ``ConfigurationError`` unless since is before until.
    """
    since, until = args.since, args.until
    if since is not None and until is not None and since >= until:
        msg = "--since must be before --until"
        raise ConfigurationError(msg, field="since", rule="period")
    return since, until
