"""What shared/graph_transport.py relies on in requests and urllib3 beyond their documented API, one behaviour a test.

Each test uses requests and urllib3 the way the transport does (build_session's pooled adapter, `send` with
`stream=True`, `raw.read1(decode_content=False)`, `raw.connection.sock`) against a loopback server that sends each
answer piece by piece when the test opens a gate, so no test waits on a clock to order events. When a release of
requests or urllib3 changes one of these behaviours, its test fails and says what the transport would lose.
`make transport-check` runs this file against the newest releases (docs/development.md).
"""

from __future__ import annotations

import gzip
import inspect
import io
import json
import queue
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import urllib3

from shared.deadline import Deadline
from shared.graph_transport import ACCEPT_ENCODING, GraphTransport, build_session

PAYLOAD = json.dumps({"value": "https://visit.teams.microsoft.com/webrtc-svc/api/route?tid=x&convId=y"}).encode()
RESET = "reset"  # a script step: drop the connection with a TCP reset
STEP_SECONDS = 10.0  # the most a server thread waits at a gate or for a script: only reached when a test fails


class ScriptedServer:
    """HTTP/1.1 on loopback (port 0) that answers each request with the next script queued: bytes to send, gates
    (threading.Event) to wait at, or RESET. Counts connections and keeps each request as received."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.scripts: queue.Queue[list[bytes | threading.Event | str]] = queue.Queue()
        self.requests: list[bytes] = []
        self.connections = 0
        self._gates: list[threading.Event] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def answer(self, *steps: bytes | threading.Event | str) -> None:
        self.scripts.put(list(steps))

    def gate(self) -> threading.Event:
        event = threading.Event()
        self._gates.append(event)
        return event

    def close(self) -> None:
        for event in self._gates:
            event.set()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = next(
                    (int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")), 0
                )
                self.requests.append(head + reader.read(length))
                for step in self.scripts.get(timeout=STEP_SECONDS):
                    if isinstance(step, threading.Event):
                        step.wait(STEP_SECONDS)
                    elif step == RESET:
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        return
                    else:
                        assert isinstance(step, bytes)
                        conn.sendall(step)
        except (OSError, queue.Empty):
            return
        finally:
            reader.close()
            conn.close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


def head(framing: str, length: int = 0, coding: str | None = None) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: application/json"]
    lines.append("Transfer-Encoding: chunked" if framing == "chunked" else f"Content-Length: {length}")
    if coding:
        lines.append(f"Content-Encoding: {coding}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def framed(framing: str, piece: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(piece), piece) if framing == "chunked" else piece


def end(framing: str) -> bytes:
    return b"0\r\n\r\n" if framing == "chunked" else b""


def send(adapter: Any, url: str, timeout: float) -> requests.Response:
    """What GraphTransport.exchange does: a prepared GET straight to the pooled adapter, body left unread."""
    prepared = requests.Request("GET", url + "/x").prepare()
    return adapter.send(prepared, stream=True, timeout=timeout)


def read_all(raw: Any) -> bytes:
    parts = []
    while chunk := raw.read1(decode_content=False):
        parts.append(chunk)
    return b"".join(parts)


def idle_connections(adapter: Any) -> list[Any]:
    """The connections idle in the adapter's pools (urllib3 keeps them in a LifoQueue, with None for room)."""
    pools = adapter.poolmanager.pools  # a RecentlyUsedContainer: it has keys() but refuses iteration
    return [conn for key in pools.keys() for conn in list(pools[key].pool.queue) if conn is not None]  # noqa: SIM118


FRAMINGS = ["content-length", "chunked"]


def test_urllib3_responses_have_read1_that_can_leave_the_body_undecoded():
    """The transport reads every body with `raw.read1(decode_content=False)`; urllib3 has it from 2.2.0 on."""
    read1 = getattr(urllib3.HTTPResponse, "read1", None)
    assert read1 is not None, f"urllib3 {urllib3.__version__}: HTTPResponse has no read1"
    assert "decode_content" in inspect.signature(read1).parameters, (
        f"urllib3 {urllib3.__version__}: HTTPResponse.read1 takes no decode_content"
    )


