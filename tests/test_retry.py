"""shared/retry.py: Retry-After read in any form Graph may send it (a finite wait from 0 to a day, or none), and
backoff with jitter under a cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.retry import BACKOFF_CAP_SECONDS, RETRY_AFTER_CAP_SECONDS, backoff_seconds, retry_after_seconds


def test_retry_after_in_both_forms():
    assert retry_after_seconds("7") == 7
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds(when) <= 31
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (7, 7),  # a JSON number in a $batch item's headers
        (1.5, 1.5),
        (" 12 ", 12),
        ("2.5", 2.5),
        (-3, 0),
        ("-3", 0),
        (float("-inf"), 0),
        (10**400, RETRY_AFTER_CAP_SECONDS),  # Python's json reads integers of any size
        ("9" * 400, RETRY_AFTER_CAP_SECONDS),
        (1e308, RETRY_AFTER_CAP_SECONDS),
        (float("inf"), RETRY_AFTER_CAP_SECONDS),  # json reads Infinity and NaN too
        (float("nan"), None),
        (True, None),  # a bool is an int to Python
        ([], None),
        ({"seconds": 5}, None),
        ("", None),
        ("\u00b2", None),  # a digit to str.isdigit only
        ("Mon, 01 Jan 2001 00:00:00 GMT", 0),  # in the past
        ("Fri, 31 Dec 9999 23:59:59 GMT", RETRY_AFTER_CAP_SECONDS),
        ("Mon, 99999999999999999999 Jan 2001 00:00:00 GMT", None),
        ("Mon, 01 Jan 2001 00:00:00 +9999", None),
    ],
)
def test_retry_after_is_finite_and_never_negative_whatever_graph_sends(value, seconds):
    assert retry_after_seconds(value) == seconds


def test_retry_after_date_in_a_zone_that_parses_naive_counts_as_utc():
    naive = format_datetime((datetime.now(UTC) + timedelta(seconds=30)).replace(tzinfo=None))
    assert naive.endswith("-0000")
    assert 25 <= retry_after_seconds(naive) <= 31


ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


RETRY_AFTERS = ANY_JSON | st.sampled_from(
    ["5", " 12 ", "-3", "1.5", "9" * 40, 10**400, "Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2099 07:28:00 -0000"]
)


@settings(max_examples=200, deadline=None)
@given(value=RETRY_AFTERS | st.text())
def test_any_retry_after_is_a_finite_wait_or_none(value):
    seconds = retry_after_seconds(value)
    assert seconds is None or 0 <= seconds <= RETRY_AFTER_CAP_SECONDS


def test_backoff_grows_with_jitter_and_a_cap():
    first = [backoff_seconds(1) for _ in range(50)]
    assert all(0.25 <= w <= 0.5 for w in first) and len(set(first)) > 1
    assert all(w <= BACKOFF_CAP_SECONDS for w in (backoff_seconds(10) for _ in range(50)))
