"""shared/graph_transport.py against the emulator: every wire it may speak, the deadline while a body trickles in,
threads sharing a small pool, and calls through GetJoinUrl sharing pooled connections, more of them in flight than
the pool keeps. What it relies on in requests and urllib3 is in test_graph_transport_contract.py.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from devhost.emulator import GraphEmulator
from devhost.emulator.state import Fault, Meeting
from shared.deadline import Deadline
from shared.graph_batch import connections_needed
from shared.graph_paths import appointment_url_path
from shared.graph_transport import GraphTransport, build_session
from shared.token_claims import TokenIdentity
from tests.conftest import ORGANIZER_ID, by_id

IDENTITY = TokenIdentity("client", "object", "tenant", (), None, None, delegated=False)
TRICKLE_GAP = 3.0  # seconds between the bytes of a trickled body: longer than the deadlines below
DEADLINE = 0.05  # far inside TIMEOUT, so only the deadline can cut a trickled body in time
TIMEOUT = 5.0  # requests' own timeout: it bounds each read, so alone it would wait out every gap


@pytest.fixture
def graph(emulator: GraphEmulator) -> GraphEmulator:
    emulator.reset()
    return emulator


def transport_to(emulator: GraphEmulator, pool_size: int = 2) -> GraphTransport:
    return GraphTransport(build_session(emulator.base_url, pool_size), emulator.base_url + "/v1.0")


def bearer(emulator: GraphEmulator) -> dict[str, str]:
    return {"Authorization": "Bearer " + emulator.issue_token(emulator.base_url)["access_token"]}


def ask_join_url(transport: GraphTransport, emulator: GraphEmulator, meeting: Meeting, deadline: float, **kw):
    path = appointment_url_path(meeting.organizer_id, meeting.meeting_id)
    return transport.exchange(
        "GET", path, bearer(emulator), None, timeout=TIMEOUT, deadline=Deadline(deadline), identity=IDENTITY, **kw
    )


def test_an_answer_on_every_wire_comes_back_as_graph_sent_it(graph, wire):
    meeting = graph.add_meeting(ORGANIZER_ID)
    heard: list[str] = []
    reply = ask_join_url(transport_to(graph), graph, meeting, 10, request_id_seen=heard.append)
    assert (reply.status, reply.body["value"]) == (200, meeting.appointment_url)
    assert reply.request_id and heard == [reply.request_id]
    assert (reply.retry_after, reply.identity) == (None, IDENTITY)
    [sent] = graph.graph_calls()
    assert sent.headers["Accept-Encoding"] == "gzip, deflate"


def test_a_json_body_is_posted_on_every_wire(graph, wire):
    meeting = graph.add_meeting(ORGANIZER_ID)
    item = {"id": "0", "method": "GET", "url": appointment_url_path(ORGANIZER_ID, meeting.meeting_id)}
    reply = transport_to(graph).exchange(
        "POST", "/$batch", bearer(graph), {"requests": [item]}, timeout=TIMEOUT, deadline=Deadline(10)
    )
    [answer] = reply.body["responses"]
    assert (reply.status, answer["status"], answer["body"]["value"]) == (200, 200, meeting.appointment_url)


def test_status_and_retry_after_come_back_as_they_are(graph):
    graph.state.graph_faults.append(Fault(status=429, retry_after="7"))
    reply = ask_join_url(transport_to(graph), graph, graph.add_meeting(ORGANIZER_ID), 10)
    assert (reply.status, reply.retry_after, reply.body["error"]["code"]) == (429, 7.0, "ServiceUnavailable")


@pytest.mark.parametrize(
    "body",
    [b"\x1f\x8b\x08\x00 this is not what it says", b"[" * 100_000, b"<html>"],
    ids=["not-gzip", "absurdly-deep", "not-json"],
)
def test_a_body_that_cannot_be_read_has_no_json(graph, body):
    headers = {"Content-Encoding": "gzip"} if body.startswith(b"\x1f\x8b") else {}
    graph.state.graph_faults.append(Fault(status=200, body=body, headers=headers))
    reply = ask_join_url(transport_to(graph), graph, graph.add_meeting(ORGANIZER_ID), 10)
    assert (reply.status, reply.body) == (200, None)


def test_a_trickled_answer_is_cut_at_the_deadline_on_every_wire_and_its_connection_dropped(graph, wire):
    """Compressed or not, chunked or not. Every gap is under requests' timeout, so only the deadline cuts it: with
    the send timeout alone the call would end at the first gap that outlasts the deadline (3 s, not 0.1). The bound
    tells which of the two ended the call, not how fast it was."""
    meeting = graph.add_meeting(ORGANIZER_ID)
    transport = transport_to(graph)
    graph.state.graph_faults.append(Fault(trickle=TRICKLE_GAP))
    heard: list[str] = []
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        ask_join_url(transport, graph, meeting, DEADLINE, request_id_seen=heard.append)
    assert time.monotonic() - started < TRICKLE_GAP / 2
    assert len(heard) == 1  # the headers were in: the cut call names Graph's request-id
    reply = ask_join_url(transport, graph, meeting, 10)
    assert (reply.status, reply.body["value"]) == (200, meeting.appointment_url)
    assert graph.state.connections == 2  # the half-read connection was dropped, not pooled


def test_threads_over_a_small_pool_each_get_their_own_answer(graph, wire):
    """Eight threads on a pool of two: most connections are opened for one call and closed inside the read that
    ends its body, others go back to the pool for another thread. Each thread asks for its own meeting, so a reply
    read off another's connection shows."""
    assert sorted(calls_on_a_small_pool(graph, cut=0, deadline=10)) == ["own"] * 32


