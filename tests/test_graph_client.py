"""shared/graph_client.py: Graph calls retried on 429, 503, 504, a reset or a timeout while GRAPH_MAX_RETRIES and the
deadline allow, after Retry-After or backoff, and passed on as Graph answered when they do not.

Settings come from conftest: 1 s per Graph attempt, a 3 s deadline, 3 retries. Waits pass at once on the virtual
clock, which records them (`clock.waits`), so each test asserts the waits themselves. Hangs and trickles are real,
against timeouts of a fraction of a second, each built so that a timeout that did not act lets the call succeed, and
the test fail.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from devhost.emulator.state import Fault, Meeting
from shared import app
from shared.errors import ApiError
from shared.graph_client import GraphClient
from shared.graph_paths import appointment_url_path
from shared.invocation import Invocation
from shared.retry import BACKOFF_BASE_SECONDS
from tests.conftest import ORGANIZER_ID, by_id
from tests.virtual_clock import VirtualClock


def backoff_range(attempt: int) -> tuple[float, float]:
    """The least and most backoff_seconds(attempt) waits: half to all of its ceiling."""
    ceiling = BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)
    return ceiling / 2, ceiling


@pytest.fixture
def graph(configure, clock) -> GraphClient:
    """The process's GraphClient, as shared/app.py builds it from the test settings, on the virtual clock."""
    return app.components().graph


def invocation(clock: VirtualClock, deadline_seconds: float = 3.0) -> Invocation:
    return Invocation.start("GetJoinUrl", {}, deadline_seconds, clock)


def join_url_path(meeting: Meeting) -> str:
    return appointment_url_path(meeting.organizer_id, meeting.meeting_id)


# --- the client on its own -----------------------------------------------------------------------------------------


def test_a_reply_comes_back_as_graph_sent_it_and_each_send_is_counted(graph, meeting, clock):
    called = invocation(clock)
    reply = graph.get(join_url_path(meeting), called)
    assert (reply.status, reply.body["value"]) == (200, meeting.appointment_url)
    assert reply.request_id and called.graph_request_id == reply.request_id
    assert (called.graph_attempts, called.times_sent(join_url_path(meeting))) == (1, 1)


def test_a_retryable_reply_out_of_retries_is_returned_as_graph_sent_it(graph, meeting, configure, emulator, clock):
    """A 429 stays a 429 with Graph's Retry-After, so the caller sees Graph's own status and wait."""
    configure(GRAPH_MAX_RETRIES="1")
    graph = app.components().graph
    emulator.state.graph_faults.extend([Fault(status=429, retry_after="2")] * 2)
    called = invocation(clock)
    reply = graph.get(join_url_path(meeting), called)
    assert (reply.status, reply.retry_after) == (429, 2.0)
    assert called.times_sent(join_url_path(meeting)) == 2 and clock.waits == [2.0]


def test_a_wait_is_taken_only_when_a_request_still_fits_after_it(graph, clock):
    """The deadline keeps 0.25 s (RESERVE_SECONDS) for the request after a wait; retries are counted per request."""
    called = invocation(clock, deadline_seconds=3.0)
    assert graph.wait_to_retry(1, 2.5, "HTTP 429", called) is True
    assert graph.wait_to_retry(1, 0.4, "HTTP 429", called) is False  # 2.5 s spent: 0.4 + 0.25 no longer fit
    assert graph.wait_to_retry(graph.max_retries + 1, 0.0, "HTTP 429", invocation(clock)) is False
    assert clock.waits == [2.5]


def test_a_hanging_try_is_cut_at_the_deadline_not_at_its_own_timeout(graph, meeting, configure, emulator, clock):
    """GRAPH_TIMEOUT_SECONDS (30 s) is longer than what is left of the deadline (0.1 s): the socket waits only that.
    Graph answers after 10 s, and the bound is half of that: it tells which timeout ended the wait, not how fast."""
    configure(GRAPH_TIMEOUT_SECONDS="30")
    graph = app.components().graph
    graph.get(join_url_path(meeting), invocation(clock))  # the token is in hand: the deadline is Graph's alone
    emulator.state.graph_faults.append(Fault(delay=10))
    started = time.monotonic()
    with pytest.raises(ApiError) as raised:
        graph.get(join_url_path(meeting), invocation(clock, deadline_seconds=0.1))
    assert (raised.value.status, raised.value.code) == (504, "GraphTimeout")
    assert time.monotonic() - started < 5
    assert len(emulator.graph_calls()) == 2  # no time left for another try


def test_an_answer_trickling_in_is_cut_at_the_deadline(graph, meeting, emulator, clock):
    """Each byte comes within GRAPH_TIMEOUT_SECONDS (1 s), the whole answer in about 30 s: only the deadline (0.1 s)
    ends the call in time. On Graph's own wire, gzip and chunked, whose header alone is ten of these bytes (2 s);
    tests/test_graph_transport.py cuts a trickle on every wire."""
    graph.get(join_url_path(meeting), invocation(clock))  # the token is in hand
    emulator.state.graph_faults.append(Fault(trickle=0.2))
    with pytest.raises(ApiError) as raised:
        graph.get(join_url_path(meeting), invocation(clock, deadline_seconds=0.1))
    assert (raised.value.status, raised.value.code) == (504, "GraphTimeout")


# --- through GetJoinUrl --------------------------------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out_then_answered(get_join_url, meeting, configure, emulator, clock):
    configure(REQUEST_DEADLINE_SECONDS="60")
    emulator.state.graph_faults.append(Fault(status=429, retry_after="30"))
    answer = get_join_url(params=by_id(meeting))
    assert answer.status == 200
    assert len(emulator.graph_calls()) == 2
    assert clock.waits == [30.0]  # Graph's Retry-After, exactly


