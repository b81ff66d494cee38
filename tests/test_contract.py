"""Issue 3: the HTTP contract, end to end over loopback HTTP to the emulated Graph and identity endpoint."""

from __future__ import annotations

import json
import uuid
from urllib.parse import unquote

import azure.functions as func
import pytest

from tests.conftest import APP_ROOT, ORGANIZER_ID, ORGANIZER_UPN


def test_get_answers_the_join_url(get_join_url, meeting, emulator):
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert answer.status == 200
    assert answer.body == {
        "joinWebUrl": meeting.appointment_url,
        "meetingId": meeting.meeting_id,
        "organizerId": ORGANIZER_ID,
    }
    assert answer.headers["Cache-Control"] == "no-store"
    [sent] = emulator.graph_calls()
    assert sent.method == "GET"
    assert sent.target.startswith(f"/v1.0/users/{ORGANIZER_ID}/onlineMeetings/")
    assert sent.target.endswith("/getVirtualAppointmentJoinWebUrl")
    assert answer.headers["request-id"]  # Graph's, for Microsoft support


def test_post_body_and_upn_organizer(get_join_url, meeting, emulator):
    answer = get_join_url("POST", body={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_UPN})
    assert answer.status == 200
    assert answer.body["organizerId"] == ORGANIZER_UPN
    assert answer.body["joinWebUrl"] == meeting.appointment_url
    [sent] = emulator.graph_calls()
    assert f"/users/{ORGANIZER_UPN.replace('@', '%40')}/" in sent.target


def test_every_path_segment_is_percent_encoded(get_join_url, meeting, emulator):
    assert meeting.meeting_id.endswith("=")
    get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_UPN})
    [sent] = emulator.graph_calls()
    assert "%3D" in sent.target and "=" not in sent.target.split("?")[0]
    assert unquote(sent.target.split("/")[5]) == meeting.meeting_id


def test_default_organizer_from_settings(get_join_url, meeting, configure):
    configure(DEFAULT_ORGANIZER_ID=ORGANIZER_UPN)
    answer = get_join_url(params={"meetingId": meeting.meeting_id})
    assert answer.status == 200
    assert answer.body["organizerId"] == ORGANIZER_UPN


def test_missing_organizer_without_default_is_400(get_join_url, meeting, emulator):
    answer = get_join_url(params={"meetingId": meeting.meeting_id})
    assert answer.status == 400
    assert answer.body["error"]["code"] == "InvalidRequest"
    assert "DEFAULT_ORGANIZER_ID" in answer.body["error"]["message"]
    assert emulator.state.graph_requests == []


def test_beta_api_version(get_join_url, meeting, configure, emulator):
    configure(GRAPH_API_VERSION="beta")
    assert get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}).status == 200
    assert emulator.graph_calls()[0].target.startswith("/beta/users/")


def test_accept_language_and_client_request_id_pass_through(get_join_url, meeting, emulator):
    request_id = str(uuid.uuid4())
    answer = get_join_url(
        params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID},
        headers={"client-request-id": request_id, "Accept-Language": "fr-FR"},
    )
    assert answer.headers["client-request-id"] == request_id
    sent = emulator.graph_calls()[0].headers
    assert sent["client-request-id"] == request_id
    assert sent["Accept-Language"] == "fr-FR"


def test_a_client_request_id_is_made_when_none_or_junk_is_given(get_join_url, meeting, emulator):
    answer = get_join_url(
        params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID},
        headers={"client-request-id": "not a guid\r\nX-Evil: 1"},
    )
    made = answer.headers["client-request-id"]
    assert uuid.UUID(made) and made == emulator.graph_calls()[0].headers["client-request-id"]


def test_token_is_fetched_once_for_twenty_calls(get_join_url, meeting, emulator):
    for _ in range(20):
        assert get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}).status == 200
    assert len(emulator.state.identity_requests) == 1
    sent = emulator.state.identity_requests[0]
    assert "api-version=2019-08-01" in sent.target
    assert f"resource={emulator.base_url}" in sent.target  # the scope follows GRAPH_BASE_URL, less /.default
    assert sent.headers["X-IDENTITY-HEADER"] == emulator.identity_header


def test_graph_scope_follows_graph_base_url(configure, emulator):
    from shared.settings import Settings

    assert Settings.from_env({"GRAPH_BASE_URL": "https://graph.microsoft.us/"}).graph_scope == (
        "https://graph.microsoft.us/.default"
    )


def test_no_token_in_answers_or_logs(get_join_url, meeting, emulator, logs):
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    [token] = emulator.state.tokens
    assert token not in str(answer.headers) + str(answer.body)
    assert token not in logs.text
    assert meeting.appointment_url not in logs.text


# --- the error table -----------------------------------------------------------------------------------------


def test_unknown_meeting_is_404(get_join_url, meeting):
    answer = get_join_url(params={"meetingId": "MSpub3RoZXJlCg==", "organizerId": ORGANIZER_ID})
    assert answer.status == 404
    assert answer.body["error"]["code"] == "MeetingNotFound"
    assert answer.headers["request-id"]


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


def test_an_unknown_meeting_names_the_organizer_as_a_possible_cause_too(get_join_url, meeting):
    answer = get_join_url(params={"meetingId": "MSpub3RoZXJlCg==", "organizerId": ORGANIZER_ID})
    assert "Check the meeting ID, and organizerId" in answer.body["error"]["message"]


def test_token_graph_rejects_is_403(get_join_url, meeting, emulator):
    get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    emulator.state.tokens.clear()  # Graph no longer accepts the cached token: it answers 401
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (403, "GraphAccessDenied")
    assert "HTTP 401" in answer.body["error"]["message"]


