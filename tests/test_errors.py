"""shared/errors.py: an ApiError's message, fix and wait, in words (end to end, every error with a Retry-After says
it), and message parts joined as sentences."""

from __future__ import annotations

import pytest

from devhost.emulator.state import Fault
from shared.errors import ApiError, sentences
from tests.conftest import ORGANIZER_ID, by_id, error_of, says_its_wait


def test_an_error_with_a_wait_says_it_whatever_its_fix():
    error = ApiError(503, "X", "Down.", fix="Check the thing.", retry_after=2.5)
    assert error.text() == "Down. Try again in 3 seconds; if it persists, check the thing."
    assert ApiError(429, "X", "Busy.", retry_after=1).text() == "Busy. Try again in 1 second."
    assert ApiError(400, "X", "Wrong.", fix="Mend it.").text() == "Wrong. Mend it."


@pytest.mark.parametrize(
    ("parts", "joined"),
    [
        (("It failed", "Try again."), "It failed. Try again."),
        (("It failed (HTTP 503)", None, "", "Fix it"), "It failed (HTTP 503). Fix it"),
        (('Graph said: "down."', "Fix it."), 'Graph said: "down." Fix it.'),
        (("Really?", "Yes!"), "Really? Yes!"),
    ],
)
def test_message_parts_are_joined_as_sentences(parts, joined):
    assert sentences(*parts) == joined


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


def test_graphs_words_end_as_a_sentence_before_the_next_one_begins(get_join_url, meeting, emulator, configure):
    configure(GRAPH_MAX_RETRIES="0")
    down = b'{"error": {"code": "ServiceUnavailable", "message": "down"}}'  # Graph's text, with no final period
    emulator.state.graph_faults.append(Fault(status=503, retry_after="5", body=down))
    status, code, message = error_of(
        get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    )
    assert (status, code) == (503, "GraphUnavailable")
    assert message.endswith("Graph said: ServiceUnavailable: down. Try again in 5 seconds.")
