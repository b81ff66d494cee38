"""A loopback emulator of the two services the function talks to, speaking their documented protocols:

- the App Service managed-identity endpoint (`GET ?api-version=2019-08-01&resource=...` with `X-IDENTITY-HEADER`).
  Its tokens are JWT-shaped with the claims Entra puts in app-only tokens (`roles` only when there are some), keep
  the app roles granted when they were issued, and are handed out again from a cache as the platform does;
- Microsoft Entra ID as the token issuer for the GetJoinUrl API's callers (devhost/entra_id.py): its OpenID
  configuration, signing keys and token endpoint under `/<tenant>/`;
- Microsoft Graph: `getVirtualAppointmentJoinWebUrl`, the `onlineMeetings?$filter=` lookups and JSON `$batch`,
  with OData error bodies and `request-id` headers. It checks the token, the app role each call needs and the
  Teams application access policy per organizer, refusing in Graph's own words.

Both speak the wire Graph's front end does (`wire`, default "gzip+chunked"): JSON answers are compressed (gzip,
or deflate when that is all the request accepts) for requests whose `Accept-Encoding` allows it, and sent with
`Transfer-Encoding: chunked`. The other wires name the coding preferred ("gzip", "deflate" or none) and whether
answers are chunked or carry a Content-Length: "gzip", "deflate+chunked", "deflate", "chunked", "plain".

Tests script faults (statuses, Retry-After, hangs, resets) and read back what was asked: the last
`traffic_window` requests of each kind, so a long `make run` keeps its memory flat. `make run` serves it seeded
with a demo meeting, with an `observer` that prints each exchange once answered (devhost/traffic.py).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import secrets
import socket
import struct
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .entra_id import TENANT_ID, EntraTenant
from .http_server import IO_TIMEOUT_SECONDS, RequestHandler, Server

VERSIONS = ("v1.0", "beta")
POLL_INTERVAL = 0.05  # seconds: how soon stop() takes effect
TRAFFIC_WINDOW = 1000  # recorded requests kept of each kind: tests read a handful, bench counts with the totals
APPOINTMENT_URL_ROLE = "VirtualAppointment.Read.All"
LOOKUP_ROLE = "OnlineMeetings.Read.All"
# The app roles that let each call through, least privileged first.
APPOINTMENT_URL_ROLES = (APPOINTMENT_URL_ROLE, "VirtualAppointment.ReadWrite.All")
LOOKUP_ROLES = (LOOKUP_ROLE, "OnlineMeetings.ReadWrite.All")
IDENTITY_CLIENT_ID = "5b2f2a1e-1a8c-4c53-9b6e-0f6f1b3c2d4e"  # the managed identity's appid
IDENTITY_OBJECT_ID = "0c6f3e2a-7b1d-4c9e-8f5a-3d2b1e0f9a8c"  # its service principal's oid
PLATFORM_RENEW_SECONDS = 300.0  # the identity endpoint hands out a new token only this close to the old one's expiry
WIRES = ("gzip+chunked", "gzip", "deflate+chunked", "deflate", "chunked", "plain")  # the first: Graph's, the default
CODINGS = ("gzip", "deflate")  # the content codings the emulator compresses with
CHUNK_BYTES = 64  # a chunked answer comes in pieces of this size, so a client reads several chunks of each answer
_QUALITY = re.compile(r";\s*q\s*=\s*(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\s*$", re.IGNORECASE)
_FILTERS = (
    ("teams_link", re.compile(r"JoinWebUrl eq '((?:[^']|'')*)'")),
    ("join_meeting_id", re.compile(r"joinMeetingIdSettings/joinMeetingId eq '((?:[^']|'')*)'")),
)


# Set-ups `make run SETUP=<name>` can start in, so anyone can see what an admin meets in a real tenant.
SETUPS = {
    "ok": "every app role granted and a Teams application access policy for every organizer",
    "no-role": "the managed identity holds no Microsoft Graph app role",
    "no-lookup-role": f"the managed identity holds {APPOINTMENT_URL_ROLE} but not {LOOKUP_ROLE}",
    "no-policy": "no Teams application access policy names the app",
}


@dataclass
class Fault:
    """One scripted misbehaviour, used up by the next matching request."""

    status: int | None = None
    retry_after: str | float | None = None  # a number too: a $batch item's headers are JSON
    delay: float = 0.0  # seconds before answering (a hang, when longer than the client's timeout)
    reset: bool = False  # drop the connection with a TCP reset instead of answering
    body: bytes | None = None  # a raw body instead of an OData error, sent as it is (never compressed)
    headers: dict[str, str] = field(default_factory=dict)  # more headers on the answer (a redirect's Location)
    trickle: float = 0.0  # seconds between the bytes of the body as sent (compressed; in chunks of one byte)
    item: dict[str, Any] | None = None  # a $batch item's answer: these fields replace its own (odd shapes)


@dataclass
class Meeting:
    organizer_id: str
    meeting_id: str
    teams_link: str
    join_meeting_id: str
    appointment_url: str


@dataclass
class Recorded:
    method: str
    target: str  # the request target exactly as sent (path and query, still percent-encoded)
    headers: dict[str, str]
    body: Any = None


@dataclass
class Exchange:
    """A recorded request and what came of it, for the observer once answered; not kept (the window is lean)."""

    request: Recorded
    identity: bool  # to the managed-identity endpoint, not Graph
    entra: bool = False  # to the Entra ID token issuer (a caller's token, its keys), not Graph
    received: float = field(default_factory=time.time)
    started: float = field(default_factory=time.perf_counter)
    status: int | None = None  # None: no answer was sent (a reset, or the client left first)
    seconds: float = 0.0
    reply: Any = None  # Graph's JSON answer (a $batch's items); never the identity endpoint's, which is a token


@dataclass(frozen=True)
class IssuedToken:
    resource: str
    roles: frozenset[str]  # granted when the token was issued: a later grant is not in it
    issued_at: int
    expires_on: int


@dataclass
class EmulatorState:
    users: dict[str, str] = field(default_factory=dict)  # lower-case GUID or UPN -> object ID
    meetings: dict[tuple[str, str], Meeting] = field(default_factory=dict)  # (object ID, meeting ID)
    roles: set[str] = field(default_factory=lambda: {APPOINTMENT_URL_ROLE, LOOKUP_ROLE})  # granted to the identity now
    access_policy: bool = True  # a Teams application access policy names the identity's app ID
    policy_users: set[str] | None = None  # object IDs the policy is granted to; None: granted globally
    tokens: dict[str, IssuedToken] = field(default_factory=dict)  # every token issued, for Graph to check
    platform_cache: dict[str, str] = field(default_factory=dict)  # resource -> token the endpoint hands out again
    token_lifetime: float = 3600.0
    graph_faults: deque[Fault] = field(default_factory=deque)
    batch_item_faults: deque[Fault] = field(default_factory=deque)
    identity_faults: deque[Fault] = field(default_factory=deque)
    graph_requests: list[Recorded] = field(default_factory=list)  # the last traffic_window, oldest first
    identity_requests: list[Recorded] = field(default_factory=list)
    entra_requests: list[Recorded] = field(default_factory=list)  # to the token issuer, for callers' tokens
    entra: EntraTenant = field(default_factory=EntraTenant)  # the API's registration, the demo callers, their roles
    graph_request_count: int = 0  # every one seen, for counts past the window
    identity_request_count: int = 0
    connections: int = 0
    graph_latency: float = 0.0  # seconds every Graph answer waits, as a network round trip would
    batch_gate: threading.Barrier | None = None  # each $batch call waits here until the gate's number have come


class GraphEmulator:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        io_timeout: float = IO_TIMEOUT_SECONDS,
        traffic_window: int = TRAFFIC_WINDOW,
        wire: str = WIRES[0],
        clock: Callable[[], float] = time.time,
    ) -> None:
        if wire not in WIRES:
            raise ValueError(f"unknown wire {wire!r}: one of {', '.join(WIRES)}")
        self.wire = wire  # read per answer, so a test may change it between calls
        self.clock = clock  # seconds since the epoch, when tokens are issued and expire: tests move it on
        self.identity_header = secrets.token_hex(16)
        self.tenant_id = TENANT_ID
        self.state = EmulatorState()
        self.traffic_window = traffic_window
        self.counter_lock = threading.Lock()  # the connection count and the recorded traffic
        self.observer: Callable[[Exchange], None] | None = None  # told of each recorded request once answered
        self._stopping = threading.Event()
        self._server = Server((host, port), _handler_for(self), io_timeout=io_timeout)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_INTERVAL,), name="graph-emulator", daemon=True
        )

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

    def apply_setup(self, name: str) -> None:
        """One of SETUPS, applied before any token is issued."""
        if name not in SETUPS:
            raise ValueError(f"unknown setup {name!r}: one of {', '.join(SETUPS)}")
        if name == "no-role":
            self.state.roles = set()
        elif name == "no-lookup-role":
            self.state.roles = {APPOINTMENT_URL_ROLE}
        elif name == "no-policy":
            self.state.access_policy = False

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
        teams_link = f"https://teams.microsoft.com/l/meetup-join/{quote(thread, safe='').lower()}/0?context={context}"
        appointment_url = (
            f"https://visit.teams.microsoft.com/webrtc-svc/api/route?tid={self.tenant_id}"
            f"&convId={quote(thread, safe='')}&isVa=true"
        )
        meeting = Meeting(organizer_id, meeting_id, teams_link, join_meeting_id, appointment_url)
        self.state.meetings[(organizer_id, meeting_id)] = meeting
        return meeting

    def graph_calls(self) -> list[Recorded]:
        return [r for r in self.state.graph_requests if not r.target.endswith("/$batch")]

    def record(self, request: Recorded, identity: bool, entra: bool = False) -> Exchange:
        """Keep the last `traffic_window` requests of the kind and count them all (the token issuer's are kept, not
        counted); the exchange returned is completed by the handler and handed to the observer."""
        state = self.state
        with self.counter_lock:
            if entra:
                window = state.entra_requests
            elif identity:
                state.identity_request_count += 1
                window = state.identity_requests
            else:
                state.graph_request_count += 1
                window = state.graph_requests
            window.append(request)
            del window[: -self.traffic_window]
        return Exchange(request, identity, entra)

    # --- serving ----------------------------------------------------------------------------------------

    def wait(self, seconds: float) -> None:
        """A fault's delay; cut short when the emulator stops, so no test waits on a hanging handler."""
        self._stopping.wait(seconds)

    def issue_token(self, resource: str) -> dict[str, Any]:
        """The identity endpoint's answer: its cached token for `resource` while that has time left, else a new
        one carrying the app roles granted now (so a role granted later reaches Graph only in a later token)."""
        now = self.clock()
        token = self.state.platform_cache.get(resource, "")
        cached = self.state.tokens.get(token)
        if cached is None or cached.expires_on - now <= min(
            PLATFORM_RENEW_SECONDS, (cached.expires_on - cached.issued_at) / 2
        ):
            cached = IssuedToken(resource, frozenset(self.state.roles), int(now), int(now + self.state.token_lifetime))
            token = self._jwt(cached)
            self.state.tokens[token] = cached
            self.state.platform_cache[resource] = token
        return {
            "access_token": token,
            "expires_on": str(cached.expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": IDENTITY_CLIENT_ID,
        }

    def _jwt(self, issued: IssuedToken) -> str:
        """Shaped like an app-only Entra ID access token (v1); the signature is random bytes."""
        claims: dict[str, Any] = {
            "aud": issued.resource,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": issued.issued_at,
            "nbf": issued.issued_at,
            "exp": issued.expires_on,
            "appid": IDENTITY_CLIENT_ID,
            "appidacr": "2",
            "idp": f"https://sts.windows.net/{self.tenant_id}/",
            "idtyp": "app",
            "oid": IDENTITY_OBJECT_ID,
            "sub": IDENTITY_OBJECT_ID,
            "tid": self.tenant_id,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }
        if issued.roles:
            claims["roles"] = sorted(issued.roles)
        header = {"typ": "JWT", "alg": "RS256", "kid": "emulator"}
        return ".".join([_base64url(header), _base64url(claims), secrets.token_urlsafe(64)])

    def graph(self, method: str, target: str, authorization: str, body: Any) -> tuple[int, dict[str, str], Any]:
        """One Graph request (top level or a `$batch` item): status, headers, JSON body."""
        scheme, _, token = authorization.partition(" ")
        issued = self.state.tokens.get(token) if scheme == "Bearer" else None
        if issued is None or issued.expires_on < self.clock():
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
        is_lookup = len(rest) == 3
        is_join = len(rest) == 5 and rest[4] in ("getVirtualAppointmentJoinWebUrl", "getVirtualAppointmentJoinWebUrl()")
        if not (is_lookup or is_join):
            return _odata(400, "BadRequest", "Unsupported segment.")
        refused = _refusal(issued, LOOKUP_ROLES if is_lookup else APPOINTMENT_URL_ROLES)
        if refused is not None:
            return refused
        organizer = self.state.users.get(unquote(rest[1]).lower())
        if organizer is None:
            return _odata(
                404,
                "Request_ResourceNotFound",
                f"Resource '{unquote(rest[1])}' does not exist or one of its queried reference-property objects are "
                "not present.",
            )
        if not self.state.access_policy:
            return _odata(403, "Forbidden", "No application access policy found for this app.")
        if self.state.policy_users is not None and organizer not in self.state.policy_users:
            return _odata(
                403,
                "Forbidden",
                f"Application is not allowed to perform operations on the user '{organizer}', neither is allowed "
                "access through RSC permission evaluation.",
            )
        if is_lookup:
            return self._lookup(version, organizer, parse_qs(parts.query).get("$filter", [""])[0])
        meeting = self.state.meetings.get((organizer, unquote(rest[3])))
        if meeting is None:
            return _odata(404, "NotFound", "The online meeting was not found.")
        context = f"https://graph.microsoft.com/{version}/$metadata#Edm.String"
        return 200, {}, {"@odata.context": context, "value": meeting.appointment_url}

    def _lookup(self, version: str, organizer: str, condition: str) -> tuple[int, dict[str, str], Any]:
        matches = [(attribute, hit) for attribute, pattern in _FILTERS if (hit := pattern.fullmatch(condition))]
        if not matches:
            return _odata(400, "BadRequest", f"Invalid filter clause: {condition[:100]}")
        attribute, match = matches[0]
        wanted = match.group(1).replace("''", "'")
        meetings = [
            {
                "id": m.meeting_id,
                "joinWebUrl": m.teams_link,
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
        replies = []
        for item in items:
            fault = _take(self.state.batch_item_faults)
            if fault is not None and fault.status is not None:
                status, headers, reply = _odata(fault.status, "TooManyRequests", "Too many requests.")
                if fault.retry_after is not None:
                    headers["Retry-After"] = fault.retry_after
            else:
                status, headers, reply = self.graph(item["method"], f"/{version}{item['url']}", authorization, None)
            headers["Content-Type"] = "application/json"
            odd = fault.item if fault is not None and fault.item is not None else {}
            replies.append({"id": item["id"], "status": status, "headers": headers, "body": reply, **odd})
        replies.reverse()  # Graph may answer in any order: callers must match by id
        return 200, {}, {"responses": replies}


def _refusal(issued: IssuedToken, accepted: tuple[str, ...]) -> tuple[int, dict[str, str], Any] | None:
    """Graph's answer to a token without the app role a call needs: 401 when it carries no role at all."""
    if not issued.roles:
        return _odata(401, "InvalidAuthenticationToken", "Either scp or roles claim need to be present in the token.")
    if issued.roles.isdisjoint(accepted):
        return _odata(403, "Forbidden", "Insufficient privileges to complete the operation.")
    return None


def content_coding(accept_encoding: str | None, preferred: str = CODINGS[0]) -> str | None:
    """The coding to compress an answer with: `preferred` when the request's Accept-Encoding allows it, else the
    other one it allows, else none. A weight of 0 refuses a coding; "*" stands for any not named (RFC 9110,
    12.5.3). A request without Accept-Encoding gets none: RFC 9110 would allow any, servers in practice send none."""
    weights: dict[str, float] = {}
    for item in (accept_encoding or "").split(","):
        quality = _QUALITY.search(item)
        weights[item.split(";", 1)[0].strip().lower()] = float(quality.group(1)) if quality else 1.0
    ordered = sorted(CODINGS, key=lambda coding: coding != preferred)
    return next((coding for coding in ordered if weights.get(coding, weights.get("*", 0.0)) > 0), None)


def _compressed(payload: bytes, coding: str) -> bytes:
    """gzip, or deflate as RFC 9110 defines it: the zlib format."""
    return gzip.compress(payload, compresslevel=6, mtime=0) if coding == "gzip" else zlib.compress(payload)


def _base64url(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def _take(faults: deque[Fault]) -> Fault | None:
    """The next scripted fault, safe against handler threads racing for the last one."""
    try:
        return faults.popleft()
    except IndexError:
        return None


def _odata(status: int, code: str, message: str) -> tuple[int, dict[str, str], Any]:
    inner = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4())}
    return status, {}, {"error": {"code": code, "message": message, "innerError": inner}}


def _handler_for(emulator: GraphEmulator) -> type[RequestHandler]:
    class Handler(RequestHandler):
        trickle = 0.0
        exchange: Exchange | None = None  # the request being answered, once recorded

        def setup(self) -> None:
            super().setup()
            with emulator.counter_lock:
                emulator.state.connections += 1

        def do_GET(self) -> None:
            self._observed("GET")

        def do_POST(self) -> None:
            self._observed("POST")

        def _observed(self, method: str) -> None:
            """Serve, then hand the observer the exchange with its status and time, whichever way it was answered.
            The observer is the one there when the request came: one set while it was answered (`make run` sets it
            once the tenant's keys are fetched) does not hear it after its client has read the answer."""
            observer = emulator.observer
            try:
                self._serve(method)
            finally:
                exchange, self.exchange = self.exchange, None  # a later request's parse error is not this one's
                if exchange is not None and observer is not None:
                    exchange.seconds = time.perf_counter() - exchange.started
                    observer(exchange)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """http.server calls this from send_response (and send_error) with the status: the one place every
            answer passes, faults and the identity endpoint's included."""
            if self.exchange is not None and isinstance(code, int):
                self.exchange.status = int(code)

        def _serve(self, method: str) -> None:
            raw = self.read_body()
            if raw is None:
                return
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            record = Recorded(method, self.path, dict(self.headers.items()), body)
            if self.path.lower().startswith(f"/{emulator.tenant_id}/"):
                self.exchange = emulator.record(record, identity=False, entra=True)
                self._entra(method, raw)
                return
            is_identity = self.path.startswith("/msi/token")
            state = emulator.state
            self.exchange = exchange = emulator.record(record, is_identity)
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
                    status, _, reply = _odata(fault.status, "ServiceUnavailable", "Scripted fault.")
                    self._send_json(status, headers, reply)
                    return
            if is_identity:
                self._identity()
            else:
                status, headers, reply = emulator.graph(method, self.path, self.headers.get("Authorization", ""), body)
                exchange.reply = reply
                self._send_json(status, headers, reply)

        def _entra(self, method: str, raw: bytes) -> None:
            """Entra ID's discovery documents and token endpoint (never faulted: tests fault Graph and the identity
            endpoint, which the function calls)."""
            tenant = emulator.state.entra
            rest = urlsplit(self.path).path[len(emulator.tenant_id) + 1 :]
            documents = {
                "/v2.0/.well-known/openid-configuration": lambda: tenant.openid_configuration(emulator.base_url, 2),
                "/.well-known/openid-configuration": lambda: tenant.openid_configuration(emulator.base_url, 1),
                "/discovery/v2.0/keys": tenant.jwks,
                "/discovery/keys": tenant.jwks,
            }
            if method == "GET" and rest in documents:
                self._send_json(200, {}, documents[rest]())
            elif method == "POST" and rest == "/oauth2/v2.0/token":
                try:
                    form = parse_qs(raw.decode("ascii"), keep_blank_values=True, strict_parsing=bool(raw))
                except (UnicodeDecodeError, ValueError):
                    form = {}
                status, reply = tenant.token_response(form)
                self._send_json(status, {"Cache-Control": "no-store"}, reply)
            else:
                self._send_json(404, {}, {"error": "not_found", "error_description": f"No such endpoint: {rest}"})

        def _identity(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            if self.headers.get("X-IDENTITY-HEADER") != emulator.identity_header:
                self._send_json(401, {}, {"error": "unauthorized", "error_description": "X-IDENTITY-HEADER mismatch"})
            elif query.get("api-version") != ["2019-08-01"] or not query.get("resource"):
                self._send_json(400, {}, {"error": "invalid_request", "error_description": "api-version or resource"})
            elif query.get("client_id", [IDENTITY_CLIENT_ID]) != [IDENTITY_CLIENT_ID]:
                # App Service's answer when AZURE_CLIENT_ID names no identity assigned to the app
                unknown = {"statusCode": 400, "message": "Unable to load the proper Managed Identity."}
                self._send_json(400, {}, {**unknown, "correlationId": str(uuid.uuid4())})
            else:
                self._send_json(200, {}, emulator.issue_token(query["resource"][0]))

        def _send_json(self, status: int, headers: dict[str, str], reply: Any) -> None:
            self._send(status, headers, json.dumps(reply).encode(), "application/json", compress=True)

        def _send(
            self, status: int, headers: dict[str, str], payload: bytes, content_type: str, compress: bool = False
        ) -> None:
            """One answer on the emulator's wire: compressed when `compress` and the wire and the request allow it,
            chunked when the wire says so, and a byte at a time (a chunk per byte) when a fault trickles it."""
            wire = emulator.wire
            preferred = wire.split("+")[0]
            coding = None
            if compress and preferred in CODINGS:
                coding = content_coding(self.headers.get("Accept-Encoding"), preferred)
            if coding is not None:
                payload = _compressed(payload, coding)
            chunked = wire.endswith("chunked")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if coding is not None:
                self.send_header("Content-Encoding", coding)
                self.send_header("Vary", "Accept-Encoding")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(payload)))
            self.send_header("request-id", str(uuid.uuid4()))
            client_request_id = self.headers.get("client-request-id")
            if client_request_id:
                self.send_header("client-request-id", client_request_id)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            step = 1 if self.trickle else CHUNK_BYTES if chunked else max(len(payload), 1)
            pieces = [payload[at : at + step] for at in range(0, len(payload), step)]
            if chunked:
                pieces = [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces] + [b"0\r\n\r\n"]
            if not self.trickle:
                self.wfile.write(b"".join(pieces))
                return
            for piece in pieces:
                self.wfile.write(piece)
                emulator.wait(self.trickle)

        def _reset(self) -> None:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

    return Handler