def test_send_with_stream_returns_at_the_headers_and_holds_the_connection(server):
    """The transport reads the body itself, under the deadline, through the connection the response holds."""
    adapter = build_session(server.url, 2).get_adapter(server.url)
    body_may_go = server.gate()
    server.answer(head("content-length", len(PAYLOAD)), body_may_go, PAYLOAD)
    response = send(adapter, server.url, timeout=STEP_SECONDS)
    assert response.status_code == 200
    assert response.raw.connection is not None, "send(stream=True) no longer leaves the connection with the response"
    body_may_go.set()
    assert read_all(response.raw) == PAYLOAD


@pytest.mark.parametrize("framing", FRAMINGS)
def test_read1_undecoded_returns_what_one_socket_read_brought(server, framing):
    """A read that waited for more than one socket read could outlast the deadline by many timeouts."""
    adapter = build_session(server.url, 2).get_adapter(server.url)
    compressed = gzip.compress(PAYLOAD)
    first, rest = compressed[:10], compressed[10:]  # a gzip header: a decoding read would wait for more
    more_may_go = server.gate()
    server.answer(
        head(framing, len(compressed), "gzip"), framed(framing, first), more_may_go, framed(framing, rest), end(framing)
    )
    response = send(adapter, server.url, timeout=STEP_SECONDS)
    try:
        got = response.raw.read1(decode_content=False)
    except urllib3.exceptions.ReadTimeoutError:
        pytest.fail("read1(decode_content=False) waited for more than the bytes one socket read brought")
    assert got == first, "read1(decode_content=False) returned other than the bytes on the wire so far"
    more_may_go.set()
    read_all(response.raw)


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_read1_undecoded_gives_the_body_as_sent_dechunked_and_still_compressed(server, framing, coding):
    """The transport decodes the whole body afterwards, once, so the deadline never waits on a decoder."""
    adapter = build_session(server.url, 2).get_adapter(server.url)
    compressed = gzip.compress(PAYLOAD) if coding == "gzip" else zlib.compress(PAYLOAD)
    pieces = [framed(framing, compressed[at : at + 7]) for at in range(0, len(compressed), 7)]
    server.answer(head(framing, len(compressed), coding), *pieces, end(framing))
    response = send(adapter, server.url, timeout=STEP_SECONDS)
    assert read_all(response.raw) == compressed


def test_a_timeout_set_on_the_connections_socket_bounds_the_next_read(server):
    """The deadline reaches each body read through `raw.connection.sock.settimeout`, and a read that times out
    raises urllib3's ReadTimeoutError, which the transport turns into requests.Timeout."""
    adapter = build_session(server.url, 2).get_adapter(server.url)
    server.answer(head("content-length", 10), b"x", server.gate())  # then nothing, until the test ends
    response = send(adapter, server.url, timeout=STEP_SECONDS)
    assert response.raw.read1(decode_content=False) == b"x"
    connection = response.raw.connection
    assert connection is not None and connection.sock is not None, "raw.connection.sock is gone"
    connection.sock.settimeout(0.05)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        response.raw.read1(decode_content=False)
    assert time.monotonic() - started < STEP_SECONDS / 2, "the socket's timeout no longer bounds the read"
    response.close()


