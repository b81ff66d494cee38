"""shared/graph_batch.py: many Graph requests through `$batch`, 20 to a call and the calls of a round side by side;
items throttled go again in a later round, on one retry budget per request whatever mix of failures spends it.

Whatever a `$batch` reply holds, its items end in a result or an ApiError, never an exception. Property-based:
hypothesis feeds the batch reply parser arbitrary JSON (Python's json reads NaN, infinities and integers of any
size, so those are in it), often shaped like a real reply so the deeper branches are reached.
"""

from __future__ import annotations

import json
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devhost.emulator.state import Fault
from shared.appointment_urls import BATCH_MAX_ITEMS
from shared.errors import ApiError
from shared.graph_batch import BATCH_CONCURRENCY, batch_items, side_by_side
from shared.graph_replies import appointment_url_from, meeting_id_from
from shared.graph_transport import GraphReply
from shared.retry import RETRY_AFTER_CAP_SECONDS
from shared.validation import MeetingQuery
from tests.conftest import ORGANIZER_ID, batch_calls, by_id, distinct_meetings, inner_requests
from tests.test_retry import ANY_JSON, RETRY_AFTERS

# --- whatever a reply holds, every item ends in a result or an ApiError -----------------------------------------------


IDS = ["0", "1", "2"]


QUERIES = [
    MeetingQuery("8b1f6c3e-2a4d-4e9b-a7c1-5d3e2f1a0b9c", meeting_id="MSpkYzE3"),
    MeetingQuery("adele@contoso.example", teams_link="https://teams.microsoft.com/l/meetup-join/x"),
    MeetingQuery("adele@contoso.example", join_meeting_id="123456789012"),
]


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
        assert item._replace(status=0, body=None, retry_after=None) == reply._replace(body=None, status=0)
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


ODD_ITEMS = [  # (what replaces fields of one item's answer, the code that item ends with; None: it succeeds)
    ({"status": "200"}, "GraphError"),
    ({"status": True}, "GraphError"),  # a bool is an int to Python
    ({"status": 99999}, "GraphError"),
    ({"id": 0}, "GraphError"),  # ids are strings
    ({"body": "not an object"}, "GraphError"),
    ({"body": {"value": 42}}, "GraphError"),
    ({"headers": ["Retry-After", 1]}, None),  # unusable headers do not spoil the answer
    ({"status": 429, "headers": {"retry-after": [1]}}, None),  # throttled, its wait unreadable: backoff
    ({"status": 429, "headers": "Retry-After: 0"}, None),
]


@pytest.mark.parametrize(("odd", "code"), ODD_ITEMS, ids=[str(odd) for odd, _ in ODD_ITEMS])
def test_an_odd_batch_item_ends_in_its_documented_error_alone(get_join_url, emulator, configure, odd, code):
    emulator.state.batch_item_faults.append(Fault(item=odd))
    answer = get_join_url("POST", body={"meetings": [by_id(m) for m in distinct_meetings(emulator, 2)]})
    assert answer.status == 200
    codes = [result.get("error", {}).get("code") for result in answer.body["results"]]
    assert sorted(codes, key=str) == sorted([None, code], key=str)


@pytest.mark.parametrize("body", [b"<html>Service busy</html>", b"[1, 2]", b'{"responses": {"0": {}}}', b"null"])
def test_a_batch_reply_that_means_nothing_fails_every_item_as_graph_error(get_join_url, meeting, emulator, body):
    emulator.state.graph_faults.append(Fault(status=200, body=body))
    item = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    answer = get_join_url("POST", body={"meetings": [item, item]})
    assert answer.status == 200
    assert [result["error"]["code"] for result in answer.body["results"]] == ["GraphError"] * 2


# --- side by side -----------------------------------------------------------------------------------------------------


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


def test_batch_of_45_is_three_batch_calls(get_join_url, emulator, configure):
    meetings = distinct_meetings(emulator, 45)
    answer = get_join_url("POST", body={"meetings": [by_id(m) for m in meetings]})
    assert answer.status == 200
    assert [r["joinWebUrl"] for r in answer.body["results"]] == [m.appointment_url for m in meetings]
    sizes = [len(r.body["requests"]) for r in batch_calls(emulator)]
    assert sorted(sizes) == [5, 20, 20]  # sent side by side: they arrive in any order
    assert emulator.graph_calls() == []  # no single GETs


