"""shared/http.py, the edge every function goes through: fields from the query string and the body (a body value
left out does not hide the query string's), the body's size, the batch action, JSON answers with correlation headers
and no-store, and a fault of ours as a JSON 500 that names the function."""

from __future__ import annotations

import json
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import azure.functions as func
import pytest

from devhost.host import load_function
from shared.appointment_urls import BATCH_MAX_ITEMS
from shared.http import BODY_MAX_BYTES
from shared.validation import ORGANIZER_ID_MAX, TEAMS_LINK_MAX
from tests.conftest import APP_ROOT, ORGANIZER_ID, ORGANIZER_UPN, by_id

# --- fields from the query string and the body ------------------------------------------------------------------------


@pytest.mark.parametrize("left_out", [None, ""], ids=["null", "empty"])
@pytest.mark.parametrize("name", ["meetingId", "organizerId"])
def test_a_body_value_left_out_does_not_hide_the_query_strings(get_join_url, meeting, name, left_out):
    params = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_UPN}
    answer = get_join_url("POST", params=params, body={**params, name: left_out})
    assert answer.status == 200, answer.body
    assert (answer.body["meetingId"], answer.body["organizerId"]) == (meeting.meeting_id, ORGANIZER_UPN)


def test_a_body_value_still_wins_over_the_query_strings(get_join_url, meeting):
    answer = get_join_url(
        "POST",
        params={"organizerId": "someone@contoso.example"},
        body={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_UPN},
    )
    assert (answer.status, answer.body["organizerId"]) == (200, ORGANIZER_UPN)


