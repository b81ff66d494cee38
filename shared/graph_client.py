"""HTTP to Microsoft Graph: one pooled session per process, retries under the invocation's deadline, `$batch`.

Answers come back as `GraphReply`; what they mean for the caller is `graph_answers`' business. A retryable
answer that runs out of retries or time is returned as it is, so the caller sees Graph's own status and
Retry-After (429 stays 429).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.hooks import default_hooks
from requests.structures import CaseInsensitiveDict

from .errors import ApiError
from .graph_answers import GraphReply
from .identity import TokenProvider
from .invocation import Invocation
from .logs import log_give_up, log_retry
from .retry import RETRY_STATUSES, backoff_seconds, retry_after_seconds
from .settings import Settings

BATCH_LIMIT = 20  # Graph's JSON batching takes at most 20 requests per call
POOL_SIZE = 32  # the Python worker's thread pool plus headroom


def build_session(base_url: str) -> requests.Session:
    """Proxy and CA settings are read from the environment once here, not by requests on every call."""
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class GraphClient:
    def __init__(self, settings: Settings, tokens: TokenProvider, session: requests.Session) -> None:
        self._root = _prepared_url(settings.graph_root)
        self._timeout = settings.graph_timeout_seconds
        self._max_retries = settings.graph_max_retries
        self._tokens = tokens
        self._session = session

    def get(self, path: str, call: Invocation) -> GraphReply:
        return self._send("GET", path, call)

    def get_many(self, paths: Sequence[str], call: Invocation) -> list[GraphReply | ApiError]:
        """GETs through `$batch`, 20 at a time; items Graph throttles are sent again in a later round."""
        results: list[GraphReply | ApiError] = [_NO_ANSWER] * len(paths)
        pending = list(range(len(paths)))
        attempt = 0
        while pending:
            attempt += 1
            for start in range(0, len(pending), BATCH_LIMIT):
                chunk = pending[start : start + BATCH_LIMIT]
                try:
                    replies = self._post_batch(chunk, paths, call)
                except ApiError as error:
                    replies = dict.fromkeys(chunk, error)
                for index in chunk:
                    results[index] = replies.get(index, _NO_ANSWER)
            retry = [i for i in pending if isinstance(results[i], GraphReply) and results[i].status in RETRY_STATUSES]
            if not retry:
                break
            asked = [results[i].retry_after for i in retry if results[i].retry_after is not None]
            wait = self._retry_wait(attempt, max(asked) if asked else None, call)
            reason = f"{len(retry)} batch item(s) answered HTTP {results[retry[0]].status}"
            if wait is None:
                log_give_up(call, reason, attempt)
                break
            log_retry(call, reason, wait, attempt)
            time.sleep(wait)
            pending = retry
        return results

    def _post_batch(self, chunk: Sequence[int], paths: Sequence[str], call: Invocation) -> dict[int, GraphReply]:
        body = {"requests": [{"id": str(i), "method": "GET", "url": paths[i]} for i in chunk]}
        reply = self._send("POST", "/$batch", call, body)
        if reply.status != 200:
            return dict.fromkeys(chunk, reply)
        answers = reply.body.get("responses") if isinstance(reply.body, dict) else None
        replies: dict[int, GraphReply] = {}
        for answer in answers if isinstance(answers, list) else []:
            index = _item_index(answer, chunk)
            if index is not None:
                headers = CaseInsensitiveDict(answer.get("headers") or {})
                replies[index] = GraphReply(
                    status=answer["status"],
                    body=answer.get("body"),
                    retry_after=retry_after_seconds(headers),
                    request_id=reply.request_id,
                )
        return replies

    def _send(self, method: str, path: str, call: Invocation, body: Any = None) -> GraphReply:
        attempt = 0
        while True:
            attempt += 1
            failure: ApiError | None = None
            reply: GraphReply | None = None
            try:
                reply = self._attempt(method, path, call, body)
            except requests.Timeout:
                failure = _timed_out(call)
            except requests.RequestException as exc:
                failure = ApiError(
                    503,
                    "GraphUnavailable",
                    f"Could not reach Microsoft Graph ({type(exc).__name__}) after {attempt} attempt(s). "
                    "Try again later.",
                    retry_after=5,
                )
            if reply is not None and reply.status not in RETRY_STATUSES:
                return reply
            reason = f"HTTP {reply.status}" if reply is not None else failure.code
            wait = self._retry_wait(attempt, reply.retry_after if reply is not None else None, call)
            if wait is None:
                log_give_up(call, reason, attempt)
                if failure is not None:
                    raise failure
                return reply
            log_retry(call, reason, wait, attempt)
            time.sleep(wait)

    def _attempt(self, method: str, path: str, call: Invocation, body: Any) -> GraphReply:
        token = self._tokens.token(call.deadline)
        remaining = call.deadline.remaining()
        if remaining <= 0:
            raise _timed_out(call)
        headers = {
            "Authorization": "Bearer " + token,
            "client-request-id": call.client_request_id,
            "Accept": "application/json",
        }
        if call.accept_language:
            headers["Accept-Language"] = call.accept_language
        call.graph_attempts += 1
        timeout = min(self._timeout, remaining)
        response = self._session.send(self._prepare(method, path, headers, body), timeout=timeout)
        request_id = response.headers.get("request-id")
        if request_id:
            call.graph_request_id = request_id
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        return GraphReply(response.status_code, parsed, retry_after_seconds(response.headers), request_id)

    def _prepare(self, method: str, path: str, headers: dict[str, str], body: Any) -> requests.PreparedRequest:
        """What `Session.request` would send, less its per-call work that cannot change anything here: the URL
        is the root (prepared once) plus segments already percent-encoded, and the session's settings are fixed
        (no cookies, auth or params). About a quarter of a warm invocation."""
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = self._root + path
        prepared.headers = CaseInsensitiveDict({**self._session.headers, **headers})
        prepared.hooks = default_hooks()
        if body is not None:
            prepared.prepare_body(None, None, json=body)
        return prepared

    def _retry_wait(self, attempt: int, retry_after: float | None, call: Invocation) -> float | None:
        """Seconds to wait before the next attempt, or None when retries or the deadline are spent."""
        if attempt > self._max_retries:
            return None
        wait = retry_after if retry_after is not None else backoff_seconds(attempt)
        return wait if call.deadline.fits(wait) else None


_NO_ANSWER = GraphReply(status=0, body=None)


def _prepared_url(url: str) -> str:
    """The URL as requests would send it (IDNA host, re-quoted path), worked out once instead of per call."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    return prepared.url


def _item_index(answer: Any, chunk: Sequence[int]) -> int | None:
    """Graph answers batch items in any order; only an id we sent, with a status, counts."""
    if not isinstance(answer, dict) or not isinstance(answer.get("status"), int):
        return None
    item_id = answer.get("id")
    if not isinstance(item_id, str) or not item_id.isdigit() or int(item_id) not in chunk:
        return None
    return int(item_id)


def _timed_out(call: Invocation) -> ApiError:
    return ApiError(
        504,
        "GraphTimeout",
        f"Microsoft Graph did not answer within {call.deadline.elapsed():.1f} s. Try again later.",
        retry_after=5,
    )
