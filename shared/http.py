"""The Azure Functions edge: reading requests and shaping every answer the same way."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import azure.functions as func

from . import app
from .caller_access import JOIN_URL_BY_KEY, Door, admit
from .errors import ApiError, invalid_request
from .field_names import check_names
from .invocation import Invocation
from .json_body import BODY_MAX_BYTES, parse_json_object, trimmed
from .logs import log_invocation, log_unexpected
from .settings import Settings
from .validation import FIELDS, SELECTORS, is_given

BATCH_ACTION = "batch"
BATCH_FIELD = "meetings"  # a JSON body's list of meetings makes a batch
REQUEST_FIELDS = (*FIELDS, BATCH_FIELD)  # the names GetJoinUrl reads from a query string or a body
# BODY_MAX_BYTES, the largest body read, is four times the largest valid batch (100 items with 2,048-character Teams
# links, about 250 KB). The Functions host passes bodies up to 100 MB, and parsing 100 MB of JSON grows a worker by
# gigabytes; what a body under the limit may cost once parsed is bounded in shared/json_body.py.
# What infra sets the Functions host's FUNCTIONS_REQUEST_BODY_SIZE_LIMIT to (its default is 100 MB): the host refuses a
# larger body before buffering it or handing it to the worker, so no caller can make the worker hold 100 MB per call
# on a 512 MB instance. Twice the function's own limit, so a body just over that still gets RequestTooLarge as JSON.
HOST_BODY_MAX_BYTES = 2 * BODY_MAX_BYTES


def begin(req: func.HttpRequest, function: str) -> Invocation:
    """Start the invocation's clock; a broken configuration still gets a deadline (and then its error)."""
    try:
        seconds = app.settings().request_deadline_seconds
    except ApiError:
        seconds = Settings.request_deadline_seconds
    return Invocation.start(function, req.headers, seconds, app.clock())


def respond(
    req: func.HttpRequest,
    function: str,
    door: Door,
    work: Callable[[Invocation], Any],
    extra_headers: Mapping[str, str] | None = None,
) -> func.HttpResponse:
    """Every function's shape: start the invocation's clock, let the caller in through `door` (the route's way in:
    a key, an Entra ID sign-in with an app role, or anyone), do the work, answer its JSON with 200 (and
    `extra_headers`), or the error as JSON: ours with its status, anything unexpected as 500 InternalError.
    `function` names it in the log and in that 500's message."""
    invocation = begin(req, function)
    try:
        admit(door, req.headers, invocation)
        body = work(invocation)
    except ApiError as error:
        return error_response(invocation, error)
    except Exception:
        return unexpected_error_response(invocation)
    return json_response(invocation, 200, body, extra_headers=extra_headers)


def get_appointment_urls(req: func.HttpRequest, invocation: Invocation, door: Door = JOIN_URL_BY_KEY) -> dict[str, Any]:
    """GetJoinUrl's work, whichever way the caller came in: one meeting, or a batch."""
    service = app.appointment_url_service()
    fields = request_fields(req)
    if wants_batch(req, fields, door.route):
        beside = [name for name in SELECTORS if is_given(fields.get(name))]
        if beside:  # a meeting sent beside the batch would be dropped without a word
            raise invalid_request(
                f"{' and '.join(beside)} came beside meetings: a batch reads its meetings from meetings alone. Put "
                f'each meeting in it as an item, such as {{"meetings": [{{"{beside[0]}": "..."}}]}}.'
            )
        return {"results": service.resolve_batch(fields[BATCH_FIELD], invocation, fields.get("organizerId"))}
    return service.resolve(fields, invocation)


