"""Graph URLs for this API, relative to the version root (the form `$batch` items take).

Values reach here validated, and each one is still percent-encoded as a whole path segment
or OData literal, so no character can change the shape of a URL or a filter.
"""

from __future__ import annotations

from urllib.parse import quote

from .validation import MeetingQuery


def segment(value: str) -> str:
    return quote(value, safe="")


def odata_string(value: str) -> str:
    """An OData string literal: quotes doubled, per the OData ABNF."""
    return "'" + value.replace("'", "''") + "'"


def appointment_url_path(organizer_id: str, meeting_id: str) -> str:
    return f"/users/{segment(organizer_id)}/onlineMeetings/{segment(meeting_id)}/getVirtualAppointmentJoinWebUrl"


def meeting_lookup_path(query: MeetingQuery) -> str:
    """Find a meeting by its numeric ID (invites, short links) or by its classic join link, matched exactly."""
    if query.join_meeting_id is not None:
        condition = f"joinMeetingIdSettings/joinMeetingId eq {odata_string(query.join_meeting_id)}"
    elif query.teams_link is not None:
        condition = f"JoinWebUrl eq {odata_string(query.teams_link)}"
    else:
        raise ValueError("a lookup needs a join link or a join meeting ID")
    return f"/users/{segment(query.organizer_id)}/onlineMeetings?$filter={quote(condition, safe='')}"
