"""Microsoft Graph as the function meets it: `getVirtualAppointmentJoinWebUrl`, the `onlineMeetings?$filter=`
lookups and JSON `$batch`, with OData error bodies.

Strict where Graph is strict: each request's token must be one the identity endpoint issued and still valid, carry
the app role the call needs, and the organizer must be a user the Teams application access policy covers; each
refusal is in Graph's own words, so the function's error wording is tested against what Graph says.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .state import APPOINTMENT_URL_ROLE, LOOKUP_ROLE, EmulatorState, IssuedToken, take_fault

VERSIONS = ("v1.0", "beta")
BATCH_LIMIT = 20  # requests in one $batch call
# The app roles that let each call through, least privileged first.
APPOINTMENT_URL_ROLES = (APPOINTMENT_URL_ROLE, "VirtualAppointment.ReadWrite.All")
LOOKUP_ROLES = (LOOKUP_ROLE, "OnlineMeetings.ReadWrite.All")
APPOINTMENT_URL_FUNCTIONS = ("getVirtualAppointmentJoinWebUrl", "getVirtualAppointmentJoinWebUrl()")
_FILTERS = (
    ("teams_link", re.compile(r"JoinWebUrl eq '((?:[^']|'')*)'")),
    ("join_meeting_id", re.compile(r"joinMeetingIdSettings/joinMeetingId eq '((?:[^']|'')*)'")),
)

Reply = tuple[int, dict[str, str], Any]  # what the emulated Graph sends back: status, headers, JSON body


def graph_reply(state: EmulatorState, method: str, target: str, authorization: str, body: Any) -> Reply:
    """One Graph request (top level or a `$batch` item): status, headers, JSON body."""
    scheme, _, token = authorization.partition(" ")
    issued = state.tokens.get(token) if scheme == "Bearer" else None
    if issued is None or issued.expires_on < state.clock():
        return odata_error(401, "InvalidAuthenticationToken", "Access token is empty, invalid or expired.")
    parts = urlsplit(target)
    segments = parts.path.split("/")
    if len(segments) < 3 or segments[1] not in VERSIONS:
        return odata_error(400, "BadRequest", "Invalid version or resource.")
    version, rest = segments[1], segments[2:]
    if method == "POST" and rest == ["$batch"]:
        return _batch(state, version, authorization, body)
    if method != "GET" or len(rest) < 3 or rest[0] != "users" or rest[2] != "onlineMeetings":
        return odata_error(400, "BadRequest", f"Resource not found for the segment '{'/'.join(rest)}'.")
    return _online_meetings(state, issued, version, rest, parts.query)


def odata_error(status: int, code: str, message: str) -> Reply:
    inner = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4())}
    return status, {}, {"error": {"code": code, "message": message, "innerError": inner}}


def _online_meetings(state: EmulatorState, issued: IssuedToken, version: str, rest: list[str], query: str) -> Reply:
    """`/users/{id}/onlineMeetings?$filter=...` (`rest` has 3 segments) or
    `/users/{id}/onlineMeetings/{meetingId}/getVirtualAppointmentJoinWebUrl` (5), checked in Graph's order: the
    token's roles, the user, the access policy, then the meeting."""
    is_lookup = len(rest) == 3
    is_join = len(rest) == 5 and rest[4] in APPOINTMENT_URL_FUNCTIONS
    if not (is_lookup or is_join):
        return odata_error(400, "BadRequest", "Unsupported segment.")
    refused = _role_refusal(issued, LOOKUP_ROLES if is_lookup else APPOINTMENT_URL_ROLES)
    if refused is not None:
        return refused
    organizer = state.users.get(unquote(rest[1]).lower())
    if organizer is None:
        return odata_error(
            404,
            "Request_ResourceNotFound",
            f"Resource '{unquote(rest[1])}' does not exist or one of its queried reference-property objects are "
            "not present.",
        )
    refused = _policy_refusal(state, organizer)
    if refused is not None:
        return refused
    if is_lookup:
        return _lookup(state, version, organizer, parse_qs(query).get("$filter", [""])[0])
    meeting = state.meetings.get((organizer, unquote(rest[3])))
    if meeting is None:
        return odata_error(404, "NotFound", "The online meeting was not found.")
    context = f"https://graph.microsoft.com/{version}/$metadata#Edm.String"
    return 200, {}, {"@odata.context": context, "value": meeting.appointment_url}


