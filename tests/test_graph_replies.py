"""shared/graph_replies.py: what Graph's answers mean for the caller. A 404 names the meeting or organizer to check,
Graph's 400 is GraphBadRequest, a token Graph refuses is GraphAccessDenied, anything unusable or unexpected is a 502
GraphError, and a 503 always carries a wait."""

from __future__ import annotations

import pytest

from devhost.emulator.state import Fault
from shared.retry import OUTAGE_RETRY_AFTER_SECONDS
from tests.conftest import ORGANIZER_ID, by_id

# --- not found --------------------------------------------------------------------------------------------------------


def test_unknown_meeting_is_404(get_join_url, meeting):
    answer = get_join_url(params={"meetingId": "MSpub3RoZXJlCg==", "organizerId": ORGANIZER_ID})
    assert answer.status == 404
    assert answer.body["error"]["code"] == "MeetingNotFound"
    assert answer.headers["request-id"]


def test_an_unknown_meeting_names_the_organizer_as_a_possible_cause_too(get_join_url, meeting):
    answer = get_join_url(params={"meetingId": "MSpub3RoZXJlCg==", "organizerId": ORGANIZER_ID})
    assert "Check the meeting ID, and organizerId" in answer.body["error"]["message"]


@pytest.mark.parametrize("given_by", ["meetingId", "joinUrl", "batch"])
def test_an_organizer_graph_does_not_know_is_named_as_the_cause(get_join_url, meeting, given_by):
    nobody = "nobody@contoso.example"
    request = {
        "meetingId": {"params": {"meetingId": meeting.meeting_id, "organizerId": nobody}},
        "joinUrl": {"params": {"joinUrl": meeting.teams_link, "organizerId": nobody}},
        "batch": {"method": "POST", "body": {"meetings": [{"meetingId": meeting.meeting_id, "organizerId": nobody}]}},
    }[given_by]
    answer = get_join_url(**request)
    error = answer.body["results"][0]["error"] if given_by == "batch" else answer.body["error"]
    assert error["code"] == "MeetingNotFound"
    assert error["message"].startswith(f"Graph knows no user {nobody} in this tenant")
    assert "Check organizerId" in error["message"]
    assert "Check the meeting ID" not in error["message"]


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


# --- refused, unusable or unavailable ---------------------------------------------------------------------------------


def test_graph_400_is_graph_bad_request(get_join_url, meeting, emulator):
    emulator.state.graph_faults.append(Fault(status=400))
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (400, "GraphBadRequest")


def test_token_graph_rejects_is_403(get_join_url, meeting, emulator):
    get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    emulator.state.tokens.clear()  # Graph no longer accepts the cached token: it answers 401
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (403, "GraphAccessDenied")
    assert "HTTP 401" in answer.body["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [b"<html>oops</html>", b'{"value": 42}', b'{"value": "javascript:alert(1)"}', b"[]"],
    ids=["html", "number", "not-https", "list"],
)
def test_unusable_graph_answer_is_502(get_join_url, meeting, emulator, body):
    emulator.state.graph_faults.append(Fault(status=200, body=body))
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (502, "GraphError")


def test_graph_answering_absurdly_nested_json_is_graph_error(get_join_url, meeting, emulator):
    emulator.state.graph_faults.append(Fault(status=200, body=b"[" * 100_000))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (502, "GraphError")


def test_unexpected_graph_status_is_502(get_join_url, meeting, emulator):
    emulator.state.graph_faults.append(Fault(status=500))
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (502, "GraphError")
    assert len(emulator.state.graph_requests) == 1  # a 500 is not retried


def test_a_redirect_is_not_followed_with_the_token(get_join_url, meeting, emulator):
    elsewhere = emulator.base_url + "/v1.0/elsewhere"
    emulator.state.graph_faults.append(Fault(status=302, headers={"Location": elsewhere}))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (502, "GraphError")
    assert len(emulator.state.graph_requests) == 1


@pytest.mark.parametrize("status", [503, 504])
@pytest.mark.parametrize("where", ["single", "whole-batch", "batch-item"])
def test_graph_unavailable_without_a_retry_after_carries_a_wait(
    get_join_url, meeting, configure, emulator, status, where
):
    """A 503 of ours always says how long to wait, in the header and the body, as 429 and 504 do: when Graph named
    no wait, the one the function suggests for an outage it measured itself."""
    configure(GRAPH_MAX_RETRIES="0")
    faults = emulator.state.batch_item_faults if where == "batch-item" else emulator.state.graph_faults
    faults.append(Fault(status=status))
    item = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    if where == "single":
        answer = get_join_url(params=item)
        assert answer.headers["Retry-After"] == str(OUTAGE_RETRY_AFTER_SECONDS)
        error = answer.body["error"]
    else:
        error = get_join_url("POST", body={"meetings": [item]}).body["results"][0]["error"]
    assert (error["code"], error["retryAfterSeconds"]) == ("GraphUnavailable", OUTAGE_RETRY_AFTER_SECONDS)
    assert f"Try again in {OUTAGE_RETRY_AFTER_SECONDS} seconds." in error["message"]
