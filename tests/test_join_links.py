"""Issue 6: Teams join links and numbers as input, and many meetings in one call through Graph's `$batch`."""

from __future__ import annotations

import threading

import pytest

from devhost.emulator import Fault
from shared.appointment_urls import BATCH_MAX_ITEMS
from shared.graph_batch import BATCH_CONCURRENCY
from tests.conftest import (
    ORGANIZER_ID,
    ORGANIZER_UPN,
    batch_calls,
    by_id,
    distinct_meetings,
    inner_requests,
    lookup_filter,
)


def test_classic_join_link_is_looked_up_then_answered(get_join_url, meeting, emulator):
    answer = get_join_url(params={"joinUrl": meeting.teams_link, "organizerId": ORGANIZER_UPN})
    assert answer.status == 200
    assert answer.body == {
        "joinWebUrl": meeting.appointment_url,
        "meetingId": meeting.meeting_id,
        "organizerId": ORGANIZER_UPN,
    }
    lookup, join = emulator.graph_calls()
    assert lookup_filter(lookup) == f"JoinWebUrl eq '{meeting.teams_link}'"  # exactly as Teams wrote it
    assert "'" not in lookup.target and " " not in lookup.target  # the whole query is URL-encoded
    assert join.target.endswith("/getVirtualAppointmentJoinWebUrl")


def test_classic_link_names_its_organizer(get_join_url, meeting):
    answer = get_join_url("POST", body={"joinUrl": meeting.teams_link})
    assert answer.status == 200
    assert answer.body["organizerId"] == ORGANIZER_ID  # the Oid in the link's context


def test_short_link_is_looked_up_by_its_number(get_join_url, meeting, emulator):
    link = "https://teams.microsoft.com/meet/123456789012?p=AbCdEf123"
    answer = get_join_url(params={"joinUrl": link, "organizerId": ORGANIZER_ID})
    assert answer.status == 200 and answer.body["meetingId"] == meeting.meeting_id
    assert lookup_filter(emulator.graph_calls()[0]) == "joinMeetingIdSettings/joinMeetingId eq '123456789012'"


def test_meeting_number_from_the_invite(get_join_url, meeting, emulator):
    answer = get_join_url("POST", body={"joinMeetingId": "123 456 789 012", "organizerId": ORGANIZER_ID})
    assert answer.status == 200 and answer.body["meetingId"] == meeting.meeting_id
    assert lookup_filter(emulator.graph_calls()[0]).endswith("eq '123456789012'")


@pytest.mark.parametrize("number", ["123456789012", "123456789012.0", "1.23456789012e11", "123456789012E0"])
def test_a_whole_json_number_is_the_meeting_number_however_written(get_join_url, meeting, emulator, number):
    raw = f'{{"joinMeetingId": {number}, "organizerId": "{ORGANIZER_ID}"}}'.encode()
    answer = get_join_url("POST", raw_body=raw)
    assert answer.status == 200 and answer.body["meetingId"] == meeting.meeting_id
    assert lookup_filter(emulator.graph_calls()[0]).endswith("eq '123456789012'")


WHOLE = 'joinMeetingId must be a string of digits, such as "123 456 789 012", or a whole number.'
INEXACT = "exactly only below 9007199254740992: send this one as a string of digits."


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("1.5", WHOLE),
        ("123456789012.5", WHOLE),
        ("1e400", INEXACT),  # Python reads it as infinity
        ("NaN", WHOLE),
        ("true", WHOLE),
        ('["123456789012"]', WHOLE),
        ("9007199254740993.0", INEXACT),  # read as ...992.0: a float past 2^53 may have lost digits
        ("1e19", INEXACT),
    ],
)
def test_a_meeting_number_that_is_no_exact_whole_number_says_what_to_send(get_join_url, emulator, number, says):
    item = f'{{"joinMeetingId": {number}, "organizerId": "{ORGANIZER_ID}"}}'
    single = get_join_url("POST", raw_body=item.encode())
    assert (single.status, single.body["error"]["code"]) == (400, "InvalidRequest")
    [result] = get_join_url("POST", raw_body=f'{{"meetings": [{item}]}}'.encode()).body["results"]
    assert single.body["error"]["message"].endswith(says) and result["error"] == single.body["error"]
    assert emulator.state.graph_requests == []


