"""A loopback emulator of the services the function talks to, speaking their documented protocols, so tests and
`make run` exercise the function over real HTTP as production does:

- the App Service managed-identity endpoint (`identity_endpoint`);
- Microsoft Entra ID as the token issuer for the GetJoinUrl API's callers (devhost/entra_id.py): its OpenID
  configuration, signing keys and token endpoint under `/<tenant>/`;
- Microsoft Graph (`graph_routes`): `getVirtualAppointmentJoinWebUrl`, the `onlineMeetings?$filter=` lookups and
  JSON `$batch`, with OData error bodies and `request-id` headers, checking tokens, app roles and the Teams
  application access policy as Graph does.

All of them speak the wire Graph's front end does (`wire`: compressed and chunked by default). Tests script faults
(statuses, Retry-After, hangs, resets, trickles: `state.Fault`) and read back what was asked: the last
`traffic_window` requests of each kind, so a long `make run` keeps its memory flat. `make run` serves it seeded
with a demo meeting, with an `observer` that prints each exchange once answered (devhost/traffic.py).

This module holds the emulator itself: its server's life, its set-ups, the meetings it holds and the traffic it
records; `state` holds its data and `handler` serves each request.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from ..entra_id import TENANT_ID
from ..http_server import IO_TIMEOUT_SECONDS, Server
from .handler import handler_for
from .identity_endpoint import PATH as IDENTITY_PATH
from .identity_endpoint import issue_token
from .state import APPOINTMENT_URL_ROLE, LOOKUP_ROLE, EmulatorState, Exchange, Meeting, Recorded
from .wire import WIRES

POLL_INTERVAL = 0.05  # seconds: how soon stop() takes effect
TRAFFIC_WINDOW = 1000  # recorded requests kept of each kind: tests read a handful, bench counts with the totals

# Set-ups `make run SETUP=<name>` can start in, so anyone can see what an admin meets in a real tenant.
SETUPS = {
    "ok": "every app role granted and a Teams application access policy for every organizer",
    "no-role": "the managed identity holds no Microsoft Graph app role",
    "no-lookup-role": f"the managed identity holds {APPOINTMENT_URL_ROLE} but not {LOOKUP_ROLE}",
    "no-policy": "no Teams application access policy names the app",
}


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
        self.state = EmulatorState(clock=clock)
        self.traffic_window = traffic_window
        self.counter_lock = threading.Lock()  # the connection count and the recorded traffic
        self.observer: Callable[[Exchange], None] | None = None  # told of each recorded request once answered
        self._stopping = threading.Event()
        self._server = Server((host, port), handler_for(self), io_timeout=io_timeout)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_INTERVAL,), name="graph-emulator", daemon=True
        )

    @property
    def base_url(self) -> str:
        return self._server.origin

    @property
    def identity_endpoint(self) -> str:
        return f"{self.base_url}{IDENTITY_PATH}"

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
        """Forget faults, traffic, tokens and data, keeping the server running (and its clock)."""
        self.state = EmulatorState(clock=self.clock)

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

    def issue_token(self, resource: str) -> dict[str, Any]:
        """What the identity endpoint answers for `resource` (identity_endpoint.issue_token): for tests that call
        Graph without it."""
        return issue_token(self.state, self.tenant_id, resource)

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

    def wait(self, seconds: float) -> None:
        """A fault's delay; cut short when the emulator stops, so no test waits on a hanging handler."""
        self._stopping.wait(seconds)