@pytest.mark.parametrize("framing", FRAMINGS)
def test_the_read_that_ends_the_body_lets_the_connection_go_and_raw_connection_is_none_after(server, framing):
    """The transport looks `raw.connection` up before every read and touches it only while it is not None: were a
    released connection still returned there, the transport would set a timeout on a connection in the pool,
    which another thread may be using (that was a production bug)."""
    adapter = build_session(server.url, 2).get_adapter(server.url)
    server.answer(
        head(framing, len(PAYLOAD)), framed(framing, PAYLOAD[:20]), framed(framing, PAYLOAD[20:]), end(framing)
    )
    server.answer(head(framing, len(PAYLOAD)), framed(framing, PAYLOAD), end(framing))
    response = send(adapter, server.url, timeout=STEP_SECONDS)
    held = response.raw.connection
    while True:
        chunk = response.raw.read1(decode_content=False)
        connection = response.raw.connection
        assert connection is None or connection not in idle_connections(adapter), (
            "raw.connection still names a connection urllib3 has put back in the pool"
        )
        if not chunk:
            break
    assert response.raw.connection is None, "raw.connection is not None after the body ended"
    assert held in idle_connections(adapter), "the connection did not go back to the pool"
    again = send(adapter, server.url, timeout=STEP_SECONDS)
    assert again.raw.connection is held and server.connections == 1
    assert read_all(again.raw) == PAYLOAD


def test_with_the_pool_full_the_read_that_ends_the_body_closes_the_connection_and_lets_it_go(server):
    """More calls in flight than the pool keeps: the connection that finds the pool full is closed inside the read
    that ends its body, and `raw.connection` is None after, so no timeout is set on a closed socket (EBADF)."""
    adapter = build_session(server.url, 1).get_adapter(server.url)
    gates = [server.gate(), server.gate()]
    for gate in gates:
        server.answer(head("content-length", len(PAYLOAD)), gate, PAYLOAD)
    first = send(adapter, server.url, timeout=STEP_SECONDS)
    second = send(adapter, server.url, timeout=STEP_SECONDS)  # the pool's one connection is taken: a new one
    assert server.connections == 2
    held = second.raw.connection
    for gate in gates:
        gate.set()
    assert read_all(first.raw) == PAYLOAD  # back to the pool, which is then full
    assert read_all(second.raw) == PAYLOAD
    assert second.raw.connection is None, "raw.connection is not None after the body ended"
    assert held is not None and held.sock is None, "the connection the full pool could not keep was not closed"


def test_a_pooled_connection_gets_the_next_requests_own_timeout(server):
    """The transport leaves a short timeout on the socket it last read; the next call on that connection must not
    inherit it."""
    adapter = build_session(server.url, 2).get_adapter(server.url)
    server.answer(head("content-length", len(PAYLOAD)), PAYLOAD)
    server.answer(head("content-length", len(PAYLOAD)), PAYLOAD)
    response = send(adapter, server.url, timeout=STEP_SECONDS)
    held = response.raw.connection
    while True:  # as the transport reads
        connection = response.raw.connection
        if connection is not None:
            connection.sock.settimeout(0.05)
        if not response.raw.read1(decode_content=False):
            break
    again = send(adapter, server.url, timeout=7.0)
    assert again.raw.connection is held, "the pooled connection was not reused"
    assert held.sock.gettimeout() == 7.0, "a reused connection kept the previous reader's socket timeout"
    read_all(again.raw)


def test_closing_a_response_part_way_drops_its_connection(server):
    """A call cut by the deadline closes its response; the half-read connection must never serve another call."""
    adapter = build_session(server.url, 2).get_adapter(server.url)
    server.answer(head("content-length", len(PAYLOAD)), PAYLOAD[:5], server.gate(), PAYLOAD[5:])
    server.answer(head("content-length", len(PAYLOAD)), PAYLOAD)
    response = send(adapter, server.url, timeout=STEP_SECONDS)
    assert response.raw.read1(decode_content=False) == PAYLOAD[:5]
    response.close()
    again = send(adapter, server.url, timeout=STEP_SECONDS)
    assert read_all(again.raw) == PAYLOAD
    assert server.connections == 2, "the half-read connection was used again"