def test_no_match_is_meeting_not_found(get_join_url, meeting):
    answer = get_join_url(params={"joinMeetingId": "999999999999", "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (404, "MeetingNotFound")
    assert "organizer" in answer.body["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "named", "not_named"),
    [
        ({"joinMeetingId": "999999999999"}, "numeric meeting ID", "link"),
        ({"joinUrl": "https://teams.microsoft.com/meet/999999999999?p=Abc"}, "join link", "numeric"),
    ],
    ids=["number", "short-link"],
)
@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_not_found_names_the_meeting_as_it_was_given(get_join_url, meeting, fields, named, not_named, batch):
    fields = {**fields, "organizerId": ORGANIZER_ID}
    answer = get_join_url("POST", body={"meetings": [fields]}) if batch else get_join_url(params=fields)
    error = answer.body["results"][0]["error"] if batch else answer.body["error"]
    assert error["code"] == "MeetingNotFound"
    assert f"has that {named}." in error["message"] and f"Check the {named}," in error["message"]
    assert not_named not in error["message"]


def test_more_than_one_selector_is_400(get_join_url, meeting, emulator):
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "joinMeetingId": "123456789012"})
    assert answer.status == 400
    assert "only one" in answer.body["error"]["message"]
    assert emulator.state.graph_requests == []


BAD_LINKS = [
    "http://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
    "https://teams.microsoft.com.evil.example/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
    "https://teams.microsoft.com@evil.example/l/meetup-join/x",
    "https://evil.example/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
    "https://teams.microsoft.com/l/meetup-join/abc' or JoinWebUrl ne '",
    "https://teams.microsoft.com/l/meetup-join/abc%27",  # fine: percent-escaped quote is just text
    "https://teams.microsoft.com/l/meetup-join/abc def",
    "https://teams.microsoft.com/l/meetup-join/abc#frag",
    "https://teams.microsoft.com/l/channel/19%3aabc/General",
    "https://teams.microsoft.com/meet/12ab?p=x",
    "https://teams.microsoft.com/meet/123456789012?p=x'y",
    "javascript:alert(1)",
    "https://teams.microsoft.com/l/meetup-join/" + "a" * 2048,
    "https://teams.microsoft.com/l/meetup-join/\u0430bc",
    "https://teams.microsoft.com/l/meetup-join/abc\r\n",
    "",
]


@pytest.mark.parametrize("link", BAD_LINKS, ids=range(len(BAD_LINKS)))
def test_only_teams_links_are_accepted(get_join_url, meeting, emulator, link):
    answer = get_join_url(params={"joinUrl": link, "organizerId": ORGANIZER_ID})
    if link.endswith("abc%27"):
        assert answer.status == 404  # valid shape, no such meeting; the filter held
        assert lookup_filter(emulator.graph_calls()[0]) == f"JoinWebUrl eq '{link}'"
        return
    assert answer.status == 400, link
    assert emulator.state.graph_requests == []


@pytest.mark.parametrize(
    "number", ["12345", "1" * 21, "123-456", "".join(chr(0xFF11 + i) for i in range(9)), "123456789'"]
)
def test_bad_meeting_numbers_are_400(get_join_url, emulator, number):
    answer = get_join_url(params={"joinMeetingId": number, "organizerId": ORGANIZER_ID})
    assert answer.status == 400
    assert emulator.state.graph_requests == []


# --- batch ---------------------------------------------------------------------------------------------------


def test_batch_answers_in_order_given(get_join_url, emulator, configure):
    meetings = [
        emulator.add_meeting(ORGANIZER_ID, ORGANIZER_UPN, join_meeting_id=f"1000000000{i:02}") for i in range(3)
    ]
    items = [
        {"meetingId": meetings[0].meeting_id, "organizerId": ORGANIZER_ID},
        {"meetingId": "../../etc", "organizerId": ORGANIZER_ID},
        {"joinUrl": meetings[1].teams_link},
        {"meetingId": "MSpub3RoZXJl", "organizerId": ORGANIZER_UPN},
        {"joinMeetingId": "1000000000 02", "organizerId": ORGANIZER_UPN},
        "not an object",
    ]
    answer = get_join_url("POST", body={"meetings": items}, action="batch")
    assert answer.status == 200
    results = answer.body["results"]
    assert [r.get("joinWebUrl") for r in results] == [
        meetings[0].appointment_url,
        None,
        meetings[1].appointment_url,
        None,
        meetings[2].appointment_url,
        None,
    ]
    assert results[0] == {"index": 0, **items[0], "joinWebUrl": meetings[0].appointment_url}
    assert set(results[1]) == {"index", "error"}  # nothing unvalidated is echoed
    assert results[1]["error"]["code"] == "InvalidRequest"
    assert results[2]["meetingId"] == meetings[1].meeting_id
    assert results[3]["error"]["code"] == "MeetingNotFound" and results[3]["meetingId"] == "MSpub3RoZXJl"
    assert results[5]["error"]["code"] == "InvalidRequest"
    assert len(batch_calls(emulator)) == 2  # one round of lookups, one of join URLs
    assert all("../" not in str(r.body) for r in batch_calls(emulator))