def test_a_get_with_a_json_body_is_told_to_post_it(get_join_url, meeting, emulator):
    body = json.dumps({"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}).encode()
    answer = get_join_url("GET", raw_body=body)
    assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
    assert "reads only from a POST: send the same request with POST" in answer.body["error"]["message"]
    assert emulator.state.graph_requests == []
    assert get_join_url("POST", raw_body=body).status == 200  # the same body, posted


def test_a_get_with_an_empty_or_blank_body_reads_its_query_string(get_join_url, meeting):
    for body in (b"", b" \r\n"):
        answer = get_join_url(
            "GET", params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}, raw_body=body
        )
        assert answer.status == 200, body


# --- the body's size --------------------------------------------------------------------------------------------------


HUGE = 100_000_000  # about what the Functions host lets through (100 MB)


MEMORY_ALLOWANCE = 4 * BODY_MAX_BYTES  # what answering may take above the body itself


def huge_body() -> bytes:
    """One JSON string of 100 MB: parsing it takes two copies and a while, so a test that fails does so fast."""
    return b'{"meetings": "' + b"x" * HUGE + b'"}'


@contextmanager
def peak_memory() -> Iterator[Callable[[], int]]:
    """Bytes allocated at the peak inside the block, above what was allocated when it began, as tracemalloc sees them:
    every Python allocation on every thread of this process."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        peak: list[int] = []
        yield lambda: peak[0]
        peak.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()


def test_a_100_mb_body_is_refused_before_it_is_parsed(get_join_url, emulator):
    body = huge_body()
    with peak_memory() as peak:
        started = time.monotonic()
        answer = get_join_url("POST", raw_body=body)
        elapsed = time.monotonic() - started
    assert (answer.status, answer.body["error"]["code"]) == (413, "RequestTooLarge")
    assert f"{len(body):,} bytes" in answer.body["error"]["message"]
    assert peak() < MEMORY_ALLOWANCE  # parsing it took two 100 MB copies, and gigabytes for a batch of items
    assert elapsed < 1.0  # parsing it took seconds
    assert emulator.state.identity_requests == [] and emulator.state.graph_requests == []


def test_a_declared_content_length_over_the_limit_is_refused_without_reading_the_body(get_join_url, emulator):
    answer = get_join_url("POST", raw_body=b'{"meetingId": "MSpkYzE3"}', headers={"content-length": str(HUGE)})
    assert (answer.status, answer.body["error"]["code"]) == (413, "RequestTooLarge")
    assert emulator.state.graph_requests == []


@pytest.mark.parametrize("declared", ["", "12", "-5", "1e9", "\u00b2", "9" * 30])
def test_a_content_length_that_is_no_size_over_the_limit_goes_by_the_body(get_join_url, meeting, declared):
    body = json.dumps({"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}).encode()
    headers = {"content-length": declared} if declared else {}
    answer = get_join_url("POST", raw_body=body, headers=headers)
    assert answer.status == (413 if declared == "9" * 30 else 200)


def test_the_largest_valid_batch_is_well_under_the_limit(get_join_url, emulator):
    link = "https://teams.microsoft.com/l/meetup-join/"
    organizer = "a" * 64 + "@" + "b" * 40 + ".example"
    assert len(organizer) == ORGANIZER_ID_MAX
    items = [
        {"joinUrl": link + f"{i:03}" + "x" * (TEAMS_LINK_MAX - len(link) - 3), "organizerId": organizer}
        for i in range(BATCH_MAX_ITEMS)
    ]
    body = json.dumps({"meetings": items}, indent=2).encode()
    assert len(body) * 4 < BODY_MAX_BYTES
    answer = get_join_url("POST", raw_body=body)
    assert answer.status == 200
    assert len(answer.body["results"]) == BATCH_MAX_ITEMS


# --- the batch action -------------------------------------------------------------------------------------------------


def test_single_call_still_works_beside_the_batch_route(get_join_url, meeting):
    assert get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}).status == 200


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


@pytest.mark.parametrize("where", ["body", "query string"])
@pytest.mark.parametrize("name", ["meetingId", "joinUrl", "joinMeetingId"])
def test_a_meeting_beside_a_batch_is_refused_not_dropped(get_join_url, meeting, emulator, name, where):
    beside = {name: "x"}
    body = {"meetings": [by_id(meeting)], "organizerId": ORGANIZER_ID, **(beside if where == "body" else {})}
    answer = get_join_url("POST", params=beside if where == "query string" else None, body=body)
    assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
    assert answer.body["error"]["message"].startswith(f"{name} came beside meetings: a batch reads its meetings from")
    assert emulator.state.graph_requests == []


def test_batch_action_needs_meetings(get_join_url, emulator):
    answer = get_join_url("POST", body={"meetingId": "MSpkYzE3"}, action="batch")
    assert answer.status == 400
    message = answer.body["error"]["message"]
    assert message.startswith("The batch action reads meetings, and this request holds meetingId instead")
    assert "send one meeting to /api/GetJoinUrl" in message
    assert emulator.state.graph_requests == []


def test_unknown_action_is_404(get_join_url, emulator):
    answer = get_join_url(params={"meetingId": "MSpkYzE3", "organizerId": ORGANIZER_ID}, action="frobnicate")
    assert (answer.status, answer.body["error"]["code"]) == (404, "NotFound")


# --- every answer -----------------------------------------------------------------------------------------------------


def test_every_error_is_json_with_correlation_headers(get_join_url, emulator):
    answer = get_join_url(params={})
    assert answer.status == 400
    assert set(answer.body) == {"error"} and set(answer.body["error"]) == {"code", "message"}
    assert uuid.UUID(answer.headers["client-request-id"])
    assert answer.headers["Cache-Control"] == "no-store"


def test_every_answer_says_no_store(get_join_url, meeting):
    ok = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    bad = get_join_url(params={"meetingId": "../x", "organizerId": ORGANIZER_ID})
    batch = get_join_url("POST", body={"meetings": [{"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}]})
    assert {a.headers["Cache-Control"] for a in (ok, bad, batch)} == {"no-store"}


def test_a_fault_of_ours_still_answers_json(get_join_url, meeting, monkeypatch, logs):
    from shared import appointment_urls

    def broken(self, fields, invocation):
        raise RuntimeError("boom")

    monkeypatch.setattr(appointment_urls.AppointmentUrlService, "resolve", broken)
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (500, "InternalError")
    assert answer.headers["client-request-id"] in logs.text
    assert "RuntimeError: boom" in logs.text  # the traceback is logged, not returned
    assert "boom" not in answer.body["error"]["message"]
    assert answer.body["error"]["message"].startswith("GetJoinUrl failed unexpectedly.")


@pytest.mark.parametrize(
    ("name", "module", "step"), [("Diagnose", "diagnosis", "_run"), ("OpenApi", "openapi", "_variant")]
)
def test_every_function_answers_a_fault_of_its_own_as_json_naming_it(configure, monkeypatch, logs, name, module, step):
    """Diagnose and OpenApi go through the same edge as GetJoinUrl: a fault is a JSON 500 that names the function."""
    import importlib

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(importlib.import_module(f"shared.{module}"), step, broken)
    entry, _ = load_function(name, APP_ROOT)
    response = entry(
        func.HttpRequest(method="GET", url=f"http://localhost:7071/api/{name.lower()}", headers={}, params={}, body=b"")
    )
    assert (response.status_code, response.mimetype) == (500, "application/json")
    error = json.loads(response.get_body())["error"]
    assert error["code"] == "InternalError" and error["message"].startswith(f"{name} failed unexpectedly.")
    assert "RuntimeError: boom" in logs.text and "boom" not in error["message"]