def _role_refusal(issued: IssuedToken, accepted: tuple[str, ...]) -> Reply | None:
    """Graph's answer to a token without the app role a call needs: 401 when it carries no role at all."""
    if not issued.roles:
        return odata_error(
            401, "InvalidAuthenticationToken", "Either scp or roles claim need to be present in the token."
        )
    if issued.roles.isdisjoint(accepted):
        return odata_error(403, "Forbidden", "Insufficient privileges to complete the operation.")
    return None


def _policy_refusal(state: EmulatorState, organizer: str) -> Reply | None:
    """Graph's answer when no Teams application access policy lets the app act for the organizer."""
    if not state.access_policy:
        return odata_error(403, "Forbidden", "No application access policy found for this app.")
    if state.policy_users is not None and organizer not in state.policy_users:
        return odata_error(
            403,
            "Forbidden",
            f"Application is not allowed to perform operations on the user '{organizer}', neither is allowed "
            "access through RSC permission evaluation.",
        )
    return None


def _lookup(state: EmulatorState, version: str, organizer: str, condition: str) -> Reply:
    matches = [(attribute, hit) for attribute, pattern in _FILTERS if (hit := pattern.fullmatch(condition))]
    if not matches:
        return odata_error(400, "BadRequest", f"Invalid filter clause: {condition[:100]}")
    attribute, match = matches[0]
    wanted = match.group(1).replace("''", "'")
    meetings = [
        {
            "id": m.meeting_id,
            "joinWebUrl": m.teams_link,
            "joinMeetingIdSettings": {"joinMeetingId": m.join_meeting_id},
        }
        for m in state.meetings.values()
        if m.organizer_id == organizer and getattr(m, attribute) == wanted
    ]
    context = f"https://graph.microsoft.com/{version}/$metadata#users('{organizer}')/onlineMeetings"
    return 200, {}, {"@odata.context": context, "value": meetings}


def _batch(state: EmulatorState, version: str, authorization: str, body: Any) -> Reply:
    items = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= BATCH_LIMIT:
        return odata_error(400, "BadRequest", f"A batch holds 1 to {BATCH_LIMIT} requests.")
    if state.batch_gate is not None:
        try:
            state.batch_gate.wait()
        except threading.BrokenBarrierError:
            return odata_error(504, "GatewayTimeout", "Fewer $batch calls came at once than the gate waits for.")
    replies = [_batch_item(state, version, authorization, item) for item in items]
    replies.reverse()  # Graph may answer in any order: callers must match by id
    return 200, {}, {"responses": replies}


def _batch_item(state: EmulatorState, version: str, authorization: str, item: Any) -> dict[str, Any]:
    """One item's answer in a `$batch` reply: its own, or the next scripted batch item fault's."""
    fault = take_fault(state.batch_item_faults)
    headers: dict[str, str | float] = {}  # JSON: a scripted Retry-After may be a number
    if fault is not None and fault.status is not None:
        status, _, reply = odata_error(fault.status, "TooManyRequests", "Too many requests.")
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
    else:
        status, own, reply = graph_reply(state, item["method"], f"/{version}{item['url']}", authorization, None)
        headers.update(own)
    headers["Content-Type"] = "application/json"
    odd = fault.item if fault is not None and fault.item is not None else {}
    return {"id": item["id"], "status": status, "headers": headers, "body": reply, **odd}