def test_answers_cut_mid_body_beside_answers_read_whole_on_a_small_pool(graph):
    """The same, with four answers trickling and cut at the deadline while the others are read on their
    connections: a cut touches only its own connection."""
    assert sorted(calls_on_a_small_pool(graph, cut=4, deadline=0.3)) == ["cut"] * 4 + ["own"] * 28


def calls_on_a_small_pool(graph: GraphEmulator, cut: int, deadline: float) -> list[str]:
    """8 threads x 4 calls over a pool of 2, `cut` of them trickled: "own" for the thread's own join URL, "cut"."""
    transport = transport_to(graph, pool_size=2)
    meetings = [graph.add_meeting(ORGANIZER_ID) for _ in range(8)]
    graph.state.graph_latency = 0.01  # calls overlap
    graph.state.graph_faults.extend([Fault(trickle=TRICKLE_GAP)] * cut)
    start = threading.Barrier(len(meetings))

    def one(meeting: Meeting) -> list[str]:
        start.wait(timeout=10)
        outcomes = []
        for _ in range(4):
            try:
                reply = ask_join_url(transport, graph, meeting, deadline)
                outcomes.append("own" if reply.body["value"] == meeting.appointment_url else repr(reply.body))
            except requests.Timeout:
                outcomes.append("cut")
        return outcomes

    with ThreadPoolExecutor(len(meetings)) as pool:
        return [outcome for per_thread in pool.map(one, meetings) for outcome in per_thread]


def test_sequential_calls_share_one_pooled_connection(get_join_url, meeting, emulator):
    for _ in range(10):
        assert get_join_url(params=by_id(meeting)).status == 200
    assert emulator.state.connections <= 2  # one to the identity endpoint, one to Graph


def test_more_calls_in_flight_than_pooled_connections_all_answer(get_join_url, meeting, configure, emulator, wire):
    """With more invocations at once than the pool keeps, urllib3 closes the connections it cannot pool
    inside the read that ends each answer; nothing may touch them afterwards (that was a 500 on EBADF). On every
    wire: the read that ends a chunked answer is the one that reads its last chunk's trailer."""
    configure(PYTHON_THREADPOOL_THREAD_COUNT="1")
    emulator.state.graph_latency = 0.03  # every call in flight at once
    threads, rounds = 4 * connections_needed(1), 3  # four times the pool
    start = threading.Barrier(threads)

    def one(_: int) -> list[int]:
        start.wait(timeout=10)
        return [get_join_url(params=by_id(meeting)).status for _ in range(rounds)]

    with ThreadPoolExecutor(threads) as pool:
        statuses = [status for answers in pool.map(one, range(threads)) for status in answers]
    assert statuses == [200] * threads * rounds
    assert len(emulator.graph_calls()) == threads * rounds  # each answered at the first try
