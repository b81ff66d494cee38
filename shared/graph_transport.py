"""Graph's wire: a prepared request sent over the pooled session, its answer read under the invocation's deadline,
decoded and handed back as a `GraphReply`.

This is the one module that depends on how requests and urllib3 behave beyond their documented API. Each behaviour
it relies on is stated by a test in tests/test_graph_transport_contract.py, and `make transport-check` runs those
tests against the newest releases before a pin is bumped (docs/development.md).

Why it reaches into urllib3 at all: requests' timeout bounds each socket read, not the whole answer, so a server
trickling bytes would hold a call past REQUEST_DEADLINE_SECONDS, and urllib3 has no public way to change a
response's read timeout once it is sent. The designs on public APIs only were measured and fell short
(docs/operations.md, "The transport"): the send timeout alone lets a trickle run one read timeout (up to
GRAPH_TIMEOUT_SECONDS) past the deadline; `HTTPResponse.shutdown()` at the deadline can hit a connection that the
read ending the body has just handed to another thread (on TLS that thread's request, bearer token included, then
goes out unencrypted); a timer thread per call costs the warm-call target.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from .deadline import Deadline
from .retry import retry_after_seconds
from .token_claims import TokenIdentity

# The codings Graph may compress an answer with, named here rather than taken from requests' default: that one
# grows with what is importable (br with brotli, zstd on Python 3.14), and these two are what the tests cover.
# urllib3 decodes both whatever else is installed.
ACCEPT_ENCODING = "gzip, deflate"


class GraphReply(NamedTuple):
    status: int
    body: Any
    retry_after: float | None = None
    request_id: str | None = None
    identity: TokenIdentity | None = None  # who the token that asked says the function is: explains a 401/403


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


class GraphTransport:
    """Requests to one root URL over a session's pooled adapter, each answer read whole under a deadline."""

    def __init__(self, session: requests.Session, root: str) -> None:
        self.root = _prepared_url(root)
        self._verify = True if session.verify is None else session.verify  # None is requests' "the default"
        self._proxies = session.proxies
        self._headers = CaseInsensitiveDict(
            {
                **{name: _text(value) for name, value in session.headers.items()},
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
            }
        )
        # Straight to the pooled adapter: Session.send would add cookie, hook and redirect handling, none of
        # which a Graph call needs, and a bearer token must never follow a redirect.
        self._adapter = session.get_adapter(self.root)

    def exchange(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: Any,
        *,
        timeout: float,
        deadline: Deadline,
        identity: TokenIdentity | None = None,
        request_id_seen: Callable[[str], None] | None = None,
    ) -> GraphReply:
        """`path` is appended to the root as it is (its segments already percent-encoded); `body`, when not None,
        goes as JSON. `timeout` bounds the connection and each read of the status line and headers; the body is
        read within `deadline`. `request_id_seen` hears Graph's request-id as soon as the headers are in, so a
        call cut while the body arrives still names it.

        Raises requests.Timeout when a read times out or the deadline passes, another requests.RequestException
        when the connection fails; either way the connection is dropped, never pooled half-read.
        """
        merged = CaseInsensitiveDict(self._headers)
        merged.update(headers)
        response = self._adapter.send(
            self._prepare(method, path, merged, body),
            stream=True,
            timeout=timeout,
            verify=self._verify,
            proxies=self._proxies,
        )
        request_id = response.headers.get("request-id")
        if request_id and request_id_seen is not None:
            request_id_seen(request_id)
        content = _read_body(response, deadline)
        return GraphReply(
            response.status_code,
            _parsed(content, response.headers.get("Content-Encoding")),
            retry_after_seconds(response.headers.get("Retry-After")),
            request_id,
            identity,
        )

    def _prepare(
        self, method: str, path: str, headers: CaseInsensitiveDict[str], body: Any
    ) -> requests.PreparedRequest:
        """What `Session.request` would send, less its per-call work that cannot change anything here: the URL
        is the root (prepared once) plus segments already percent-encoded, and the session's settings are fixed
        (no cookies, auth or params). About a quarter of a warm invocation."""
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = self.root + path
        prepared.headers = headers
        if body is not None:
            prepared.prepare_body(None, None, json=body)
        return prepared


def _read_body(response: requests.Response, deadline: Deadline) -> bytes:
    """The body as it came over the wire (de-chunked, still compressed), with what is left of the deadline as the
    timeout of every socket read.

    The socket of `raw.connection` (http.client's `sock`) gets that timeout before each read. That is why the bytes
    are read undecoded and decoded afterwards (`_parsed`): urllib3's decoding reads (`read1`, `read` or `stream`
    with `decode_content=True`) go back to the socket, within one call, for as long as the decoder has nothing to
    give (a gzip header, a deflate block's tables), so one such call could outlast the deadline by many timeouts.
    `read1` without decoding makes one socket read per call.

    urllib3 lets the connection go inside the read that reaches the end of the body: back to the pool, where
    another thread may take it at once, or closed when the pool is full. After that `raw.connection` is None, so
    it is looked up again before every read, in this thread, and nothing touches a socket this response no longer
    holds (caching the socket was a 500 on EBADF, and a timeout set on another thread's connection). The next user
    of a pooled connection sets its own timeout on it. A failure part-way drops the connection instead of returning
    it to the pool; an OSError on the way is a connection error like any other.
    """
    raw: urllib3.HTTPResponse = response.raw
    parts: list[bytes] = []
    try:
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise requests.Timeout("the deadline passed while Graph was sending its answer")
            connection = raw.connection  # None once urllib3 has let the connection go
            if connection is not None and connection.sock is not None:
                connection.sock.settimeout(remaining)
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
    decoders through `HTTPResponse`'s public constructor, fed the whole body at once); None when there is none or it
    cannot be read: not JSON, absurdly deep (RecursionError), or a body that does not decode as its
    Content-Encoding says."""
    try:
        if content_encoding and content:
            headers = {"Content-Encoding": content_encoding}
            content = urllib3.HTTPResponse(body=io.BytesIO(content), headers=headers, preload_content=True).data
        return json.loads(content) if content else None
    except (ValueError, RecursionError, urllib3.exceptions.DecodeError):
        return None


def _text(value: str | bytes) -> str:
    """A header value requests allows as bytes, as it would send it."""
    return value if isinstance(value, str) else value.decode("latin-1")


def _prepared_url(url: str) -> str:
    """The URL as requests would send it (IDNA host, re-quoted path), worked out once instead of per call."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    assert prepared.url is not None  # prepare_url always sets it, or raises
    return prepared.url
