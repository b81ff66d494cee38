"""Throttling, outages, hangs and identity faults, each answered in time with something to act on.

Settings come from conftest: 1 s per Graph attempt, a 3 s deadline, 3 retries. Waits before a retry pass at once on
the virtual clock (`clock.waits` holds them); hangs and trickles are real, against timeouts of a fraction of a
second, and each is built so that a timeout that did not act lets the call succeed, and the test fail.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from devhost.emulator import Fault
from shared.errors import ApiError
from shared.graph_batch import connections_needed
from shared.retry import BACKOFF_BASE_SECONDS, OUTAGE_RETRY_AFTER_SECONDS
from tests.conftest import ORGANIZER_ID, by_id, says_its_wait


def backoff_range(attempt: int) -> tuple[float, float]:
    """The least and most backoff_seconds(attempt) waits: half to all of its ceiling."""
    ceiling = BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)
    return ceiling / 2, ceiling


def test_429_with_retry_after_is_waited_out_then_answered(get_join_url, meeting, configure, emulator, clock):
    configure(REQUEST_DEADLINE_SECONDS="60")
    emulator.state.graph_faults.append(Fault(status=429, retry_after="30"))
    answer = get_join_url(params=by_id(meeting))
    assert answer.status == 200
    assert len(emulator.graph_calls()) == 2
    assert clock.waits == [30.0]  # Graph's Retry-After, exactly


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


@pytest.mark.parametrize("status", [503, 504])
@pytest.mark.parametrize("where", ["single", "whole-batch", "batch-item"])
def test_graph_unavailable_without_a_retry_after_carries_a_wait(
    get_join_url, meeting, configure, emulator, status, where
):
    """A 503 of ours always says how long to wait, in the header and the body, as 429 and 504 do: when Graph named
    no wait, the one the function suggests for an outage it measured itself."""
    configure(GRAPH_MAX_RETRIES="0")
    faults = emulator.state.batch_item_faults if where == "batch-item" else emulator.state.graph_faults
    faults.append(Fault(status=status))
    item = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    if where == "single":
        answer = get_join_url(params=item)
        assert answer.headers["Retry-After"] == str(OUTAGE_RETRY_AFTER_SECONDS)
        error = answer.body["error"]
    else:
        error = get_join_url("POST", body={"meetings": [item]}).body["results"][0]["error"]
    assert (error["code"], error["retryAfterSeconds"]) == ("GraphUnavailable", OUTAGE_RETRY_AFTER_SECONDS)
    assert f"Try again in {OUTAGE_RETRY_AFTER_SECONDS} seconds." in error["message"]


FAULTS_WITH_A_WAIT = {
    "Throttled": ("graph", Fault(status=429, retry_after="30")),
    "GraphUnavailable": ("graph", Fault(status=503)),
    "GraphTimeout": ("graph", Fault(delay=2, status=200)),
    "IdentityUnavailable": ("identity", Fault(status=500, body=b"<html>Internal error</html>")),
}


@pytest.mark.parametrize("code", FAULTS_WITH_A_WAIT)
def test_every_error_with_a_retry_after_says_its_wait_in_words(get_join_url, meeting, configure, emulator, code):
    """A flow that retries reads when to try again in the message, as a person does, and when to stop."""
    configure(GRAPH_MAX_RETRIES="0", GRAPH_TIMEOUT_SECONDS="0.1")
    where, fault = FAULTS_WITH_A_WAIT[code]
    (emulator.state.identity_faults if where == "identity" else emulator.state.graph_faults).append(fault)
    answer = get_join_url(params=by_id(meeting))
    error = answer.body["error"]
    assert (error["code"], str(error["retryAfterSeconds"])) == (code, answer.headers["Retry-After"])
    assert says_its_wait(error), error["message"]


def test_identity_unavailable_says_when_to_retry_and_then_who_to_ask(get_join_url, meeting, emulator):
    emulator.state.identity_faults.append(Fault(status=500, body=b"<html>Internal error</html>"))
    message = get_join_url(params=by_id(meeting)).body["error"]["message"]
    assert "Try again in 5 seconds; if it persists, check the function app's Resource health" in message


def test_an_error_with_a_wait_says_it_whatever_its_fix():
    error = ApiError(503, "X", "Down.", fix="Check the thing.", retry_after=2.5)
    assert error.text() == "Down. Try again in 3 seconds; if it persists, check the thing."
    assert ApiError(429, "X", "Busy.", retry_after=1).text() == "Busy. Try again in 1 second."
    assert ApiError(400, "X", "Wrong.", fix="Mend it.").text() == "Wrong. Mend it."


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


def test_a_hanging_try_is_cut_at_the_deadline_not_at_its_own_timeout(get_join_url, meeting, configure, emulator):
    """GRAPH_TIMEOUT_SECONDS (30 s) is longer than what is left of the deadline (0.5 s): the socket waits only that.
    Graph answers after 10 s, and the bound is half of that: it tells which timeout ended the wait, not how fast."""
    configure(GRAPH_TIMEOUT_SECONDS="30", REQUEST_DEADLINE_SECONDS="0.5")
    emulator.state.graph_faults.append(Fault(delay=10))
    started = time.monotonic()
    answer = get_join_url(params=by_id(meeting))
    elapsed = time.monotonic() - started
    assert (answer.status, answer.body["error"]["code"]) == (504, "GraphTimeout")
    assert elapsed < 5
    assert len(emulator.graph_calls()) == 1  # no time left for another


def test_slow_graph_under_the_attempt_timeout_succeeds(get_join_url, meeting, emulator):
    emulator.state.graph_faults.append(Fault(delay=0.1))
    answer = get_join_url(params=by_id(meeting))
    assert answer.status == 200


def test_identity_500_is_identity_unavailable_without_graph(get_join_url, meeting, emulator):
    emulator.state.identity_faults.append(Fault(status=500))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (503, "IdentityUnavailable")
    assert answer.headers["Retry-After"]
    assert emulator.state.graph_requests == []
    assert len(emulator.state.identity_requests) == 1  # azure-identity's own retry loop is off


def test_identity_non_json_500_is_identity_unavailable(get_join_url, meeting, emulator):
    emulator.state.identity_faults.append(Fault(status=500, body=b"<html>Internal error</html>"))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (503, "IdentityUnavailable")
    assert emulator.state.graph_requests == []


@pytest.mark.parametrize(
    ("settings", "cut_by"),
    [
        ({"GRAPH_TIMEOUT_SECONDS": "0.1"}, "Timeout"),  # the credential's socket timeout: GRAPH_TIMEOUT_SECONDS
        ({"GRAPH_TIMEOUT_SECONDS": "10", "REQUEST_DEADLINE_SECONDS": "0.5"}, "no answer in time"),  # the deadline
    ],
    ids=["socket-timeout", "deadline"],
)
def test_hanging_identity_is_identity_unavailable_within_the_deadline(
    get_join_url, meeting, configure, emulator, settings, cut_by
):
    """The endpoint answers after 2 s, so a wait that neither timeout cut would get a token and a 200."""
    configure(**settings)
    emulator.state.identity_faults.append(Fault(delay=2))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (503, "IdentityUnavailable")
    assert cut_by in answer.body["error"]["message"]
    assert emulator.state.graph_requests == []


def test_identity_recovers_at_the_next_call_once_the_endpoint_answers(get_join_url, meeting, emulator):
    """Retry-After 0: azure-identity does not hold the failure (it holds one for the endpoint's Retry-After)."""
    emulator.state.identity_faults.append(Fault(status=500, retry_after="0"))
    assert get_join_url(params=by_id(meeting)).status == 503
    assert get_join_url(params=by_id(meeting)).status == 200
    assert len(emulator.state.identity_requests) == 2  # nothing of ours kept the failure


def test_cold_burst_of_16_threads_makes_one_identity_call(main, get_join_url, meeting, emulator):
    emulator.state.identity_faults.append(Fault(delay=0.2, status=None))  # slow enough that all 16 overlap
    start = threading.Barrier(16)

    def one(_: int) -> int:
        start.wait(timeout=10)
        return get_join_url(params=by_id(meeting)).status

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(one, range(16)))
    assert statuses == [200] * 16
    assert len(emulator.state.identity_requests) == 1
    assert len(emulator.graph_calls()) == 16