def request_fields(req: func.HttpRequest) -> dict[str, Any]:
    """Query-string values, overlaid by the JSON body's (POST), each body value without surrounding whitespace. A
    body's null or empty value counts as left out, as everywhere else, so it does not hide the query string's. A
    batch comes only in the body: the query string's values are text, never a list, so its `meetings` is left out
    like any other name the function does not read. A name one typo or a case away from one it reads is refused."""
    check_names(req.params, REQUEST_FIELDS, "The query string")
    fields: dict[str, Any] = {name: value for name, value in req.params.items() if name != BATCH_FIELD}
    raw = bounded_body(req)
    if not raw or raw.isspace():
        return fields
    if req.method != "POST":
        raise invalid_request(
            f"This {req.method} request carries a body, which this function reads only from a POST: send the same "
            "request with POST, or put its fields in the query string."
        )
    body = trimmed(parse_json_object(raw), BATCH_FIELD)
    check_names(body, REQUEST_FIELDS, "The request body")
    fields.update((name, value) for name, value in body.items() if is_given(value) or name not in fields)
    return fields


def bounded_body(req: func.HttpRequest) -> bytes:
    """The body, refused (413) when over BODY_MAX_BYTES before anything reads it: by the Content-Length the caller
    declared, else by its length."""
    declared = req.headers.get("content-length") or ""
    size = int(declared) if declared.isascii() and declared.isdecimal() else 0
    body = b""
    if size <= BODY_MAX_BYTES:
        body = req.get_body()
        size = len(body)
    if size > BODY_MAX_BYTES:
        raise ApiError(
            413,
            "RequestTooLarge",
            f"The request body is {size:,} bytes; this function reads at most {BODY_MAX_BYTES:,} bytes (1 MiB, four "
            "times the largest valid batch of 100 meetings).",
            fix="Send at most 100 meetings per call, each with only meetingId, joinUrl, joinMeetingId and organizerId.",
        )
    return body


def wants_batch(req: func.HttpRequest, fields: dict[str, Any], route: str = JOIN_URL_BY_KEY.route) -> bool:
    """`/api/GetJoinUrl/batch`, or any body with `meetings` (`request_fields` takes it from the body alone; null or
    "" counts as left out, as for every field): one function key serves both. The host matches routes
    case-insensitively but passes the action as sent, so `/BATCH` is the batch too."""
    action = req.route_params.get("action") or None
    if action is not None and action.lower() != BATCH_ACTION:  # any one segment: the route takes `{action?}`
        raise ApiError(404, "NotFound", f"No such action: use {route}, or {route}/batch for a batch.")
    batch = is_given(fields.get(BATCH_FIELD))
    if action is not None and not batch:
        one = [name for name in SELECTORS if is_given(fields.get(name))]
        if one:  # one meeting, sent to the batch action
            raise invalid_request(
                f"The batch action reads meetings, and this request holds {one[0]} instead: send one meeting to "
                f'{route}, or put it in meetings here, such as {{"meetings": [{{"{one[0]}": "..."}}]}}.'
            )
        raise invalid_request('POST a JSON body such as {"meetings": [{"meetingId": "..."}]} to the batch action.')
    return batch


def json_response(
    invocation: Invocation,
    status: int,
    body: Any,
    error: ApiError | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> func.HttpResponse:
    """Every answer: JSON, never cached unless told (a join URL opens the lobby), correlated, and logged once."""
    headers = {"client-request-id": invocation.client_request_id, "Cache-Control": "no-store", **(extra_headers or {})}
    if invocation.graph_request_id:
        headers["request-id"] = invocation.graph_request_id
    retry_after = error.retry_after_header() if error is not None else None
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    log_invocation(invocation, status, error.code if error is not None else "OK")
    return func.HttpResponse(json.dumps(body), status_code=status, headers=headers, mimetype="application/json")


def unexpected_error_response(invocation: Invocation) -> func.HttpResponse:
    """A fault of ours still answers JSON the caller can quote; the traceback goes to the log."""
    log_unexpected(invocation)
    return error_response(
        invocation,
        ApiError(
            500,
            "InternalError",
            f"{invocation.function} failed unexpectedly. Try again; if it persists, report it with the "
            "client-request-id header.",
        ),
    )


def error_response(invocation: Invocation, error: ApiError) -> func.HttpResponse:
    if error.graph_request_id and not invocation.graph_request_id:
        invocation.graph_request_id = error.graph_request_id
    return json_response(invocation, error.status, error.body(), error)
