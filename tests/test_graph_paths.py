"""shared/graph_paths.py: Graph URLs with every segment percent-encoded, and OData string literals quoted."""

from __future__ import annotations

from urllib.parse import unquote

from shared.graph_paths import appointment_url_path, meeting_lookup_path, odata_string
from shared.validation import MeetingQuery
from tests.conftest import ORGANIZER_UPN


def test_odata_string_doubles_quotes():
    assert odata_string("it's") == "'it''s'"


def test_paths_encode_every_segment():
    assert appointment_url_path("a@b.example", "x+y=") == (
        "/users/a%40b.example/onlineMeetings/x%2By%3D/getVirtualAppointmentJoinWebUrl"
    )
    path = meeting_lookup_path(MeetingQuery("a@b.example", teams_link="https://teams.microsoft.com/l/meetup-join/a'b"))
    assert path.startswith("/users/a%40b.example/onlineMeetings?$filter=JoinWebUrl%20eq%20%27")
    assert "%27%27" in path  # the quote doubled, then encoded


def test_every_path_segment_is_percent_encoded(get_join_url, meeting, emulator):
    assert meeting.meeting_id.endswith("=")
    get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_UPN})
    [sent] = emulator.graph_calls()
    assert "%3D" in sent.target and "=" not in sent.target.split("?")[0]
    assert unquote(sent.target.split("/")[5]) == meeting.meeting_id
