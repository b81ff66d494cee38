"""Graph's wire end to end: answers compressed (gzip or deflate) or not, chunked or not, are read as Graph meant them
on a call by ID, by link, a batch, Diagnose and every kind of refusal. The emulator's side of the wire:
tests/test_emulator.py; the transport's: tests/test_graph_transport.py."""

from __future__ import annotations

import gzip

import pytest
import requests

from devhost.emulator.state import Fault
from tests.conftest import ORGANIZER_ID, ORGANIZER_UPN, by_id


def test_a_call_by_id(get_join_url, meeting, emulator, wire):
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body.get("joinWebUrl")) == (200, meeting.appointment_url)
    [token_request] = emulator.state.identity_requests  # azure-identity offers gzip too, so got its token on the wire
    assert "gzip" in token_request.headers["Accept-Encoding"]


def test_a_call_by_link(get_join_url, meeting, emulator, wire):
    answer = get_join_url(params={"joinUrl": meeting.teams_link, "organizerId": ORGANIZER_UPN})
    assert (answer.status, answer.body.get("joinWebUrl")) == (200, meeting.appointment_url)
    assert len(emulator.graph_calls()) == 2  # the lookup, then the join URL


def test_a_batch(get_join_url, meeting, wire):
    items = [
        by_id(meeting),
        {"joinUrl": meeting.teams_link},
        {"meetingId": "MSpub3RoZXJl", "organizerId": ORGANIZER_ID},
    ]
    answer = get_join_url("POST", body={"meetings": items}, action="batch")
    assert answer.status == 200
    results = answer.body["results"]
    assert [r.get("joinWebUrl") for r in results] == [meeting.appointment_url, meeting.appointment_url, None]
    assert results[2]["error"]["code"] == "MeetingNotFound"


def test_a_policy_403_is_access_policy_missing(get_join_url, meeting, emulator, wire):
    emulator.apply_setup("no-policy")
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (403, "AccessPolicyMissing")
    assert "No application access policy found for this app." in answer.body["error"]["message"]


def test_a_404_carries_graphs_words(get_join_url, meeting, wire):
    answer = get_join_url(params={"meetingId": "MSpub3RoZXJl", "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (404, "MeetingNotFound")
    assert "Graph said: NotFound: The online meeting was not found." in answer.body["error"]["message"]


def test_a_429_then_200(get_join_url, meeting, emulator, wire):
    emulator.state.graph_faults.append(Fault(status=429, retry_after="0"))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body.get("joinWebUrl")) == (200, meeting.appointment_url)
    assert len(emulator.graph_calls()) == 2


def test_diagnose_reads_every_answer(diagnose, meeting, emulator, wire):
    answer = diagnose(organizerId=ORGANIZER_UPN, meetingId=meeting.meeting_id)
    assert answer.body["ok"] is True, answer.body
    emulator.apply_setup("no-policy")
    answer = diagnose(organizerId=ORGANIZER_UPN, meetingId=meeting.meeting_id)
    [policy] = [check for check in answer.body["checks"] if check["name"] == "accessPolicy"]
    assert policy["detail"].startswith("AccessPolicyMissing")


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_body_that_does_not_decode_is_graph_error(get_join_url, meeting, emulator, coding):
    body = b"\x1f\x8b\x08\x00 this is not what it says" if coding == "gzip" else b"\x78\x9c not zlib"
    emulator.state.graph_faults.append(Fault(status=200, body=body, headers={"Content-Encoding": coding}))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (502, "GraphError")


def test_a_truncated_gzip_body_is_graph_error(get_join_url, meeting, emulator):
    body = gzip.compress(b'{"value": "https://visit.teams.microsoft.com/x"}')[:-12]  # no end of stream
    emulator.state.graph_faults.append(Fault(status=200, body=body, headers={"Content-Encoding": "gzip"}))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (502, "GraphError")


def test_graph_is_offered_only_the_codings_the_client_decodes(get_join_url, meeting, emulator, configure, monkeypatch):
    """requests' own default offers br and zstd too whenever a module for them can be imported."""
    monkeypatch.setattr(requests.utils, "DEFAULT_ACCEPT_ENCODING", "gzip, deflate, br, zstd")
    configure()  # a new session, built with that default
    assert get_join_url(params=by_id(meeting)).status == 200
    [sent] = emulator.graph_calls()
    assert sent.headers["Accept-Encoding"] == "gzip, deflate"


# --- the emulator's wire ----------------------------------------------------------------------------------
