"""The ledger's own timestamps: one fixed-width UTC text form, so text order is time order.

Commit times, checkpoint times and as-of cuts are compared as text in SQL (ledger/_time.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger._time import parse, utc_text

_MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001 - naive bounds; the zone is drawn below
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
    ),
)


@given(_MOMENTS, _MOMENTS)
def test_text_order_is_time_order_for_every_year(a, b):
    """
    11.5.1 (RFC 3339 timestamps) and the as-of cut: fixed width, so comparing the texts
    compares the moments, in years before 1000 as well.
    """
    ta, tb = utc_text(a), utc_text(b)
    assert len(ta) == len(tb) == len("2026-12-02T07:45:41.123456Z")
    assert (ta < tb) == (a < b)
    assert (ta == tb) == (a == b)


@given(_MOMENTS)
def test_the_text_parses_back_to_the_same_moment(moment):
    assert parse(utc_text(moment)) == moment


def test_a_moment_without_a_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        utc_text(datetime(2026, 12, 2))  # noqa: DTZ001 - the point of the test
