"""Per-invocation state that travels from the HTTP layer to Graph and into the log line."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from .clock import SYSTEM_CLOCK, Clock
from .deadline import Deadline
from .validation import GUID_RE

_ACCEPT_LANGUAGE_RE = re.compile(r"[A-Za-z0-9*,;=. -]{1,200}")


@dataclass
class Invocation:
    function: str  # the function answering (GetJoinUrl, Diagnose, OpenApi): they share one log
    client_request_id: str
    deadline: Deadline
    accept_language: str | None = None
    graph_attempts: int = 0
    graph_request_id: str | None = None
    extra_log_fields: dict[str, int] = field(default_factory=dict)
    # Who called an Entra ID route, as App Service Authentication said (object ID and app's client ID; never a name)
    caller_object_id: str | None = None
    caller_app_id: str | None = None
    _sends: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)  # per Graph request
    _graph_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @classmethod
    def start(
        cls, function: str, headers: Mapping[str, str], deadline_seconds: float, clock: Clock = SYSTEM_CLOCK
    ) -> Invocation:
        """Keeps the caller's client-request-id when it is a GUID (what Graph expects), else makes one. The deadline
        runs on `clock`, the process's (shared/app.py)."""
        given = headers.get("client-request-id") or ""
        language = headers.get("accept-language")
        return cls(
            function=function,
            client_request_id=given if GUID_RE.fullmatch(given) else str(uuid.uuid4()),
            deadline=Deadline(deadline_seconds, clock),
            accept_language=language if language and _ACCEPT_LANGUAGE_RE.fullmatch(language) else None,
        )

    def count_graph_attempt(self) -> None:
        """Under a lock: the `$batch` calls of one invocation run on several threads, and `+=` is not atomic."""
        with self._graph_lock:
            self.graph_attempts += 1

    def count_sends(self, requests: Collection[str]) -> int:
        """One more send of each request (a `$batch` call sends each of its items again); returns the most times
        any of them has now been sent. The retry budget (GRAPH_MAX_RETRIES) is spent per request, for the whole
        invocation: whole-call retries of a `$batch` and item rounds draw on the same count."""
        with self._graph_lock:
            for request in requests:
                self._sends[request] = self._sends.get(request, 0) + 1
            return max((self._sends[request] for request in requests), default=0)

    def times_sent(self, request: str) -> int:
        with self._graph_lock:
            return self._sends.get(request, 0)

    def keep_graph_request_id(self, request_id: str) -> None:
        """The latest Graph request-id, for the answer's request-id header and the log line."""
        with self._graph_lock:
            self.graph_request_id = request_id