def test_sequential_calls_share_one_pooled_connection(get_join_url, meeting, emulator):
    for _ in range(10):
        assert get_join_url(params=by_id(meeting)).status == 200
    assert emulator.state.connections <= 2  # one to the identity endpoint, one to Graph


def test_graph_trickling_its_answer_is_cut_at_the_deadline(get_join_url, meeting, configure, emulator):
    """On Graph's own wire (gzip, chunked); tests/test_graph_transport.py cuts a trickle on every wire. Each byte comes
    within GRAPH_TIMEOUT_SECONDS, the whole answer in about 30 s: only the deadline (0.5 s) ends the call in time. A
    gzip header alone is ten of these bytes: 2 s, four times the deadline, had the decoder read them all at once."""
    configure(REQUEST_DEADLINE_SECONDS="0.5")
    emulator.state.graph_faults.extend([Fault(trickle=0.2)] * 5)  # each read is quick, the whole answer is not
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (504, "GraphTimeout")


def test_whole_batch_failing_is_retried_within_the_retry_budget(get_join_url, meeting, configure, emulator):
    configure(GRAPH_MAX_RETRIES="2")
    emulator.state.graph_faults.extend([Fault(status=503, retry_after="0")] * 10)
    item = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    answer = get_join_url("POST", body={"meetings": [item, item]})
    assert [r["error"]["code"] for r in answer.body["results"]] == ["GraphUnavailable"] * 2
    assert len(emulator.state.graph_requests) == 3  # the first try and 2 retries, not 3 x 3


