"""A loopback emulator of the two services the function talks to, speaking their documented protocols:

- the App Service managed-identity endpoint (`GET ?api-version=2019-08-01&resource=...` with `X-IDENTITY-HEADER`);
- Microsoft Graph: `getVirtualAppointmentJoinWebUrl`, the `onlineMeetings?$filter=` lookups and JSON `$batch`,
  with OData error bodies, `request-id` headers and bearer-token checks.

Tests script faults (statuses, Retry-After, hangs, resets) and read back what was asked; `make run` serves it
seeded with a demo meeting.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import struct
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

VERSIONS = ("v1.0", "beta")
JOIN_URL_ROLE = "VirtualAppointment.Read.All"
LOOKUP_ROLE = "OnlineMeetings.Read.All"
_FILTERS = (
    ("join_web_url", re.compile(r"JoinWebUrl eq '((?:[^']|'')*)'")),
    ("join_meeting_id", re.compile(r"joinMeetingIdSettings/joinMeetingId eq '((?:[^']|'')*)'")),
)


@dataclass
class Fault:
    """One scripted misbehaviour, used up by the next matching request."""

    status: int | None = None
    retry_after: str | float | None = None  # a number too: a $batch item's headers are JSON
    delay: float = 0.0  # seconds before answering (a hang, when longer than the client's timeout)
    reset: bool = False  # drop the connection with a TCP reset instead of answering
    body: bytes | None = None  # a raw body instead of an OData error
    headers: dict[str, str] = field(default_factory=dict)  # more headers on the answer (a redirect's Location)
    trickle: float = 0.0  # seconds between the bytes of the body (the answer itself is the usual one)
    item: dict[str, Any] | None = None  # a $batch item's answer: these fields replace its own (odd shapes)


@dataclass
class Meeting:
    organizer_id: str
    meeting_id: str
    join_web_url: str
    join_meeting_id: str
    appointment_url: str


@dataclass
class Recorded:
    method: str
    target: str  # the request target exactly as sent (path and query, still percent-encoded)
    headers: dict[str, str]
    body: Any = None


@dataclass
class EmulatorState:
    users: dict[str, str] = field(default_factory=dict)  # lower-case GUID or UPN -> object ID
    meetings: dict[tuple[str, str], Meeting] = field(default_factory=dict)  # (object ID, meeting ID)
    no_policy: set[str] = field(default_factory=set)  # object IDs no application access policy covers
    roles: set[str] = field(default_factory=lambda: {JOIN_URL_ROLE, LOOKUP_ROLE})
    tokens: dict[str, float] = field(default_factory=dict)  # issued token -> expiry (epoch)
    token_lifetime: float = 3600.0
    graph_faults: deque[Fault] = field(default_factory=deque)
    batch_item_faults: deque[Fault] = field(default_factory=deque)
    identity_faults: deque[Fault] = field(default_factory=deque)
    graph_requests: list[Recorded] = field(default_factory=list)
    identity_requests: list[Recorded] = field(default_factory=list)
    connections: int = 0
    graph_latency: float = 0.0  # seconds every Graph answer waits, as a network round trip would
    batch_gate: threading.Barrier | None = None  # each $batch call waits here until the gate's number have come


class GraphEmulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.identity_header = secrets.token_hex(16)
        self.tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47"
        self.state = EmulatorState()
        self.counter_lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="graph-emulator", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def identity_endpoint(self) -> str:
        return f"{self.base_url}/msi/token"

    def settings(self) -> dict[str, str]:
        """The app settings that point the function at this emulator, as Azure points it at the real ones."""
        return {
            "GRAPH_BASE_URL": self.base_url,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
            "GRAPH_CREDENTIAL": "managed_identity",
        }

    def start(self) -> GraphEmulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        """Forget faults, traffic, tokens and data, keeping the server running."""
        self.state = EmulatorState()

    def add_meeting(
        self, organizer_id: str, upn: str | None = None, *, thread: str | None = None, join_meeting_id: str = ""
    ) -> Meeting:
        """A meeting as Graph would hold it: base64 ID, classic join link with the organizer's Oid, a number."""
        thread = thread or "19:meeting_" + base64.b64encode(secrets.token_bytes(24)).decode().rstrip("=") + "@thread.v2"
        self.state.users[organizer_id.lower()] = organizer_id
        if upn:
            self.state.users[upn.lower()] = organizer_id
        meeting_id = base64.b64encode(f"1*{organizer_id}*0**{thread}".encode()).decode()
        context = quote(json.dumps({"Tid": self.tenant_id, "Oid": organizer_id}, separators=(",", ":")), safe="")
        join_web_url = f"https://teams.microsoft.com/l/meetup-join/{quote(thread, safe='').lower()}/0?context={context}"
        appointment_url = (
            f"https://visit.teams.microsoft.com/webrtc-svc/api/route?tid={self.tenant_id}"
            f"&convId={quote(thread, safe='')}&isVa=true"
        )
        meeting = Meeting(organizer_id, meeting_id, join_web_url, join_meeting_id, appointment_url)
        self.state.meetings[(organizer_id, meeting_id)] = meeting
        return meeting

    def graph_calls(self) -> list[Recorded]:
        return [r for r in self.state.graph_requests if not r.target.endswith("/$batch")]

    # --- serving ----------------------------------------------------------------------------------------

    def wait(self, seconds: float) -> None:
        """A fault's delay; cut short when the emulator stops, so no test waits on a hanging handler."""
        self._stopping.wait(seconds)

    def issue_token(self, resource: str) -> dict[str, Any]:
        token = "emulated." + secrets.token_urlsafe(24)
        expires_on = int(time.time() + self.state.token_lifetime)
        self.state.tokens[token] = expires_on
        return {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": "5b2f2a1e-1a8c-4c53-9b6e-0f6f1b3c2d4e",
        }

    def graph(self, method: str, target: str, authorization: str, body: Any) -> tuple[int, dict[str, str], Any]:
        """One Graph request (top level or a `$batch` item): status, headers, JSON body."""
        token = authorization.removeprefix("Bearer ")
        if not authorization.startswith("Bearer ") or self.state.tokens.get(token, 0) < time.time():
            return _odata(401, "InvalidAuthenticationToken", "Access token is empty, invalid or expired.")
        parts = urlsplit(target)
        segments = parts.path.split("/")
        if len(segments) < 3 or segments[1] not in VERSIONS:
            return _odata(400, "BadRequest", "Invalid version or resource.")
        version, rest = segments[1], segments[2:]
        if method == "POST" and rest == ["$batch"]:
            return self._batch(version, authorization, body)
        if method != "GET" or len(rest) < 3 or rest[0] != "users" or rest[2] != "onlineMeetings":
            return _odata(400, "BadRequest", f"Resource not found for the segment '{'/'.join(rest)}'.")
        organizer = self.state.users.get(unquote(rest[1]).lower())
        if organizer is None:
            return _odata(404, "ResourceNotFound", f"User '{unquote(rest[1])}' was not found.")
        if organizer in self.state.no_policy:
            return _odata(403, "Forbidden", "No application access policy found for this app.")
        if len(rest) == 3:
            return self._lookup(version, organizer, parse_qs(parts.query).get("$filter", [""])[0])
        if len(rest) == 5 and rest[4] in ("getVirtualAppointmentJoinWebUrl", "getVirtualAppointmentJoinWebUrl()"):
            if JOIN_URL_ROLE not in self.state.roles:
                return _odata(403, "Forbidden", "Insufficient privileges to complete the operation.")
            meeting = self.state.meetings.get((organizer, unquote(rest[3])))
            if meeting is None:
                return _odata(404, "NotFound", "The online meeting was not found.")
            context = f"https://graph.microsoft.com/{version}/$metadata#Edm.String"
            return 200, {}, {"@odata.context": context, "value": meeting.appointment_url}
        return _odata(400, "BadRequest", "Unsupported segment.")

    def _lookup(self, version: str, organizer: str, condition: str) -> tuple[int, dict[str, str], Any]:
        if LOOKUP_ROLE not in self.state.roles:
            return _odata(403, "Forbidden", "Insufficient privileges to complete the operation.")
        matches = [(attribute, hit) for attribute, pattern in _FILTERS if (hit := pattern.fullmatch(condition))]
        if not matches:
            return _odata(400, "BadRequest", f"Invalid filter clause: {condition[:100]}")
        attribute, match = matches[0]
        wanted = match.group(1).replace("''", "'")
        meetings = [
            {
                "id": m.meeting_id,
                "joinWebUrl": m.join_web_url,
                "joinMeetingIdSettings": {"joinMeetingId": m.join_meeting_id},
            }
            for m in self.state.meetings.values()
            if m.organizer_id == organizer and getattr(m, attribute) == wanted
        ]
        context = f"https://graph.microsoft.com/{version}/$metadata#users('{organizer}')/onlineMeetings"
        return 200, {}, {"@odata.context": context, "value": meetings}

    def _batch(self, version: str, authorization: str, body: Any) -> tuple[int, dict[str, str], Any]:
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= 20:
            return _odata(400, "BadRequest", "A batch holds 1 to 20 requests.")
        if self.state.batch_gate is not None:
            try:
                self.state.batch_gate.wait()
            except threading.BrokenBarrierError:
                return _odata(504, "GatewayTimeout", "Fewer $batch calls came at once than the gate waits for.")
        answers = []
        for item in items:
            fault = _take(self.state.batch_item_faults)
            if fault is not None and fault.status is not None:
                status, headers, answer = _odata(fault.status, "TooManyRequests", "Too many requests.")
                if fault.retry_after is not None:
                    headers["Retry-After"] = fault.retry_after
            else:
                status, headers, answer = self.graph(item["method"], f"/{version}{item['url']}", authorization, None)
            headers["Content-Type"] = "application/json"
            odd = fault.item if fault is not None and fault.item is not None else {}
            answers.append({"id": item["id"], "status": status, "headers": headers, "body": answer, **odd})
        answers.reverse()  # Graph may answer in any order: callers must match by id
        return 200, {}, {"responses": answers}


