"""shared/logs.py: one structured line per invocation naming the function that answered, retries as warnings, the
correlation IDs on each line; never a token, and no join URL at INFO or above."""

from __future__ import annotations

import json
import logging

import azure.functions as func

from devhost.emulator.state import Fault
from devhost.host import load_function
from tests.conftest import APP_ROOT, ORGANIZER_ID


def invocation_records(logs):
    return [r for r in logs.records if getattr(r, "getjoinurl", {}).get("event") == "invocation"]


def test_one_structured_line_per_invocation(get_join_url, meeting, logs):
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    [record] = invocation_records(logs)
    assert record.levelno == logging.INFO
    fields = json.loads(record.getMessage())
    assert fields == record.getjoinurl
    assert fields["clientRequestId"] == answer.headers["client-request-id"]
    assert fields["graphRequestId"] == answer.headers["request-id"]
    assert (fields["outcome"], fields["status"], fields["graphAttempts"]) == ("OK", 200, 1)
    assert fields["durationMs"] >= 0


def test_each_line_names_the_function_that_answered(get_join_url, diagnose, meeting, logs):
    """OpenApi and Diagnose share the log with GetJoinUrl: a query for GetJoinUrl's calls must tell them apart."""
    openapi, _ = load_function("OpenApi", APP_ROOT)
    get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    get_join_url(params={"meetingId": "../x", "organizerId": ORGANIZER_ID})
    diagnose(organizerId=ORGANIZER_ID)
    openapi(func.HttpRequest(method="GET", url="http://localhost:7071/api/openapi.json", params={}, body=b""))
    lines = [record.getjoinurl for record in invocation_records(logs)]
    assert [(line["function"], line["outcome"]) for line in lines] == [
        ("GetJoinUrl", "OK"),
        ("GetJoinUrl", "InvalidRequest"),
        ("Diagnose", "OK"),
        ("OpenApi", "OK"),
    ]
    assert all(
        json.loads(record.getMessage())["function"] == record.getjoinurl["function"]
        for record in logs.records
        if hasattr(record, "getjoinurl")
    )


def test_failures_are_logged_with_their_code(get_join_url, meeting, logs):
    get_join_url(params={"meetingId": "MSpub3RoZXJl", "organizerId": ORGANIZER_ID})
    [record] = invocation_records(logs)
    assert (record.getjoinurl["outcome"], record.getjoinurl["status"]) == ("MeetingNotFound", 404)


def test_retries_are_warnings_with_the_correlation_fields(get_join_url, meeting, emulator, logs):
    emulator.state.graph_faults.append(Fault(status=503, retry_after="0"))
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    warnings = [r for r in logs.records if r.levelno == logging.WARNING and r.name == "getjoinurl"]
    assert [w.getjoinurl["event"] for w in warnings] == ["graphRetry"]
    assert warnings[0].getjoinurl["clientRequestId"] == answer.headers["client-request-id"]
    assert warnings[0].getjoinurl["reason"] == "HTTP 503"
    assert invocation_records(logs)[0].getjoinurl["graphAttempts"] == 2


def test_batch_line_counts_items(get_join_url, meeting, logs):
    get_join_url("POST", body={"meetings": [{"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}, {"x": 1}]})
    [record] = invocation_records(logs)
    assert (record.getjoinurl["items"], record.getjoinurl["failedItems"]) == (2, 1)


def test_no_token_in_answers_or_logs(get_join_url, meeting, emulator, logs):
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    [token] = emulator.state.tokens
    assert token not in str(answer.headers) + str(answer.body)
    assert token not in logs.text
    assert meeting.appointment_url not in logs.text


def test_no_token_at_any_level_and_no_join_url_at_info(get_join_url, meeting, emulator, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, azure-identity and azure-core included
    get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    get_join_url(params={"joinUrl": meeting.teams_link, "organizerId": ORGANIZER_ID})
    assert emulator.state.tokens and caplog.records
    for token in emulator.state.tokens:
        assert token not in caplog.text
    assert emulator.identity_header not in caplog.text
    loud = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert meeting.appointment_url not in loud and meeting.teams_link not in loud
