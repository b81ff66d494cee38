"""What the emulator holds and records: its data (users, meetings, grants, tokens), the faults tests script, and the
traffic it keeps. One `EmulatorState` per emulator, replaced whole by `reset()`, so a test starts from nothing."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..entra_id import EntraTenant

APPOINTMENT_URL_ROLE = "VirtualAppointment.Read.All"
LOOKUP_ROLE = "OnlineMeetings.Read.All"


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


def take_fault(faults: deque[Fault]) -> Fault | None:
    """The next scripted fault, safe against handler threads racing for the last one."""
    try:
        return faults.popleft()
    except IndexError:
        return None


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
    # Seconds since the epoch, read when tokens are issued and checked for expiry: tests move it on, not wait.
    clock: Callable[[], float] = time.time
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
