"""Issue 7: organizer allow-list, answers no cache keeps, and one structured log line per invocation."""

from __future__ import annotations

import json
import logging

import azure.functions as func

from devhost.emulator import Fault
from devhost.host import load_function
from tests.conftest import APP_ROOT, ORGANIZER_ID, ORGANIZER_UPN


def invocation_records(logs):
    return [r for r in logs.records if getattr(r, "getjoinurl", {}).get("event") == "invocation"]


def test_allow_list_admits_listed_organizers_case_insensitively(get_join_url, meeting, configure):
    configure(ALLOWED_ORGANIZER_IDS=f" {ORGANIZER_UPN.upper()} , 00000000-0000-0000-0000-000000000001")
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_UPN})
    assert answer.status == 200


def test_allow_list_refuses_others_before_any_token_or_graph_call(get_join_url, meeting, configure, emulator):
    configure(ALLOWED_ORGANIZER_IDS="someone.else@contoso.example")
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (403, "OrganizerNotAllowed")
    assert emulator.state.identity_requests == [] and emulator.state.graph_requests == []


def test_allow_list_applies_to_batch_items_and_implied_organizers(get_join_url, meeting, configure, emulator):
    configure(ALLOWED_ORGANIZER_IDS=ORGANIZER_UPN)
    answer = get_join_url(
        "POST",
        body={
            "meetings": [
                {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_UPN},
                {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID},
                {"joinUrl": meeting.teams_link},  # its Oid is not on the list
            ]
        },
    )
    results = answer.body["results"]
    assert results[0]["joinWebUrl"] == meeting.appointment_url
    assert results[1]["error"]["code"] == "OrganizerNotAllowed"
    assert results[2]["error"]["code"] == "OrganizerNotAllowed"


def test_a_refused_organizer_is_named_with_where_it_came_from_and_the_form_to_add(get_join_url, meeting, configure):
    """The README's own example lists user principal names; a classic link names its organizer by object ID only,
    so the 403 says the organizer came from the link and that its object ID is the form to add."""
    configure(
        ALLOWED_ORGANIZER_IDS=f"{ORGANIZER_UPN},adele@contoso.com", DEFAULT_ORGANIZER_ID="default@contoso.example"
    )
    by_link = get_join_url("POST", body={"joinUrl": meeting.teams_link}).body["error"]
    assert by_link["code"] == "OrganizerNotAllowed"
    assert (
        f"Organizer {ORGANIZER_ID}, the object ID (Oid) in the Teams link's context, since no organizerId"
        in (by_link["message"])
    )
    assert f"Add the object ID {ORGANIZER_ID} to ALLOWED_ORGANIZER_IDS" in by_link["message"]
    assert "holds the organizer's user principal name alone does not match it" in by_link["message"]

    sent = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}).body["error"]["message"]
    assert f"Organizer {ORGANIZER_ID}, the organizerId sent, is not in" in sent
    assert f"Add {ORGANIZER_ID} to ALLOWED_ORGANIZER_IDS as it was sent" in sent

    by_default = get_join_url(params={"meetingId": meeting.meeting_id}).body["error"]["message"]
    assert "Organizer default@contoso.example, the app setting DEFAULT_ORGANIZER_ID, since the call" in by_default
    assert "as DEFAULT_ORGANIZER_ID holds it, or set DEFAULT_ORGANIZER_ID" in by_default

    batch = {"meetings": [{"meetingId": meeting.meeting_id}], "organizerId": "batch@contoso.example"}
    [item] = get_join_url("POST", body=batch).body["results"]
    assert (
        "Organizer batch@contoso.example, the batch's organizerId, since the item names no organizer"
        in (item["error"]["message"])
    )


def test_listing_both_forms_serves_a_link_and_a_named_organizer(get_join_url, meeting, configure):
    configure(ALLOWED_ORGANIZER_IDS=f"{ORGANIZER_UPN},{ORGANIZER_ID}")
    assert get_join_url("POST", body={"joinUrl": meeting.teams_link}).status == 200
    assert get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_UPN}).status == 200


def test_bad_allow_list_is_a_configuration_error(get_join_url, configure):
    configure(ALLOWED_ORGANIZER_IDS="alice@contoso.example, not an id")
    answer = get_join_url(params={"meetingId": "MSpkYzE3", "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (500, "ConfigurationError")
    assert "ALLOWED_ORGANIZER_IDS" in answer.body["error"]["message"]


def test_every_answer_says_no_store(get_join_url, meeting):
    ok = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    bad = get_join_url(params={"meetingId": "../x", "organizerId": ORGANIZER_ID})
    batch = get_join_url("POST", body={"meetings": [{"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}]})
    assert {a.headers["Cache-Control"] for a in (ok, bad, batch)} == {"no-store"}


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
