"""shared/field_names.py: a name a case, a separator or one typo away from one the function reads is refused with
both names; any other name (a webhook's own fields, the function key) is ignored."""

from __future__ import annotations

import pytest

from shared.field_names import near_miss
from shared.http import REQUEST_FIELDS
from tests.conftest import ORGANIZER_ID

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
