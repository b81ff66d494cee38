"""Calls to Microsoft Graph: retries under the invocation's deadline, over `graph_transport`'s pooled session.

Replies come back as `GraphReply`; what they mean for the caller is `graph_replies`' business. A retryable
reply that runs out of retries or time is returned as it is, so the caller sees Graph's own status and
Retry-After (429 stays 429).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import requests

from .clock import SYSTEM_CLOCK, Clock
from .errors import ApiError
from .graph_transport import GraphReply, GraphTransport
from .identity import TokenProvider
from .invocation import Invocation
from .logs import log_give_up, log_retry
from .retry import OUTAGE_RETRY_AFTER_SECONDS, RETRY_STATUSES, backoff_seconds
from .settings import Settings


class GraphClient:
    def __init__(
        self, settings: Settings, tokens: TokenProvider, session: requests.Session, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._transport = GraphTransport(session, settings.graph_root)
        self._sleep = clock.sleep  # the wait before a retry
        self._timeout = settings.graph_timeout_seconds
        self._max_retries = settings.graph_max_retries
        self._tokens = tokens

    @property
    def max_retries(self) -> int:
        return self._max_retries

    def get(self, path: str, invocation: Invocation) -> GraphReply:
        return self._send("GET", path, invocation, (path,))

    def post(self, path: str, body: Any, invocation: Invocation, carried: Collection[str]) -> GraphReply:
        """`carried`: the Graph requests this call sends (a `$batch` call's item paths), each of which spends the
        retry budget when the call is sent."""
        return self._send("POST", path, invocation, carried, body)

    def _send(
        self, method: str, path: str, invocation: Invocation, carried: Collection[str], body: Any = None
    ) -> GraphReply:
        """Sends and retries while every request the call carries has retries left (GRAPH_MAX_RETRIES for the
        whole invocation, counted per request) and the deadline allows."""
        while True:
            attempt = invocation.count_sends(carried)
            reply = self._reply_or_error(method, path, invocation, body, attempt)
            if isinstance(reply, ApiError):
                if not self.wait_to_retry(attempt, None, reply.code, invocation):
                    raise reply
            elif reply.status not in RETRY_STATUSES or not self.wait_to_retry(
                attempt, reply.retry_after, f"HTTP {reply.status}", invocation
            ):
                return reply

    def _reply_or_error(
        self, method: str, path: str, invocation: Invocation, body: Any, attempt: int
    ) -> GraphReply | ApiError:
        """Graph's reply, or the error for a request that got none (timed out, or Graph unreachable)."""
        try:
            return self._attempt(method, path, invocation, body)
        except requests.Timeout:
            return _timed_out(invocation)
        except requests.RequestException as exc:
            return ApiError(
                503,
                "GraphUnavailable",
                f"Could not reach Microsoft Graph ({type(exc).__name__}) after {attempt} attempt(s).",
                retry_after=OUTAGE_RETRY_AFTER_SECONDS,
            )

    def _attempt(self, method: str, path: str, invocation: Invocation, body: Any) -> GraphReply:
        token = self._tokens.token(invocation.deadline)
        remaining = invocation.deadline.remaining()
        if remaining <= 0:
            raise _timed_out(invocation)
        headers = {"Authorization": "Bearer " + token.value, "client-request-id": invocation.client_request_id}
        if invocation.accept_language:
            headers["Accept-Language"] = invocation.accept_language
        invocation.count_graph_attempt()
        return self._transport.exchange(
            method,
            path,
            headers,
            body,
            timeout=min(self._timeout, remaining),
            deadline=invocation.deadline,
            identity=token.identity,
            request_id_seen=invocation.keep_graph_request_id,
        )

    def wait_to_retry(self, attempt: int, retry_after: float | None, reason: str, invocation: Invocation) -> bool:
        """Waits before attempt + 1 (Retry-After, else backoff) and says yes, or says no at once when the retries
        (GRAPH_MAX_RETRIES) or the deadline are spent. Either way it is logged. `attempt` is the most times any
        request about to be sent again has been sent in this invocation (Invocation.count_sends)."""
        wait = retry_after if retry_after is not None else backoff_seconds(attempt)
        if attempt > self._max_retries or not invocation.deadline.fits(wait):
            log_give_up(invocation, reason, attempt)
            return False
        log_retry(invocation, reason, wait, attempt)
        self._sleep(wait)
        return True


def _timed_out(invocation: Invocation) -> ApiError:
    return ApiError(
        504,
        "GraphTimeout",
        f"Microsoft Graph did not answer within {invocation.deadline.elapsed():.1f} s.",
        retry_after=OUTAGE_RETRY_AFTER_SECONDS,
    )
