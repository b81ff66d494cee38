"""Issue 11: whatever a `$batch` reply holds, its items end in a result or an ApiError, never an exception.

Property-based: hypothesis feeds the batch reply parser arbitrary JSON (Python's json reads NaN, infinities and
integers of any size, so those are in it), often shaped like a real reply so the deeper branches are reached.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import ApiError
from shared.graph_batch import batch_items, side_by_side
from shared.graph_replies import appointment_url_from, meeting_id_from
from shared.graph_transport import GraphReply
from shared.retry import RETRY_AFTER_CAP_SECONDS, retry_after_seconds
from shared.validation import MeetingQuery

IDS = ["0", "1", "2"]
QUERIES = [
    MeetingQuery("8b1f6c3e-2a4d-4e9b-a7c1-5d3e2f1a0b9c", meeting_id="MSpkYzE3"),
    MeetingQuery("adele@contoso.example", teams_link="https://teams.microsoft.com/l/meetup-join/x"),
    MeetingQuery("adele@contoso.example", join_meeting_id="123456789012"),
]

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
RETRY_AFTERS = ANY_JSON | st.sampled_from(
    ["5", " 12 ", "-3", "1.5", "9" * 40, 10**400, "Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2099 07:28:00 -0000"]
)
HEADERS = st.dictionaries(st.sampled_from(["Retry-After", "retry-after", "Content-Type"]), RETRY_AFTERS) | ANY_JSON
BODIES = (
    st.fixed_dictionaries({"value": ANY_JSON | st.just("https://visit.teams.microsoft.com/x")})
    | st.fixed_dictionaries({"value": st.lists(st.fixed_dictionaries({"id": ANY_JSON | st.just("MSpk")}))})
    | st.fixed_dictionaries({"error": st.fixed_dictionaries({"code": ANY_JSON, "message": ANY_JSON})})
    | ANY_JSON
)
ITEMS = (
    st.fixed_dictionaries(
        {"id": st.sampled_from(IDS) | ANY_JSON, "status": st.sampled_from([200, 400, 403, 404, 429, 503]) | ANY_JSON},
        optional={"headers": HEADERS, "body": BODIES},
    )
    | ANY_JSON
)
REPLY_BODIES = st.fixed_dictionaries({"responses": st.lists(ITEMS, max_size=5)}) | ANY_JSON


@settings(max_examples=200, deadline=None)
@given(body=REPLY_BODIES)
def test_any_batch_reply_gives_every_item_a_result_or_an_api_error(body):
    reply = GraphReply(status=200, body=body, request_id="outer-request-id")
    items = batch_items(reply, IDS)
    assert list(items) == IDS
    for item in items.values():
        assert replace(item, status=0, body=None, retry_after=None) == replace(reply, body=None, status=0)
        assert item.retry_after is None or 0 <= item.retry_after <= RETRY_AFTER_CAP_SECONDS
        for query in QUERIES:
            for use in (appointment_url_from, meeting_id_from):
                try:
                    result = use(item, query)
                except ApiError as error:
                    json.dumps(error.body(), allow_nan=False)  # what the caller gets is plain JSON
                    error.retry_after_header()
                else:
                    assert isinstance(result, str)


@settings(max_examples=200, deadline=None)
@given(value=RETRY_AFTERS | st.text())
def test_any_retry_after_is_a_finite_wait_or_none(value):
    seconds = retry_after_seconds(value)
    assert seconds is None or 0 <= seconds <= RETRY_AFTER_CAP_SECONDS


def test_items_are_matched_by_id_and_the_first_usable_answer_counts():
    reply = GraphReply(
        status=200,
        body={
            "responses": [
                {"id": "1", "status": True, "body": {"value": "bool is no status"}},
                {"id": "1", "status": 200, "body": {"value": "first"}},
                {"id": "1", "status": 200, "body": {"value": "second"}},
                {"id": "0", "status": 429, "headers": {"retry-after": 7}},
                {"id": "9", "status": 200},
            ]
        },
        request_id="outer",
    )
    items = batch_items(reply, IDS)
    assert (items["0"].status, items["0"].retry_after, items["0"].request_id) == (429, 7, "outer")
    assert items["1"].body == {"value": "first"}
    assert (items["2"].status, items["2"].body) == (0, None)  # not answered


def test_side_by_side_runs_up_to_its_limit_at_once_and_keeps_order():
    limit, active, most = 3, [0], [0]
    lock, gate = threading.Lock(), threading.Barrier(limit, timeout=5)  # breaks unless `limit` run together

    def task(n: int) -> int:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        gate.wait()
        with lock:
            active[0] -= 1
        return n * n

    assert side_by_side([lambda n=n: task(n) for n in range(12)], limit) == [n * n for n in range(12)]
    assert most[0] == limit


def test_side_by_side_raises_a_tasks_exception_on_the_callers_thread():
    def boom() -> int:
        raise LookupError("from a helper thread")

    with pytest.raises(LookupError, match="from a helper thread"):
        side_by_side([lambda: 1, boom, lambda: 3], 3)
