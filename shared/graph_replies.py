"""What Graph's answers mean for the caller: values out of 200s, OData errors into errors that say what to fix."""

from __future__ import annotations

from typing import Any

from .errors import ApiError, graph_said, sentences
from .graph_access import APPOINTMENT_URL_ROLE, LOOKUP_ROLE, AppRole, access_denied
from .graph_transport import GraphReply
from .retry import OUTAGE_RETRY_AFTER_SECONDS
from .validation import MEETING_ID_PATTERN, MeetingQuery, validate_meeting_id


def appointment_url_from(reply: GraphReply, query: MeetingQuery) -> str:
    if reply.status == 200:
        value = reply.body.get("value") if isinstance(reply.body, dict) else None
        if isinstance(value, str) and value.startswith("https://"):
            return value
        raise _unexpected(reply, "a 200 without a join URL in 'value'")
    raise error_for(reply, APPOINTMENT_URL_ROLE, query)


def meeting_id_from(reply: GraphReply, query: MeetingQuery) -> str:
    if reply.status != 200:
        raise error_for(reply, LOOKUP_ROLE, query)
    meetings = reply.body.get("value") if isinstance(reply.body, dict) else None
    if not isinstance(meetings, list):
        raise _unexpected(reply, "a lookup answer without a 'value' list")
    if not meetings:
        what = "join link" if query.teams_link is not None else "numeric meeting ID"  # a short link has a number too
        raise ApiError(
            404,
            "MeetingNotFound",
            f"No online meeting organized by {query.organizer_id} has that {what}.",
            fix=f"Check the {what}, and that organizerId is the meeting's organizer (the {what.split()[-1]} alone "
            "does not tell Graph whose calendar to search).",
            graph_request_id=reply.request_id,
        )
    meeting_id = meetings[0].get("id") if isinstance(meetings[0], dict) else None
    if not isinstance(meeting_id, str):
        raise _unexpected(reply, "a meeting without an 'id'")
    try:
        return validate_meeting_id(meeting_id)
    except ApiError:
        raise _unexpected(reply, f"a meeting ID outside {MEETING_ID_PATTERN}") from None


def error_for(reply: GraphReply, role: AppRole, query: MeetingQuery) -> ApiError:
    """A non-200 Graph answer that retrying did not or could not fix."""
    graph_code, graph_message = odata_error(reply.body)
    said = graph_said(graph_code, graph_message)
    status = reply.status
    if status in (401, 403):
        return access_denied(
            status, graph_message, said, reply.identity, role, query.organizer_id, graph_request_id=reply.request_id
        )
    if status == 404:
        if names_unknown_user(graph_code):
            message = f"Graph knows no user {query.organizer_id} in this tenant, so it has no meetings to search."
            fix = "Check organizerId: the meeting organizer's user principal name or Entra object ID in this tenant."
        else:
            message = f"Graph found no such meeting for organizer {query.organizer_id}."
            fix = "Check the meeting ID, and organizerId: it must be the meeting's organizer, a user of this tenant."
        return ApiError(404, "MeetingNotFound", sentences(message, said), fix=fix, graph_request_id=reply.request_id)
    if status == 400:
        return ApiError(
            400,
            "GraphBadRequest",
            sentences("Graph rejected the request as invalid.", said),
            fix="Check the meeting ID (the onlineMeeting id Graph gives) and organizerId.",
            graph_request_id=reply.request_id,
        )
    if status == 429:
        wait = reply.retry_after if reply.retry_after is not None else 1.0
        return ApiError(
            429,
            "Throttled",
            "Microsoft Graph is throttling these calls.",
            retry_after=wait,
            graph_request_id=reply.request_id,
        )
    if status in (503, 504):
        wait = reply.retry_after if reply.retry_after is not None else OUTAGE_RETRY_AFTER_SECONDS
        return ApiError(
            503,
            "GraphUnavailable",
            sentences(f"Microsoft Graph is unavailable (HTTP {status}) and still failed after retries.", said),
            retry_after=wait,
            graph_request_id=reply.request_id,
        )
    return _unexpected(reply, f"HTTP {status}" if status else "no answer for this item in its $batch reply")


def names_unknown_user(graph_code: str) -> bool:
    """Graph's code for a `/users/{id}` it does not know: Request_ResourceNotFound ("Resource '<id>' does not
    exist or one of its queried reference-property objects are not present")."""
    return "ResourceNotFound" in graph_code


def odata_error(body: Any) -> tuple[str, str]:
    """(code, message) of an OData error body; empty strings when the body is not one."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    code, message = error.get("code"), error.get("message")
    return (
        code if isinstance(code, str) else "",
        message[:300] if isinstance(message, str) else "",
    )


def _unexpected(reply: GraphReply, what: str) -> ApiError:
    _, graph_message = odata_error(reply.body)
    return ApiError(
        502,
        "GraphError",
        sentences(
            f"Microsoft Graph answered with {what}, which this function cannot use.", graph_said("", graph_message)
        ),
        fix="Try again; if it persists, report it with the request-id header.",
        graph_request_id=reply.request_id,
    )