@pytest.mark.parametrize("given_by", ["meetingId", "joinUrl", "joinMeetingId"])
def test_a_batch_of_100_is_one_round_trip_per_step(get_join_url, emulator, logs, given_by):
    """The five $batch calls of each step are in flight together (the emulator holds each until all
    five have come), so 100 IDs take one Graph round trip and 100 links or numbers two; results keep their order."""
    meetings = [emulator.add_meeting(ORGANIZER_ID, join_meeting_id=f"20000000{i:04}") for i in range(BATCH_MAX_ITEMS)]
    item_of = {
        "meetingId": lambda m: {"meetingId": m.meeting_id, "organizerId": ORGANIZER_ID},
        "joinUrl": lambda m: {"joinUrl": m.teams_link},
        "joinMeetingId": lambda m: {"joinMeetingId": m.join_meeting_id, "organizerId": ORGANIZER_ID},
    }[given_by]
    order = meetings[::-1]
    emulator.state.batch_gate = threading.Barrier(BATCH_CONCURRENCY, timeout=0.8)  # under the 1 s read timeout
    answer = get_join_url("POST", body={"meetings": [item_of(m) for m in order]})
    assert [r.get("joinWebUrl") for r in answer.body["results"]] == [m.appointment_url for m in order]
    steps = 1 if given_by == "meetingId" else 2
    assert len(batch_calls(emulator)) == BATCH_CONCURRENCY * steps
    assert emulator.graph_calls() == []
    [line] = [r.getjoinurl for r in logs.records if getattr(r, "getjoinurl", {}).get("event") == "invocation"]
    assert line["graphAttempts"] == BATCH_CONCURRENCY * steps  # counted from every thread


def test_batch_items_carry_accept_language(get_join_url, meeting, emulator):
    item = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    get_join_url("POST", body={"meetings": [item]}, headers={"Accept-Language": "de-DE"})
    [sent] = batch_calls(emulator)
    assert sent.body["requests"][0]["headers"] == {"Accept-Language": "de-DE"}


# --- items throttled or failing, and one retry budget per request -----------------------------------------------------


def test_batch_items_throttled_are_retried_in_a_later_batch(get_join_url, emulator, configure, clock):
    meetings = distinct_meetings(emulator, 5)
    emulator.state.batch_item_faults.extend([Fault(status=429, retry_after="1")] * 2)
    answer = get_join_url("POST", body={"meetings": [by_id(m) for m in meetings]})
    assert [r.get("joinWebUrl") for r in answer.body["results"]] == [m.appointment_url for m in meetings]
    sizes = [len(r.body["requests"]) for r in batch_calls(emulator)]
    assert sizes == [5, 2]
    assert clock.waits == [1.0]  # one wait for the round, the items' Retry-After


@pytest.mark.parametrize(
    ("retry_after", "waited"),
    [(0, 0.0), (0.25, 0.25), (float("nan"), None), ("Thu, 01 Jan 1970 00:00:00 -0000", 0.0)],
    ids=["0", "0.25", "nan", "a date past"],
)
def test_batch_item_retry_after_in_any_form_is_waited_out(
    get_join_url, emulator, configure, clock, retry_after, waited
):
    """A JSON number here was a 500 ('int' object has no attribute 'strip'). NaN is no wait: backoff instead."""
    meetings = distinct_meetings(emulator, 2)
    emulator.state.batch_item_faults.append(Fault(status=429, retry_after=retry_after))
    answer = get_join_url("POST", body={"meetings": [by_id(m) for m in meetings]})
    assert [r.get("joinWebUrl") for r in answer.body["results"]] == [m.appointment_url for m in meetings]
    assert [len(r.body["requests"]) for r in batch_calls(emulator)] == [2, 1]
    [wait] = clock.waits
    assert wait == waited if waited is not None else 0.25 <= wait <= 0.5


def test_batch_items_throttled_past_the_deadline_fail_alone(get_join_url, emulator, configure):
    meetings = distinct_meetings(emulator, 3)
    emulator.state.batch_item_faults.append(Fault(status=429, retry_after="60"))
    answer = get_join_url("POST", body={"meetings": [by_id(m) for m in meetings]})
    assert answer.status == 200
    codes = [r.get("error", {}).get("code") for r in answer.body["results"]]
    assert sorted(codes, key=str) == [None, None, "Throttled"]
    assert len(batch_calls(emulator)) == 1
    [throttled] = [r["error"] for r in answer.body["results"] if "error" in r]
    assert throttled["retryAfterSeconds"] == 60  # a batch answer is a 200: no header carries the wait
    assert "Try again in 60 seconds." in throttled["message"]