def test_graph_400_is_graph_bad_request(get_join_url, meeting, emulator):
    from devhost.emulator import Fault

    emulator.state.graph_faults.append(Fault(status=400))
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (400, "GraphBadRequest")


@pytest.mark.parametrize(
    "body",
    [b"<html>oops</html>", b'{"value": 42}', b'{"value": "javascript:alert(1)"}', b"[]"],
    ids=["html", "number", "not-https", "list"],
)
def test_unusable_graph_answer_is_502(get_join_url, meeting, emulator, body):
    from devhost.emulator import Fault

    emulator.state.graph_faults.append(Fault(status=200, body=body))
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (502, "GraphError")


def test_unexpected_graph_status_is_502(get_join_url, meeting, emulator):
    from devhost.emulator import Fault

    emulator.state.graph_faults.append(Fault(status=500))
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (502, "GraphError")
    assert len(emulator.state.graph_requests) == 1  # a 500 is not retried


# --- bad input never reaches Graph ---------------------------------------------------------------------------

HOSTILE_MEETING_IDS = [
    "",
    "../../me",
    "..%2F..%2Fme",
    "abc/def",
    "abc?x=1",
    "abc#frag",
    "abc%2Fdef",
    "abc%00",
    "abc\x00def",
    "abc\r\nX-Injected: 1",
    "abc def",
    "abc\tdef",
    "a" * 1025,
    "\uff2d\uff33\uff50",  # fullwidth letters
    "MSp\u200bkYz",  # zero-width space
    "MSpkYz\u0130",  # dotted capital I
    "мeeting",  # Cyrillic
    "abc'def",
    'abc"def',
    "abc\n",
    "$batch",
    "%2e%2e",
]

HOSTILE_ORGANIZERS = [
    "../users",
    "user@contoso.example/../../x",
    "user@contoso.example?x=1",
    "user@contoso.example#x",
    "user%40contoso.example",
    "user@contoso",
    "@contoso.example",
    "user@@contoso.example",
    "user@contoso.example\r\n",
    "user\x00@contoso.example",
    "a" * 100 + "@contoso.example",
    "user@contoso.éxample",
    "8b1f6c3e-2a4d-4e9b-a7c1-5d3e2f1a0b9",
    "8b1f6c3e2a4d4e9ba7c15d3e2f1a0b9c",
    " user@contoso.example",
    "me",
]


@pytest.mark.parametrize("value", HOSTILE_MEETING_IDS, ids=range(len(HOSTILE_MEETING_IDS)))
def test_hostile_meeting_ids_are_400_with_no_graph_call(get_join_url, emulator, value):
    for method in ("GET", "POST"):
        if method == "POST" and value != value.strip():
            continue  # a body's value is trimmed first (tests/test_caller_input.py); a query string's is not
        if method == "GET":
            answer = get_join_url(params={"meetingId": value, "organizerId": ORGANIZER_ID})
        else:
            answer = get_join_url("POST", body={"meetingId": value, "organizerId": ORGANIZER_ID})
        assert answer.status == 400, (method, value)
        assert answer.body["error"]["code"] == "InvalidRequest"
    assert emulator.state.graph_requests == [] and emulator.state.identity_requests == []


@pytest.mark.parametrize("value", HOSTILE_ORGANIZERS, ids=range(len(HOSTILE_ORGANIZERS)))
def test_hostile_organizers_are_400_with_no_graph_call(get_join_url, emulator, value):
    answer = get_join_url(params={"meetingId": "MSpkYzE3", "organizerId": value})
    assert answer.status == 400, value
    assert answer.body["error"]["code"] == "InvalidRequest"
    assert emulator.state.graph_requests == [] and emulator.state.identity_requests == []


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'"meetingId"', b"\xff\xfe\x00", b"null", b"[" * 100_000 + b"]" * 100_000],
    ids=["broken", "array", "string", "bad-utf8", "null", "deeply-nested"],
)
def test_malformed_bodies_are_400(get_join_url, emulator, raw):
    answer = get_join_url("POST", raw_body=raw)
    assert answer.status == 400
    assert answer.body["error"]["code"] == "InvalidRequest"
    assert emulator.state.graph_requests == []


def test_non_string_meeting_id_is_400(get_join_url, emulator):
    answer = get_join_url("POST", body={"meetingId": 12345, "organizerId": ORGANIZER_ID})
    assert answer.status == 400
    assert "string" in answer.body["error"]["message"]


def test_unknown_action_is_404(get_join_url, emulator):
    answer = get_join_url(params={"meetingId": "MSpkYzE3", "organizerId": ORGANIZER_ID}, action="frobnicate")
    assert (answer.status, answer.body["error"]["code"]) == (404, "NotFound")


def test_every_error_is_json_with_correlation_headers(get_join_url, emulator):
    answer = get_join_url(params={})
    assert answer.status == 400
    assert set(answer.body) == {"error"} and set(answer.body["error"]) == {"code", "message"}
    assert uuid.UUID(answer.headers["client-request-id"])
    assert answer.headers["Cache-Control"] == "no-store"


def test_bad_setting_is_a_500_that_names_it(get_join_url, configure, emulator):
    configure(GRAPH_TIMEOUT_SECONDS="soon")
    answer = get_join_url(params={"meetingId": "MSpkYzE3", "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (500, "ConfigurationError")
    assert "GRAPH_TIMEOUT_SECONDS" in answer.body["error"]["message"]


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

    from devhost.host import load_function

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