def _take(faults: deque[Fault]) -> Fault | None:
    """The next scripted fault, safe against handler threads racing for the last one."""
    try:
        return faults.popleft()
    except IndexError:
        return None


def _odata(status: int, code: str, message: str) -> tuple[int, dict[str, str], Any]:
    inner = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4())}
    return status, {}, {"error": {"code": code, "message": message, "innerError": inner}}


def _handler_for(emulator: GraphEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse can be counted
        trickle = 0.0
        disable_nagle_algorithm = True  # headers and body go in two writes; Nagle would stall each answer ~40 ms

        def setup(self) -> None:
            super().setup()
            with emulator.counter_lock:
                emulator.state.connections += 1

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests and `make run` print what matters themselves."""

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            record = Recorded(method, self.path, dict(self.headers.items()), body)
            is_identity = self.path.startswith("/msi/token")
            state = emulator.state
            (state.identity_requests if is_identity else state.graph_requests).append(record)
            faults = state.identity_faults if is_identity else state.graph_faults
            if state.graph_latency and not is_identity:
                emulator.wait(state.graph_latency)
            fault = _take(faults)
            self.trickle = fault.trickle if fault is not None else 0.0
            if fault is not None:
                emulator.wait(fault.delay)
                if fault.reset:
                    self._reset()
                    return
                if fault.status is not None:
                    headers = dict(fault.headers)
                    if fault.retry_after is not None:
                        headers["Retry-After"] = fault.retry_after
                    if fault.body is not None:
                        self._send(fault.status, headers, fault.body, "text/plain")
                        return
                    status, _, answer = _odata(fault.status, "ServiceUnavailable", "Scripted fault.")
                    self._send_json(status, headers, answer)
                    return
            if is_identity:
                self._identity()
            else:
                status, headers, answer = emulator.graph(method, self.path, self.headers.get("Authorization", ""), body)
                self._send_json(status, headers, answer)

        def _identity(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            if self.headers.get("X-IDENTITY-HEADER") != emulator.identity_header:
                self._send_json(401, {}, {"error": "unauthorized", "error_description": "X-IDENTITY-HEADER mismatch"})
            elif query.get("api-version") != ["2019-08-01"] or not query.get("resource"):
                self._send_json(400, {}, {"error": "invalid_request", "error_description": "api-version or resource"})
            else:
                self._send_json(200, {}, emulator.issue_token(query["resource"][0]))

        def _send_json(self, status: int, headers: dict[str, str], answer: Any) -> None:
            self._send(status, headers, json.dumps(answer).encode(), "application/json")

        def _send(self, status: int, headers: dict[str, str], payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("request-id", str(uuid.uuid4()))
            client_request_id = self.headers.get("client-request-id")
            if client_request_id:
                self.send_header("client-request-id", client_request_id)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not self.trickle:
                self.wfile.write(payload)
                return
            for byte in payload:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                emulator.wait(self.trickle)

        def _reset(self) -> None:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

    return Handler
