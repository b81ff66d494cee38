"""What callers really send: names a case or a typo away from the function's, values with whitespace from copy and
paste, a GET that carries a body, and a meeting number written as a very long JSON number."""

from __future__ import annotations

import json

import pytest

from shared.field_names import near_miss
from shared.graph_paths import appointment_url_path
from shared.http import REQUEST_FIELDS
from tests.conftest import ORGANIZER_ID, ORGANIZER_UPN

# --- names ------------------------------------------------------------------------------------------------------

NEAR_MISSES = [
    ("MeetingId", "meetingId"),  # case
    ("MEETINGID", "meetingId"),
    ("organizerid", "organizerId"),
    ("OrganizerID", "organizerId"),
    ("organiserId", "organizerId"),  # British spelling: one letter changed
    ("orgnizerId", "organizerId"),  # one left out
    ("organizerIdd", "organizerId"),  # one added
    ("joinUlr", "joinUrl"),  # two neighbours swapped
    ("joinURL", "joinUrl"),
    ("join_url", "joinUrl"),  # a separator
    ("meeting-id", "meetingId"),
    ("Join Meeting ID", "joinMeetingId"),
    ("joinMeetingIds", "joinMeetingId"),
    ("Meetings", "meetings"),
    ("meeting", "meetings"),
]
# Realistic webhook and Graph field names, which the function ignores.
IGNORED = [
    "code",  # the function key in a query string
    "id",
    "subject",
    "startTime",
    "endTime",
    "customerEmail",
    "customerName",
    "serviceName",
    "staffMembers",
    "selfServiceAppointmentId",
    "joinWebUrl",  # Graph's name for the link, and this function's answer's: three edits from joinUrl
    "JoinWebURL",  # the Bookings trigger's
    "onlineMeetingUrl",
    "onlineMeetingId",
    "organizer",  # two edits from organizerId: an Outlook event's organizer object
    "settingId",  # two from meetingId
    "chatInfo",
    "joinMeetingIdSettings",
    "meetingUrl",
    "eventId",
]


@pytest.mark.parametrize(("name", "meant"), NEAR_MISSES)
def test_a_near_miss_is_known_by_case_separators_or_one_edit(name, meant):
    assert near_miss(name, REQUEST_FIELDS) == meant


@pytest.mark.parametrize("name", IGNORED + list(REQUEST_FIELDS))
def test_other_names_and_the_known_ones_are_no_near_miss(name):
    assert near_miss(name, REQUEST_FIELDS) is None


@pytest.mark.parametrize(("name", "meant"), [("MeetingId", "meetingId"), ("organizerid", "organizerId")])
@pytest.mark.parametrize("where", ["body", "query"])
def test_a_near_miss_in_a_body_or_query_string_is_400_naming_both(get_join_url, meeting, emulator, name, meant, where):
    fields = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    fields[name] = fields.pop(meant)
    answer = get_join_url("POST", body=fields) if where == "body" else get_join_url(params=fields)
    assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
    message = answer.body["error"]["message"]
    said = "The request body" if where == "body" else "The query string"
    assert message.startswith(f"{said} has '{name}', which this function does not read: it reads '{meant}'")
    assert f"Rename it to {meant}." in message
    assert emulator.state.graph_requests == []


