"""Which Graph answers are worth another try, and how long to wait before it."""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

RETRY_STATUSES = frozenset({429, 503, 504})
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
# The wait suggested when Graph could not be reached, did not answer in time, or was unavailable without saying how
# long for: every 429, 503 and 504 the function answers carries a wait.
OUTAGE_RETRY_AFTER_SECONDS = 5
# No throttle asks for more than a day; the bound keeps the wait passed on a short, finite integer.
RETRY_AFTER_CAP_SECONDS = 86_400.0
_DELAY_SECONDS = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def retry_after_seconds(value: Any) -> float | None:
    """A Retry-After value as seconds from now, from 0 to a day; None when absent or unreadable.

    RFC 9110 allows whole seconds or an HTTP date. A `$batch` item's headers are JSON, so the value may also come
    as a number (NaN and infinities included: Python's json reads them). Whatever Graph sends, the result is a
    finite number or None, because it ends up in a header and in a JSON body.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(min(max(value, 0), RETRY_AFTER_CAP_SECONDS))  # before float(): a JSON integer has no bound
    if isinstance(value, float):
        return None if math.isnan(value) else _clamped(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        return _clamped(float(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:  # a "-0000" zone: UTC, local offset unknown (RFC 5322)
        when = when.replace(tzinfo=UTC)
    return _clamped((when - datetime.now(UTC)).total_seconds())


def _clamped(seconds: float) -> float:
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)


def backoff_seconds(attempt: int) -> float:
    """Exponential from a small base, capped, with jitter so a burst of callers does not retry in step."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** (attempt - 1))
    return ceiling * (0.5 + random.random() / 2)