def test_batch_item_unavailable_with_a_known_wait_carries_it(get_join_url, meeting, emulator):
    emulator.state.batch_item_faults.append(Fault(status=503, retry_after="45"))
    item = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    [result] = get_join_url("POST", body={"meetings": [item]}).body["results"]
    assert (result["error"]["code"], result["error"]["retryAfterSeconds"]) == ("GraphUnavailable", 45)


def test_batch_item_errors_without_a_wait_carry_none(get_join_url, meeting):
    [result] = get_join_url(
        "POST", body={"meetings": [{"meetingId": "MSpub3RoZXJl", "organizerId": ORGANIZER_ID}]}
    ).body["results"]
    assert result["error"]["code"] == "MeetingNotFound"
    assert "retryAfterSeconds" not in result["error"]


def test_a_throttled_duplicate_fails_alike_for_every_copy(get_join_url, meeting, emulator, configure):
    configure(GRAPH_MAX_RETRIES="0")
    emulator.state.batch_item_faults.append(Fault(status=429, retry_after="7"))
    answer = get_join_url("POST", body={"meetings": [by_id(meeting)] * 3})
    assert [r["error"]["retryAfterSeconds"] for r in answer.body["results"]] == [7] * 3
    assert len(inner_requests(emulator)) == 1


def test_whole_batch_throttled_is_retried(get_join_url, meeting, emulator, clock):
    emulator.state.graph_faults.append(Fault(status=429, retry_after="1"))
    answer = get_join_url("POST", body={"meetings": [{"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}]})
    assert answer.body["results"][0]["joinWebUrl"] == meeting.appointment_url
    assert len(batch_calls(emulator)) == 2
    assert clock.waits == [1.0]


def test_batch_with_graph_down_fails_every_item_as_unavailable(get_join_url, meeting, emulator):
    emulator.state.graph_faults.extend([Fault(reset=True)] * 4)
    answer = get_join_url(
        "POST", body={"meetings": [{"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}] * 2}
    )
    assert answer.status == 200
    assert [r["error"]["code"] for r in answer.body["results"]] == ["GraphUnavailable"] * 2


def test_whole_batch_failing_is_retried_within_the_retry_budget(get_join_url, meeting, configure, emulator):
    configure(GRAPH_MAX_RETRIES="2")
    emulator.state.graph_faults.extend([Fault(status=503, retry_after="0")] * 10)
    item = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    answer = get_join_url("POST", body={"meetings": [item, item]})
    assert [r["error"]["code"] for r in answer.body["results"]] == ["GraphUnavailable"] * 2
    assert len(emulator.state.graph_requests) == 3  # the first try and 2 retries, not 3 x 3


def batch_item_sends(emulator) -> dict[str, int]:
    """How many times each inner request went to Graph, over every `$batch` call the emulator recorded."""
    sends: dict[str, int] = {}
    for recorded in emulator.state.graph_requests:
        assert recorded.target.endswith("/$batch")
        for item in recorded.body["requests"]:
            sends[item["url"]] = sends.get(item["url"], 0) + 1
    return sends


@pytest.mark.parametrize(
    "whole_call_faults",
    [
        [Fault(status=503, retry_after="0")] * 3 + [Fault()],  # each round: three 503s on the $batch, then through
        [Fault()] + [Fault(status=503, retry_after="0")] * 3,  # a round of throttled items first, then 503s
    ],
    ids=["503s-then-items-throttled", "items-throttled-then-503s"],
)
def test_one_retry_budget_per_request_whatever_mix_of_batch_and_item_failures(
    get_join_url, emulator, configure, whole_call_faults
):
    """GRAPH_MAX_RETRIES bounds the sends of every request: whole-call retries of a `$batch` and rounds of
    throttled items spend the same budget. Separate budgets sent one item (R + 1) ** 2 times."""
    configure(GRAPH_MAX_RETRIES="3", REQUEST_DEADLINE_SECONDS="10")
    meetings = [emulator.add_meeting(ORGANIZER_ID) for _ in range(20)]
    emulator.state.graph_faults.extend(whole_call_faults * 4)
    emulator.state.batch_item_faults.extend([Fault(status=429, retry_after="0")] * 20 * 16)
    items = [{"meetingId": m.meeting_id, "organizerId": ORGANIZER_ID} for m in meetings]
    answer = get_join_url("POST", body={"meetings": items})
    codes = {result["error"]["code"] for result in answer.body["results"]}
    assert codes <= {"Throttled", "GraphUnavailable"}
    sends = batch_item_sends(emulator)
    assert len(sends) == 20
    assert max(sends.values()) == 4  # the first try and GRAPH_MAX_RETRIES=3
    assert len(emulator.state.graph_requests) <= 4