def test_every_batch_result_starts_with_the_position_of_its_item(get_join_url, emulator, configure):
    """A flow that filters the results (say, the failed ones) still finds each one's item: meetings[index]."""
    meetings = distinct_meetings(emulator, 2)
    items = [by_id(meetings[0]), {"meetingId": "../x"}, "not an object", {"joinUrl": meetings[1].teams_link}]
    items += [by_id(meetings[0]), {"meetingId": "MSpub3RoZXJl", "organizerId": ORGANIZER_ID}]
    results = get_join_url("POST", body={"meetings": items}).body["results"]
    assert [next(iter(result)) for result in results] == ["index"] * len(items)
    assert [result["index"] for result in results] == list(range(len(items)))
    failed = [result["index"] for result in results if "error" in result]
    assert failed == [1, 2, 5]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_meetings_query_parameter_does_not_make_a_batch(get_join_url, meeting, emulator, method):
    """A batch comes in a JSON body: the query string's values are text, never a list of meetings."""
    if method == "GET":
        answer = get_join_url(params={"meetings": "x", **by_id(meeting)})
    else:
        answer = get_join_url("POST", params={"meetings": "x"}, body=by_id(meeting))
    assert (answer.status, answer.body["joinWebUrl"]) == (200, meeting.appointment_url)


@pytest.mark.parametrize("left_out", [None, ""])
def test_meetings_null_or_empty_counts_as_left_out(get_join_url, meeting, left_out):
    """As for every field: a flow's empty input arrives as null or "", and makes no batch."""
    answer = get_join_url("POST", body={**by_id(meeting), "meetings": left_out})
    assert (answer.status, answer.body["joinWebUrl"]) == (200, meeting.appointment_url)
    answer = get_join_url("POST", body={"meetings": left_out}, action="batch")
    assert answer.status == 400 and answer.body["error"]["message"].startswith("POST a JSON body such as")


def test_the_batch_action_reads_meetings_from_the_body_only(get_join_url, meeting):
    answer = get_join_url(params={"meetings": "x"}, action="batch")
    assert answer.status == 400 and answer.body["error"]["message"].startswith("POST a JSON body such as")
    answer = get_join_url("POST", params={"meetings": "x"}, body={"meetings": [by_id(meeting)]}, action="batch")
    assert answer.body["results"][0]["joinWebUrl"] == meeting.appointment_url


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


@pytest.mark.parametrize("meetings", [[], [{"meetingId": "MSpkYzE3"}] * 101, "MSpkYzE3", {"meetingId": "x"}])
def test_batch_size_and_shape_are_checked(get_join_url, emulator, meetings):
    answer = get_join_url("POST", body={"meetings": meetings})
    assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
    assert emulator.state.graph_requests == []


def test_batch_action_needs_meetings(get_join_url, emulator):
    answer = get_join_url("POST", body={"meetingId": "MSpkYzE3"}, action="batch")
    assert answer.status == 400
    assert "meetings" in answer.body["error"]["message"]


def test_single_call_still_works_beside_the_batch_route(get_join_url, meeting):
    assert get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}).status == 200


def test_batch_items_carry_accept_language(get_join_url, meeting, emulator):
    item = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    get_join_url("POST", body={"meetings": [item]}, headers={"Accept-Language": "de-DE"})
    [sent] = batch_calls(emulator)
    assert sent.body["requests"][0]["headers"] == {"Accept-Language": "de-DE"}


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


