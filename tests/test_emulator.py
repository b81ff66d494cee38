"""devhost/emulator/ on its own: its tokens carry the claims Entra ID puts in app-only tokens, it answers on the wire
it is set to (compressed as Accept-Encoding allows), keeps a bounded window of traffic and tells its observer of every
answer."""

from __future__ import annotations

import base64
import json
import socket
import time

import pytest
import requests

from devhost.emulator import GraphEmulator
from devhost.emulator.identity_endpoint import IDENTITY_CLIENT_ID, IDENTITY_OBJECT_ID
from devhost.emulator.state import APPOINTMENT_URL_ROLE, LOOKUP_ROLE, Exchange, Fault
from devhost.emulator.wire import WIRES, content_coding
from shared.token_claims import read_token_identity
from tests.conftest import by_id, issued_token


def test_emulated_tokens_carry_the_claims_entra_puts_in_app_only_tokens(get_join_url, meeting, emulator):
    assert get_join_url(params=by_id(meeting)).status == 200
    token = issued_token(emulator)
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert {"aud", "iss", "tid", "oid", "appid", "roles", "iat", "nbf", "exp", "idtyp"} <= set(claims)
    assert (claims["appid"], claims["oid"], claims["idtyp"]) == (IDENTITY_CLIENT_ID, IDENTITY_OBJECT_ID, "app")
    identity = read_token_identity(token)
    assert identity is not None and set(identity.roles) == {APPOINTMENT_URL_ROLE, LOOKUP_ROLE}


def test_the_emulator_answers_on_the_wire_it_is_set_to(emulator, configure, wire):
    """Its identity endpoint as an example: every JSON answer travels the same way."""
    preferred, _, framing = wire.partition("+")
    answer = requests.get(
        emulator.identity_endpoint,
        params={"api-version": "2019-08-01", "resource": "https://graph.microsoft.com"},
        headers={"X-IDENTITY-HEADER": emulator.identity_header, "Accept-Encoding": "gzip, deflate"},
        timeout=10,
    )
    assert answer.json()["token_type"] == "Bearer"
    assert answer.headers.get("Content-Encoding") == (preferred if preferred in ("gzip", "deflate") else None)
    chunked = "chunked" in (preferred, framing)
    assert answer.headers.get("Transfer-Encoding") == ("chunked" if chunked else None)
    assert ("Content-Length" in answer.headers) is not chunked


def test_the_emulator_compresses_by_default_and_only_when_asked(emulator, configure):
    assert WIRES[0] == "gzip+chunked" and emulator.wire == WIRES[0]
    url = emulator.identity_endpoint + "?api-version=2019-08-01&resource=https://graph.microsoft.com"
    for offered, expected in (("gzip, deflate", "gzip"), ("deflate", "deflate"), ("identity", None), (None, None)):
        headers = {"X-IDENTITY-HEADER": emulator.identity_header, "Accept-Encoding": offered}
        answer = requests.get(url, headers=headers, timeout=10)  # None: requests sends no Accept-Encoding
        assert (answer.status_code, answer.headers.get("Content-Encoding")) == (200, expected), offered


@pytest.mark.parametrize(
    ("offered", "preferred", "coding"),
    [
        ("gzip, deflate", "gzip", "gzip"),
        ("gzip, deflate", "deflate", "deflate"),
        ("deflate", "gzip", "deflate"),
        ("gzip;q=0, deflate;q=0.5", "gzip", "deflate"),
        ("GZIP;Q=1.0", "deflate", "gzip"),
        ("*", "gzip", "gzip"),
        ("*, gzip;q=0", "gzip", "deflate"),
        ("*;q=0", "gzip", None),
        ("identity", "gzip", None),
        ("br, zstd", "gzip", None),
        ("", "gzip", None),
        (None, "gzip", None),
    ],
)
def test_the_coding_follows_accept_encoding(offered, preferred, coding):
    assert content_coding(offered, preferred) == coding


def test_the_emulator_keeps_a_bounded_window_of_traffic():
    emulator = GraphEmulator(traffic_window=5).start()
    try:
        with requests.Session() as session:
            for i in range(12):
                session.get(f"{emulator.base_url}/v1.0/users/u{i}/onlineMeetings", timeout=10)
            for i in range(7):
                session.get(f"{emulator.identity_endpoint}?n={i}", timeout=10)
        state = emulator.state
        assert [r.target for r in state.graph_requests] == [f"/v1.0/users/u{i}/onlineMeetings" for i in range(7, 12)]
        assert [r.target[-3:] for r in state.identity_requests] == [f"n={i}" for i in range(2, 7)]
        assert (state.graph_request_count, state.identity_request_count) == (12, 7)
    finally:
        emulator.stop()


def test_the_observer_hears_every_answer_with_its_status_whichever_way_it_was_sent():
    emulator = GraphEmulator().start()
    heard: list[Exchange] = []
    emulator.observer = heard.append
    emulator.reset()  # the observer outlives a reset
    try:
        with requests.Session() as session:
            session.get(f"{emulator.identity_endpoint}?api-version=2019-08-01&resource=r", timeout=10)
            session.get(
                f"{emulator.identity_endpoint}?api-version=2019-08-01&resource=r",
                headers={"X-IDENTITY-HEADER": emulator.identity_header},
                timeout=10,
            )
            emulator.state.graph_faults.extend([Fault(status=429, retry_after="1", delay=0.02), Fault(reset=True)])
            session.get(f"{emulator.base_url}/v1.0/users/u/onlineMeetings", timeout=10)
            with pytest.raises(requests.ConnectionError):
                session.get(f"{emulator.base_url}/v1.0/users/u/onlineMeetings", timeout=10)
            session.post(f"{emulator.base_url}/v1.0/$batch", json={"requests": []}, timeout=10)
        with socket.create_connection(("127.0.0.1", int(emulator.base_url.rsplit(":", 1)[1])), timeout=10) as client:
            client.sendall(b"POST /v1.0/$batch HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\nConnection: close\r\n\r\n")
            assert client.recv(100).startswith(b"HTTP/1.1 400 ")  # not read, so not recorded, so not heard
        deadline = time.monotonic() + 10
        while len(heard) < 5 and time.monotonic() < deadline:  # the observer runs just after the answer is out
            time.sleep(0.01)
    finally:
        emulator.stop()
    assert [(e.identity, e.status) for e in heard] == [
        (True, 401),
        (True, 200),
        (False, 429),
        (False, None),
        (False, 401),
    ]
    assert heard[2].seconds >= 0.02  # the fault's delay is in the time taken
    assert heard[1].reply is None  # the identity endpoint's reply is a token: not handed on
    assert heard[4].reply["error"]["code"] == "InvalidAuthenticationToken"  # Graph's reply, for a batch's items