@pytest.mark.parametrize(("retry_after", "waited"), [("9", [9.0]), ("9.8", [])], ids=["fits", "does-not-fit"])
def test_request_deadline_seconds_decides_which_waits_are_taken(
    get_join_url, meeting, configure, emulator, clock, retry_after, waited
):
    """A 10 s deadline: a 9 s wait leaves time for another try, 9.8 s does not (0.25 s is kept for it), so that 429
    is passed on at once."""
    configure(REQUEST_DEADLINE_SECONDS="10")
    emulator.state.graph_faults.append(Fault(status=429, retry_after=retry_after))
    answer = get_join_url(params=by_id(meeting))
    assert answer.status == (200 if waited else 429)
    assert clock.waits == waited


def test_429_asking_for_more_than_the_deadline_is_passed_on_at_once(get_join_url, meeting, emulator, clock):
    emulator.state.graph_faults.append(Fault(status=429, retry_after="30"))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (429, "Throttled")
    assert answer.headers["Retry-After"] == "30"
    assert answer.body["error"]["retryAfterSeconds"] == 30
    assert "Try again in 30 seconds." in answer.body["error"]["message"]
    assert len(emulator.graph_calls()) == 1
    assert clock.waits == []


def test_two_503s_then_200_answers_200(get_join_url, meeting, emulator, clock):
    emulator.state.graph_faults.extend([Fault(status=503), Fault(status=503)])
    answer = get_join_url(params=by_id(meeting))
    assert answer.status == 200
    assert len(emulator.graph_calls()) == 3
    first, second = clock.waits  # backoff from a small base, doubling
    assert backoff_range(1)[0] <= first <= backoff_range(1)[1] and backoff_range(2)[0] <= second <= backoff_range(2)[1]


def test_503_that_never_clears_is_graph_unavailable_after_all_retries(get_join_url, meeting, emulator):
    emulator.state.graph_faults.extend([Fault(status=503, retry_after="0")] * 4)
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (503, "GraphUnavailable")
    assert "Retry-After" in answer.headers
    assert len(emulator.graph_calls()) == 4  # the first try and GRAPH_MAX_RETRIES=3


def test_503_with_a_retry_after_beyond_the_deadline_is_passed_on(get_join_url, meeting, emulator, clock):
    emulator.state.graph_faults.append(Fault(status=503, retry_after="120"))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (503, "GraphUnavailable")
    assert answer.headers["Retry-After"] == "120"
    assert clock.waits == []


def test_504_and_connection_resets_are_retried(get_join_url, meeting, emulator, clock):
    emulator.state.graph_faults.extend([Fault(status=504), Fault(reset=True)])
    answer = get_join_url(params=by_id(meeting))
    assert answer.status == 200
    assert len(emulator.graph_calls()) == 3
    assert len(clock.waits) == 2


def test_resets_that_never_clear_are_graph_unavailable_within_the_deadline(get_join_url, meeting, emulator, clock):
    emulator.state.graph_faults.extend([Fault(reset=True)] * 4)
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (503, "GraphUnavailable")
    assert len(clock.waits) == len(emulator.graph_calls()) - 1 >= 2  # backed off between tries
    assert sum(clock.waits) < 3.0  # REQUEST_DEADLINE_SECONDS: no wait outlasts it


def test_other_4xx_are_never_retried(get_join_url, meeting, emulator):
    answer = get_join_url(params={"meetingId": "MSpub3RoZXJl", "organizerId": ORGANIZER_ID})
    assert answer.status == 404
    assert len(emulator.graph_calls()) == 1


def test_a_hanging_graph_is_retried_while_time_is_left_then_504(get_join_url, meeting, configure, emulator, clock):
    """Each try hangs past GRAPH_TIMEOUT_SECONDS (0.1 s here): a read timeout is worth a retry while time is left."""
    configure(GRAPH_TIMEOUT_SECONDS="0.1", GRAPH_MAX_RETRIES="1")
    emulator.state.graph_faults.extend([Fault(delay=2, status=200)] * 5)
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (504, "GraphTimeout")
    assert len(emulator.graph_calls()) == 2
    [wait] = clock.waits
    assert backoff_range(1)[0] <= wait <= backoff_range(1)[1]


def test_slow_graph_under_the_attempt_timeout_succeeds(get_join_url, meeting, emulator):
    emulator.state.graph_faults.append(Fault(delay=0.1))
    answer = get_join_url(params=by_id(meeting))
    assert answer.status == 200


def test_an_unreadable_retry_after_falls_back_to_backoff(get_join_url, meeting, emulator, clock):
    emulator.state.graph_faults.append(Fault(status=503, retry_after="\u00b2"))  # a digit to str.isdigit only
    answer = get_join_url(params=by_id(meeting))
    assert answer.status == 200
    assert len(emulator.graph_calls()) == 2
    [wait] = clock.waits
    assert backoff_range(1)[0] <= wait <= backoff_range(1)[1]


def test_retry_after_as_a_date_in_the_minus_0000_zone_is_waited_out(get_join_url, meeting, emulator, clock):
    """A zone that parses to a naive datetime made the wait a TypeError, and the answer a 500."""
    now = format_datetime(datetime.now(UTC).replace(tzinfo=None))
    emulator.state.graph_faults.append(Fault(status=503, retry_after=now))
    answer = get_join_url(params=by_id(meeting))
    assert answer.status == 200
    assert len(emulator.graph_calls()) == 2
    assert clock.waits == [0.0]  # the date is now: no wait left


def test_a_huge_retry_after_is_passed_on_as_at_most_a_day(get_join_url, meeting, emulator):
    emulator.state.graph_faults.append(Fault(status=429, retry_after="9" * 40))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.headers["Retry-After"]) == (429, "86400")