@pytest.mark.parametrize("given_by", ["meetingId", "joinUrl", "joinMeetingId"])
def test_duplicate_items_cost_one_graph_request_and_each_gets_its_result_in_order(
    get_join_url, meeting, emulator, given_by
):
    other = emulator.add_meeting(ORGANIZER_ID, join_meeting_id="400000000001")
    item_of = {
        "meetingId": by_id,
        "joinUrl": lambda m: {"joinUrl": m.teams_link},
        "joinMeetingId": lambda m: {"joinMeetingId": m.join_meeting_id, "organizerId": ORGANIZER_ID},
    }[given_by]
    order = [meeting] * 60 + [other] + [meeting] * 38 + [other]
    answer = get_join_url("POST", body={"meetings": [item_of(m) for m in order]})
    results = answer.body["results"]
    assert [r["joinWebUrl"] for r in results] == [m.appointment_url for m in order]
    assert [r["meetingId"] for r in results] == [m.meeting_id for m in order]
    assert [r["index"] for r in results] == list(range(len(order)))  # duplicates share an answer, not a result
    sent = inner_requests(emulator)
    steps = 1 if given_by == "meetingId" else 2  # a lookup, then the join URL
    assert len(sent) == len(set(sent)) == 2 * steps  # one request per distinct meeting, per step
    assert len(batch_calls(emulator)) == steps


def test_the_same_meeting_by_id_and_by_link_is_asked_for_once(get_join_url, meeting, emulator):
    items = [{"joinUrl": meeting.teams_link}, by_id(meeting), {"joinUrl": meeting.teams_link}]
    answer = get_join_url("POST", body={"meetings": items})
    assert [r["joinWebUrl"] for r in answer.body["results"]] == [meeting.appointment_url] * 3
    lookups, joins = [[item["url"] for item in sent.body["requests"]] for sent in batch_calls(emulator)]
    assert len(lookups) == 1 and len(joins) == 1


def test_a_throttled_duplicate_fails_alike_for_every_copy(get_join_url, meeting, emulator, configure):
    configure(GRAPH_MAX_RETRIES="0")
    emulator.state.batch_item_faults.append(Fault(status=429, retry_after="7"))
    answer = get_join_url("POST", body={"meetings": [by_id(meeting)] * 3})
    assert [r["error"]["retryAfterSeconds"] for r in answer.body["results"]] == [7] * 3
    assert len(inner_requests(emulator)) == 1


def test_a_batch_organizer_serves_the_items_that_name_none_after_their_links(
    get_join_url, meeting, emulator, configure
):
    """Order: the item's own organizerId, its link's Oid, the batch's organizerId, then DEFAULT_ORGANIZER_ID."""
    configure(DEFAULT_ORGANIZER_ID="nobody@contoso.example")
    other = emulator.add_meeting(ORGANIZER_ID, ORGANIZER_UPN, join_meeting_id="555666777888")
    items = [
        {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID},  # its own
        {"joinUrl": meeting.teams_link},  # its link's Oid (ORGANIZER_ID), not the batch's
        {"meetingId": other.meeting_id},  # the batch's, not DEFAULT_ORGANIZER_ID
        {"joinMeetingId": "555 666 777 888", "organizerId": ""},  # empty counts as left out: the batch's
    ]
    answer = get_join_url("POST", body={"meetings": items, "organizerId": ORGANIZER_UPN})
    assert [result.get("organizerId") for result in answer.body["results"]] == [
        ORGANIZER_ID,
        ORGANIZER_ID,
        ORGANIZER_UPN,
        ORGANIZER_UPN,
    ]
    assert all("joinWebUrl" in result for result in answer.body["results"]), answer.body


def test_a_batch_organizer_may_come_in_the_query_string(get_join_url, meeting):
    answer = get_join_url(
        "POST", params={"organizerId": ORGANIZER_ID}, body={"meetings": [{"meetingId": meeting.meeting_id}]}
    )
    [result] = answer.body["results"]
    assert (result["organizerId"], result["joinWebUrl"]) == (ORGANIZER_ID, meeting.appointment_url)


@pytest.mark.parametrize("organizer", ["not an organizer", 42])
def test_a_bad_batch_organizer_fails_the_whole_call(get_join_url, meeting, emulator, organizer):
    answer = get_join_url("POST", body={"meetings": [{"meetingId": meeting.meeting_id}], "organizerId": organizer})
    assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
    assert "organizerId must be" in answer.body["error"]["message"]
    assert emulator.state.identity_requests == [] and emulator.state.graph_requests == []


def test_a_batch_organizer_is_held_to_the_allowed_list(get_join_url, meeting, emulator, configure):
    configure(ALLOWED_ORGANIZER_IDS=ORGANIZER_ID)
    items = [{"meetingId": meeting.meeting_id}, {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}]
    answer = get_join_url("POST", body={"meetings": items, "organizerId": ORGANIZER_UPN})
    first, second = answer.body["results"]
    assert first["error"]["code"] == "OrganizerNotAllowed" and "joinWebUrl" in second