def test_a_near_miss_in_a_batch_item_fails_that_item_alone(get_join_url, meeting):
    answer = get_join_url(
        "POST",
        body={
            "meetings": [
                {"MeetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID},
                {"joinUrl": meeting.teams_link},
            ]
        },
    )
    first, second = answer.body["results"]
    assert first["error"]["code"] == "InvalidRequest" and "'MeetingId'" in first["error"]["message"]
    assert second["joinWebUrl"] == meeting.appointment_url


def test_a_webhooks_own_fields_and_the_function_key_are_ignored(get_join_url, meeting):
    extras = {name: "x" for name in IGNORED}
    answer = get_join_url("POST", params={"code": "key"}, body={**extras, "joinUrl": meeting.teams_link})
    assert answer.status == 200, answer.body
    assert answer.body["joinWebUrl"] == meeting.appointment_url


@pytest.mark.parametrize("name", ["joinWebUrl", "JoinWebURL"])
def test_a_link_sent_as_join_web_url_alone_is_told_to_send_join_url(get_join_url, meeting, name):
    answer = get_join_url("POST", body={name: meeting.teams_link})
    assert answer.status == 400
    message = answer.body["error"]["message"]
    assert message.startswith("Send one of meetingId") and f"This call has {name}" in message
    assert "send a Teams join link as joinUrl" in message


# --- whitespace -------------------------------------------------------------------------------------------------


def test_surrounding_whitespace_is_trimmed_from_every_body_field_and_graph_gets_the_clean_value(
    get_join_url, meeting, emulator
):
    answer = get_join_url(
        "POST", body={"meetingId": "\t" + meeting.meeting_id + " \n", "organizerId": ORGANIZER_UPN + " "}
    )
    assert (answer.status, answer.body["meetingId"], answer.body["organizerId"]) == (
        200,
        meeting.meeting_id,
        ORGANIZER_UPN,
    )
    [sent] = emulator.graph_calls()
    path = appointment_url_path(ORGANIZER_UPN, meeting.meeting_id)  # no %20, %09 or %0A in it
    assert sent.target == f"/v1.0{path}"


def test_a_link_with_a_trailing_newline_and_a_number_grouped_by_no_break_spaces_are_read(
    get_join_url, meeting, emulator
):
    by_link = get_join_url("POST", body={"joinUrl": meeting.teams_link + "\r\n"})
    assert by_link.status == 200, by_link.body
    for grouped in ("123\u00a0456\u00a0789\u00a0012", "123\u202f456\u2009789 012", "\u3000123456789012\u00a0"):
        answer = get_join_url("POST", body={"joinMeetingId": grouped, "organizerId": ORGANIZER_ID})
        assert answer.status == 200, (grouped, answer.body)
    lookups = [r.target for r in emulator.graph_calls() if "joinMeetingIdSettings" in r.target]
    assert len(lookups) == 3 and all("%27123456789012%27" in target for target in lookups)  # the digits alone


def test_batch_items_and_the_batch_organizer_are_trimmed_too(get_join_url, meeting):
    answer = get_join_url(
        "POST",
        body={"meetings": [{"meetingId": f" {meeting.meeting_id}\n"}], "organizerId": f"\u00a0{ORGANIZER_ID}\t"},
    )
    [result] = answer.body["results"]
    assert (result["organizerId"], result["joinWebUrl"]) == (ORGANIZER_ID, meeting.appointment_url)


def test_a_query_string_value_is_taken_as_sent_and_a_space_in_a_meeting_id_keeps_its_hint(get_join_url, emulator):
    answer = get_join_url(params={"meetingId": "MSpk YzE3", "organizerId": ORGANIZER_ID})
    assert answer.status == 400 and "what a query string makes of a '+'" in answer.body["error"]["message"]
    assert emulator.state.graph_requests == []


def test_tabs_or_line_ends_between_the_digits_are_no_group_separator(get_join_url, emulator):
    answer = get_join_url("POST", body={"joinMeetingId": "123\t456\n789", "organizerId": ORGANIZER_ID})
    assert answer.status == 400 and emulator.state.graph_requests == []


# --- a GET with a body, a long number -----------------------------------------------------------------------------


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


@pytest.mark.parametrize("digits", [65, 5000, 100_000])
def test_a_meeting_number_of_thousands_of_digits_is_too_long_not_invalid_json(get_join_url, emulator, digits):
    raw = b'{"joinMeetingId": ' + b"1" * digits + b', "organizerId": "' + ORGANIZER_ID.encode() + b'"}'
    answer = get_join_url("POST", raw_body=raw)
    assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
    message = answer.body["error"]["message"]
    assert f"a JSON number of {digits:,} digits, too long for a numeric Teams meeting ID" in message
    assert "not valid JSON" not in message
    item = get_join_url("POST", raw_body=b'{"meetings": [' + raw + b"]}").body["results"][0]
    assert f"{digits:,} digits" in item["error"]["message"]
    assert emulator.state.graph_requests == []


def test_a_long_number_in_a_field_the_function_ignores_is_ignored(get_join_url, meeting):
    raw = b'{"ticket": ' + b"9" * 5000 + b', "meetingId": "' + meeting.meeting_id.encode() + b'", "organizerId": "'
    answer = get_join_url("POST", raw_body=raw + ORGANIZER_ID.encode() + b'"}')
    assert answer.status == 200, answer.body
