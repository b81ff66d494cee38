"""HTTP to Microsoft Graph: one pooled session per process, retries under the invocation's deadline.

Answers come back as `GraphReply`; what they mean for the caller is `graph_answers`' business. A retryable
answer that runs out of retries or time is returned as it is, so the caller sees Graph's own status and
Retry-After (429 stays 429).
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Collection
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from .deadline import Deadline
from .errors import ApiError
from .graph_answers import GraphReply
from .identity import TokenProvider
from .invocation import Invocation
from .logs import log_give_up, log_retry
from .retry import OUTAGE_RETRY_AFTER_SECONDS, RETRY_STATUSES, backoff_seconds, retry_after_seconds
from .settings import Settings

# The codings Graph may compress an answer with, named here rather than taken from requests' default: that one
# grows with what is importable (br with brotli, zstd on Python 3.14), and these two are what the tests cover.
# urllib3 decodes both whatever else is installed.
ACCEPT_ENCODING = "gzip, deflate"


def build_session(base_url: str, pool_size: int) -> requests.Session:
    """Proxy and CA settings are read from the environment once here, not by requests on every call.

    The pool keeps up to `pool_size` idle connections. It never blocks: a call that finds none idle opens one of
    its own, which is closed after the call when the pool is full (urllib3 logs "Connection pool is full").
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, pool_block=False)
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
        self._headers = CaseInsensitiveDict(
            {**session.headers, "Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
        )
        # Straight to the pooled adapter: Session.send would add cookie, hook and redirect handling, none of
        # which a Graph call needs, and a bearer token must never follow a redirect.
        self._adapter = session.get_adapter(self._root)

    @property
    def max_retries(self) -> int:
        return self._max_retries

    def get(self, path: str, call: Invocation) -> GraphReply:
        return self._send("GET", path, call, (path,))

    def post(self, path: str, body: Any, call: Invocation, carried: Collection[str]) -> GraphReply:
        """`carried`: the Graph requests this call sends (a `$batch` call's item paths), each of which spends the
        retry budget when the call is sent."""
        return self._send("POST", path, call, carried, body)

    def _send(self, method: str, path: str, call: Invocation, carried: Collection[str], body: Any = None) -> GraphReply:
        """Sends and retries while every request the call carries has retries left (GRAPH_MAX_RETRIES for the
        whole invocation, counted per request) and the deadline allows."""
        while True:
            attempt = call.count_sends(carried)
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
                    f"Could not reach Microsoft Graph ({type(exc).__name__}) after {attempt} attempt(s).",
                    retry_after=OUTAGE_RETRY_AFTER_SECONDS,
                )
            if reply is not None and reply.status not in RETRY_STATUSES:
                return reply
            reason = f"HTTP {reply.status}" if reply is not None else failure.code
            if not self.wait_to_retry(attempt, reply.retry_after if reply is not None else None, reason, call):
                if failure is not None:
                    raise failure
                return reply

    def _attempt(self, method: str, path: str, call: Invocation, body: Any) -> GraphReply:
        token = self._tokens.token(call.deadline)
        remaining = call.deadline.remaining()
        if remaining <= 0:
            raise _timed_out(call)
        headers = CaseInsensitiveDict(self._headers)
        headers["Authorization"] = "Bearer " + token.value
        headers["client-request-id"] = call.client_request_id
        if call.accept_language:
            headers["Accept-Language"] = call.accept_language
        call.count_graph_attempt()
        timeout = min(self._timeout, remaining)
        response = self._adapter.send(
            self._prepare(method, path, headers, body),
            stream=True,
            timeout=timeout,
            verify=self._session.verify,
            proxies=self._session.proxies,
        )
        request_id = response.headers.get("request-id")
        if request_id:
            call.keep_graph_request_id(request_id)
        content = _read_body(response, call.deadline)
        return GraphReply(
            response.status_code,
            _parsed(content, response.headers.get("Content-Encoding")),
            retry_after_seconds(response.headers.get("Retry-After")),
            request_id,
            token.identity,
        )

    def _prepare(
        self, method: str, path: str, headers: CaseInsensitiveDict[str], body: Any
    ) -> requests.PreparedRequest:
        """What `Session.request` would send, less its per-call work that cannot change anything here: the URL
        is the root (prepared once) plus segments already percent-encoded, and the session's settings are fixed
        (no cookies, auth or params). About a quarter of a warm invocation."""
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = self._root + path
        prepared.headers = headers
        if body is not None:
            prepared.prepare_body(None, None, json=body)
        return prepared

    def wait_to_retry(self, attempt: int, retry_after: float | None, reason: str, call: Invocation) -> bool:
        """Waits before attempt + 1 (Retry-After, else backoff) and says yes, or says no at once when the retries
        (GRAPH_MAX_RETRIES) or the deadline are spent. Either way it is logged. `attempt` is the most times any
        request about to be sent again has been sent in this invocation (Invocation.count_sends)."""
        wait = retry_after if retry_after is not None else backoff_seconds(attempt)
        if attempt > self._max_retries or not call.deadline.fits(wait):
            log_give_up(call, reason, attempt)
            return False
        log_retry(call, reason, wait, attempt)
        time.sleep(wait)
        return True


