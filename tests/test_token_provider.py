"""Unit tests of the token cache's timing rules, with a hand-made credential on the virtual clock (pure helper)."""

from __future__ import annotations

import logging
import threading

import pytest
from azure.core.credentials import AccessToken

from shared.deadline import Deadline
from shared.errors import ApiError
from shared.identity import TokenProvider
from tests.virtual_clock import VirtualClock


class Credential:
    """Hands out token-1, token-2, ...; can be made to block or fail."""

    def __init__(self, clock: VirtualClock, lifetime: float = 3600) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.expires_on: int | None = None  # given: every token expires then (azure-identity's cached one)
        self.calls = 0
        self.fail = False
        self.release = threading.Event()
        self.release.set()

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        self.calls += 1
        self.release.wait(5)
        if self.fail:
            raise RuntimeError("identity endpoint down")
        return AccessToken(f"token-{self.calls}", self.expires_on or int(self.clock.time() + self.lifetime))


def wait_idle(tokens: TokenProvider) -> None:
    """Bounded poll until no refresh is in flight (its result is then stored)."""
    for _ in range(500):
        if tokens._flight is None:
            return
        threading.Event().wait(0.01)
    raise AssertionError("refresh still in flight")


def test_token_is_reused_until_the_refresh_point(clock):
    credential = Credential(clock)
    tokens = TokenProvider(credential, "scope", clock=clock)
    assert tokens.token(Deadline(1)).value == "token-1"
    clock.advance(3000)
    assert tokens.token(Deadline(1)).value == "token-1"
    assert credential.calls == 1


def test_refresh_ahead_returns_the_old_token_without_waiting(clock):
    credential = Credential(clock)
    tokens = TokenProvider(credential, "scope", clock=clock)
    tokens.token(Deadline(1))
    clock.advance(3600 - 200)  # inside the refresh window, well before expiry
    credential.release.clear()  # the refresh hangs
    assert tokens.token(Deadline(0.01)).value == "token-1"  # no wait on the refresh
    credential.release.set()
    wait_idle(tokens)
    assert tokens.token(Deadline(1)).value == "token-2"


def test_failed_refresh_keeps_serving_the_valid_token(clock):
    credential = Credential(clock)
    tokens = TokenProvider(credential, "scope", clock=clock)
    tokens.token(Deadline(1))
    clock.advance(3600 - 200)
    credential.fail = True
    assert tokens.token(Deadline(1)).value == "token-1"
    wait_idle(tokens)
    calls = credential.calls
    assert tokens.token(Deadline(1)).value == "token-1"  # no new refresh until the back-off passes
    assert credential.calls == calls


def test_expired_token_with_failing_identity_is_identity_unavailable(clock):
    credential = Credential(clock)
    tokens = TokenProvider(credential, "scope", clock=clock)
    tokens.token(Deadline(1))
    clock.advance(3600)
    credential.fail = True
    with pytest.raises(ApiError) as raised:
        tokens.token(Deadline(1))
    assert (raised.value.status, raised.value.code) == (503, "IdentityUnavailable")
    credential.fail = False
    assert tokens.token(Deadline(1)).value == "token-3"  # the failure is not kept


def test_waiting_for_a_first_token_stops_at_the_deadline(clock):
    credential = Credential(clock)
    credential.release.clear()
    tokens = TokenProvider(credential, "scope", clock=clock)
    with pytest.raises(ApiError) as raised:
        tokens.token(Deadline(0.05, clock))
    assert raised.value.code == "IdentityUnavailable"
    credential.release.set()


def test_a_renewal_that_returns_the_same_expiry_does_not_spin(clock):
    credential = Credential(clock)
    tokens = TokenProvider(credential, "scope", clock=clock)
    first = tokens.token(Deadline(1))
    clock.advance(3600 - 100)
    credential.expires_on = int(first.expires_on)  # azure-identity handed back its cached token
    tokens.token(Deadline(1))
    wait_idle(tokens)
    calls = credential.calls
    tokens.token(Deadline(1))
    assert credential.calls == calls


def test_a_failing_credential_that_quotes_a_token_is_redacted_in_the_log_and_the_error(clock, caplog):
    class Quoting(Credential):
        def get_token(self, *scopes: str, **kwargs) -> AccessToken:
            raise RuntimeError("refused eyJ0eXAiOiJKV1QifQ.eyJyb2xlcyI6W119.c2lnbmF0dXJl as expired")

    caplog.set_level(logging.DEBUG)
    with pytest.raises(ApiError) as raised:
        TokenProvider(Quoting(clock), "scope", clock=clock).token(Deadline(1))
    shown = caplog.text + raised.value.text()
    assert "Token request failed" in caplog.text and "[redacted]" in caplog.text
    assert "eyJyb2xlcyI6W119" not in shown and "c2lnbmF0dXJl" not in shown