@pytest.mark.parametrize("framing", FRAMINGS)
def test_a_connection_reset_while_reading_is_an_http_error_or_an_os_error(server, framing):
    """The transport turns exactly these into requests.ConnectionError (retried); anything else would be a 500."""
    adapter = build_session(server.url, 2).get_adapter(server.url)
    server.answer(head(framing, len(PAYLOAD)), framed(framing, PAYLOAD[:5]), RESET)
    response = send(adapter, server.url, timeout=STEP_SECONDS)
    try:
        read_all(response.raw)
    except (urllib3.exceptions.HTTPError, OSError):
        pass
    else:
        assert framing == "content-length", "a chunked body cut short read as complete"


def test_a_read_timeout_before_the_headers_is_requests_timeout(server):
    """GraphClient answers 504 GraphTimeout (and retries while time is left) on requests.Timeout."""
    adapter = build_session(server.url, 2).get_adapter(server.url)
    server.answer(server.gate())  # no answer until the test ends
    with pytest.raises(requests.Timeout):
        send(adapter, server.url, timeout=0.05)


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("gzip", lambda data: gzip.compress(data[:9]) + gzip.compress(data[9:])),  # two members, as gzip allows
        ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 defines deflate
        ("deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw deflate, as some servers send it
    ],
    ids=["gzip", "gzip-two-members", "deflate-zlib", "deflate-raw"],
)
def test_urllib3_decodes_a_whole_body_through_its_public_constructor(coding, encode):
    """The transport decodes the body it read undecoded with `HTTPResponse(body=..., headers=...)`, preloaded."""
    decoded = urllib3.HTTPResponse(
        body=io.BytesIO(encode(PAYLOAD)), headers={"Content-Encoding": coding}, preload_content=True
    ).data
    assert decoded == PAYLOAD


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("deflate", b"\x78\x9c not zlib"),
        ("gzip", b"\x1f\x8b\x08\x00 this is not what it says"),
        ("gzip", gzip.compress(PAYLOAD)[:-12]),  # cut before the end of the stream
    ],
    ids=["deflate-garbage", "gzip-garbage", "gzip-truncated"],
)
def test_a_body_that_does_not_decode_raises_decode_error_or_gives_less_than_the_body(coding, body):
    """The transport reads such a body as no JSON (a 502 GraphError): urllib3 may raise DecodeError, which it
    catches, or give what it could decode, which is not the JSON sent; any other exception would be a 500."""
    try:
        decoded = urllib3.HTTPResponse(
            body=io.BytesIO(body), headers={"Content-Encoding": coding}, preload_content=True
        ).data
    except urllib3.exceptions.DecodeError:
        return
    assert decoded != PAYLOAD


def test_a_request_built_field_by_field_goes_out_as_session_request_sends_it(server):
    """GraphTransport skips Session.request's per-call work by filling a PreparedRequest itself: the bytes on the
    wire must be the ones Session.request would have sent."""
    session = build_session(server.url, 2)
    transport = GraphTransport(session, server.url + "/v1.0")
    body = {"requests": [{"id": "0", "method": "GET", "url": "/users/a%40b/onlineMeetings"}]}
    headers = {"Authorization": "Bearer t", "client-request-id": "c"}
    for _ in range(2):
        server.answer(head("content-length", 2), b"{}")
    transport.exchange("POST", "/$batch", headers, body, timeout=STEP_SECONDS, deadline=Deadline(STEP_SECONDS))
    expected = {**headers, "Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
    session.post(server.url + "/v1.0/$batch", json=body, headers=expected, timeout=STEP_SECONDS, stream=False)
    ours, theirs = (request.split(b"\r\n\r\n", 1) for request in server.requests)
    assert ours[1] == theirs[1], "the JSON body differs"
    assert ours[0].split(b"\r\n")[0] == theirs[0].split(b"\r\n")[0], "the request line differs"
    assert sorted(ours[0].split(b"\r\n")[1:]) == sorted(theirs[0].split(b"\r\n")[1:]), "the headers differ"