def _read_body(response: requests.Response, deadline: Deadline) -> bytes:
    """The body as it came over the wire (de-chunked, still compressed), with what is left of the deadline as the
    timeout of every socket read.

    requests' timeout bounds each read, not the whole answer: a server trickling bytes would hold the call past
    its deadline. urllib3 has no public way to change a response's read timeout, so the socket of
    `raw.connection` (http.client's `sock`) gets it before each read. That is also why the bytes are read
    undecoded and decoded afterwards (`_parsed`): urllib3's decoding reads (`read1`, `read` or `stream` with
    `decode_content=True`) go back to the socket, within one call, for as long as the decoder has nothing to give
    (a gzip header, a deflate block's tables), so one such call could outlast the deadline by many timeouts.
    `read1` without decoding makes one socket read per call.

    urllib3 lets the connection go inside the read that reaches the end of the body: back to the pool, where
    another thread may take it at once, or closed when the pool is full. After that `raw.connection` is None, so
    it is looked up again before every read and nothing touches a socket this response no longer holds. A failure
    part-way drops the connection instead of returning it to the pool; an OSError on the way is a connection error
    like any other.
    """
    raw = response.raw
    parts: list[bytes] = []
    try:
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise requests.Timeout("the deadline passed while Graph was sending its answer")
            sock = getattr(raw.connection, "sock", None)  # None once urllib3 has let the connection go
            if sock is not None:
                sock.settimeout(remaining)
            chunk = raw.read1(decode_content=False)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)
    except requests.Timeout:  # before OSError: requests' exceptions are OSErrors
        response.close()
        raise
    except urllib3.exceptions.ReadTimeoutError as exc:
        response.close()
        raise requests.Timeout(str(exc)) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        response.close()
        raise requests.ConnectionError(str(exc)) from exc


def _parsed(content: bytes, content_encoding: str | None) -> Any:
    """The JSON Graph sent, decoded from its Content-Encoding as `requests`' `.content` would decode it (urllib3's
    decoders, fed the whole body at once); None when there is none or it cannot be read: not JSON, absurdly deep
    (RecursionError), or a body that does not decode as its Content-Encoding says."""
    try:
        if content_encoding and content:
            headers = {"Content-Encoding": content_encoding}
            content = urllib3.HTTPResponse(body=io.BytesIO(content), headers=headers, preload_content=True).data
        return json.loads(content) if content else None
    except (ValueError, RecursionError, urllib3.exceptions.DecodeError):
        return None


def _prepared_url(url: str) -> str:
    """The URL as requests would send it (IDNA host, re-quoted path), worked out once instead of per call."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    return prepared.url


def _timed_out(call: Invocation) -> ApiError:
    return ApiError(
        504,
        "GraphTimeout",
        f"Microsoft Graph did not answer within {call.deadline.elapsed():.1f} s.",
        retry_after=OUTAGE_RETRY_AFTER_SECONDS,
    )