def batch_item_sends(emulator) -> dict[str, int]:
    """How many times each inner request went to Graph, over every `$batch` call the emulator recorded."""
    sends: dict[str, int] = {}
    for recorded in emulator.state.graph_requests:
        assert recorded.target.endswith("/$batch")
        for item in recorded.body["requests"]:
            sends[item["url"]] = sends.get(item["url"], 0) + 1
    return sends


@pytest.mark.parametrize(
    "whole_call_faults",
    [
        [Fault(status=503, retry_after="0")] * 3 + [Fault()],  # each round: three 503s on the $batch, then through
        [Fault()] + [Fault(status=503, retry_after="0")] * 3,  # a round of throttled items first, then 503s
    ],
    ids=["503s-then-items-throttled", "items-throttled-then-503s"],
)
def test_one_retry_budget_per_request_whatever_mix_of_batch_and_item_failures(
    get_join_url, emulator, configure, whole_call_faults
):
    """GRAPH_MAX_RETRIES bounds the sends of every request: whole-call retries of a `$batch` and rounds of
    throttled items spend the same budget. Separate budgets sent one item (R + 1) ** 2 times."""
    configure(GRAPH_MAX_RETRIES="3", REQUEST_DEADLINE_SECONDS="10")
    meetings = [emulator.add_meeting(ORGANIZER_ID) for _ in range(20)]
    emulator.state.graph_faults.extend(whole_call_faults * 4)
    emulator.state.batch_item_faults.extend([Fault(status=429, retry_after="0")] * 20 * 16)
    items = [{"meetingId": m.meeting_id, "organizerId": ORGANIZER_ID} for m in meetings]
    answer = get_join_url("POST", body={"meetings": items})
    codes = {result["error"]["code"] for result in answer.body["results"]}
    assert codes <= {"Throttled", "GraphUnavailable"}
    sends = batch_item_sends(emulator)
    assert len(sends) == 20
    assert max(sends.values()) == 4  # the first try and GRAPH_MAX_RETRIES=3
    assert len(emulator.state.graph_requests) <= 4


def test_a_redirect_is_not_followed_with_the_token(get_join_url, meeting, emulator):
    elsewhere = emulator.base_url + "/v1.0/elsewhere"
    emulator.state.graph_faults.append(Fault(status=302, headers={"Location": elsewhere}))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (502, "GraphError")
    assert len(emulator.state.graph_requests) == 1


def test_an_unreadable_retry_after_falls_back_to_backoff(get_join_url, meeting, emulator, clock):
    emulator.state.graph_faults.append(Fault(status=503, retry_after="\u00b2"))  # a digit to str.isdigit only
    answer = get_join_url(params=by_id(meeting))
    assert answer.status == 200
    assert len(emulator.graph_calls()) == 2
    [wait] = clock.waits
    assert backoff_range(1)[0] <= wait <= backoff_range(1)[1]


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


def test_graph_answering_absurdly_nested_json_is_graph_error(get_join_url, meeting, emulator):
    emulator.state.graph_faults.append(Fault(status=200, body=b"[" * 100_000))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (502, "GraphError")
