"""shared/identity.py: Graph tokens from the managed identity. TokenProvider's cache, refresh ahead and single flight
(with a hand-made credential on the virtual clock); the identity endpoint's faults end to end; a failing credential
named with its cause and what mends it, never quoting a token."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.core.credentials import AccessToken

from devhost.emulator.state import Fault
from shared import app
from shared.deadline import Deadline
from shared.errors import ApiError
from shared.identity import TokenProvider, credential_problem
from tests.conftest import ORGANIZER_ID, by_id, error_of
from tests.virtual_clock import VirtualClock

# --- TokenProvider's timing rules, with a hand-made credential on the virtual clock --------------------------------


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


# --- the identity endpoint, end to end -----------------------------------------------------------------------------


def test_token_is_fetched_once_for_twenty_calls(get_join_url, meeting, emulator):
    for _ in range(20):
        assert get_join_url(params=by_id(meeting)).status == 200
    assert len(emulator.state.identity_requests) == 1
    sent = emulator.state.identity_requests[0]
    assert "api-version=2019-08-01" in sent.target
    assert f"resource={emulator.base_url}" in sent.target  # the scope follows GRAPH_BASE_URL, less /.default
    assert sent.headers["X-IDENTITY-HEADER"] == emulator.identity_header


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


def test_identity_unavailable_says_when_to_retry_and_then_who_to_ask(get_join_url, meeting, emulator):
    emulator.state.identity_faults.append(Fault(status=500, body=b"<html>Internal error</html>"))
    message = get_join_url(params=by_id(meeting)).body["error"]["message"]
    assert "Try again in 5 seconds; if it persists, check the function app's Resource health" in message


def test_identity_recovers_at_the_next_call_once_the_endpoint_answers(get_join_url, meeting, emulator):
    """Retry-After 0: azure-identity does not hold the failure (it holds one for the endpoint's Retry-After)."""
    emulator.state.identity_faults.append(Fault(status=500, retry_after="0"))
    assert get_join_url(params=by_id(meeting)).status == 503
    assert get_join_url(params=by_id(meeting)).status == 200
    assert len(emulator.state.identity_requests) == 2  # nothing of ours kept the failure


def test_a_hanging_identity_endpoint_is_cut_by_graph_timeout_seconds(get_join_url, meeting, configure, emulator):
    """azure-identity's socket waits GRAPH_TIMEOUT_SECONDS (0.1 s here). The endpoint answers after 2 s, within the
    deadline (3 s), so a socket without that timeout would get a token and a 200."""
    configure(GRAPH_TIMEOUT_SECONDS="0.1")
    emulator.state.identity_faults.append(Fault(delay=2))
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (503, "IdentityUnavailable")
    assert "Timeout" in answer.body["error"]["message"]
    assert emulator.state.graph_requests == []


def test_a_hanging_identity_endpoint_is_given_up_at_the_deadline(configure, emulator, clock):
    """The credential's socket waits 10 s (GRAPH_TIMEOUT_SECONDS), the deadline 0.1 s: the wait for the token ends
    there. The endpoint answers after 2 s, so a wait to the socket's timeout would get a token."""
    configure(GRAPH_TIMEOUT_SECONDS="10")
    emulator.state.identity_faults.append(Fault(delay=2))
    with pytest.raises(ApiError) as raised:
        app.components().tokens.token(Deadline(0.1, clock))
    assert (raised.value.code, "no answer in time" in raised.value.message) == ("IdentityUnavailable", True)


# --- a failing credential, named with its cause and what mends it --------------------------------------------------


@pytest.fixture
def no_azure_environment(monkeypatch):
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"):
        monkeypatch.delenv(name, raising=False)


def test_a_failing_managed_identity_is_named_with_its_cause(get_join_url, meeting, emulator):
    unknown = b'{"statusCode": 400, "message": "Unable to load the proper Managed Identity.", "correlationId": "c"}'
    emulator.state.identity_faults.append(Fault(status=400, body=unknown))  # App Service, for a wrong client ID
    status, code, message = error_of(get_join_url(params=by_id(meeting)))
    assert (status, code) == (503, "IdentityUnavailable")
    assert message.startswith("Could not get a Graph token from the function's managed identity (")
    assert "Unable to load the proper Managed Identity." in message  # what the endpoint said, not a class name
    assert "AZURE_CLIENT_ID is its client ID" in message


def test_an_unexpected_identity_answer_names_what_went_wrong(get_join_url, meeting, emulator):
    emulator.state.identity_faults.append(Fault(status=500, body=b"<html>Internal error</html>"))
    _, _, message = error_of(get_join_url(params=by_id(meeting)))
    assert "managed identity (JSONDecodeError: Expecting value" in message


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_brief_identity_endpoint_failure_is_called_transient_not_a_set_up_to_mend(
    get_join_url, meeting, emulator, status
):
    """azure-identity words a JSON 500 or 429 as "configuration not found ... (invalid_scope)", then answers from
    the failure it holds without asking the endpoint again: both answers say the failure is the platform's, brief."""
    emulator.state.identity_faults.append(Fault(status=status))
    for _ in range(2):  # the endpoint's answer, then the failure azure-identity holds for 5 s
        answer = get_join_url(params=by_id(meeting))
        status_, code, message = error_of(answer)
        assert (status_, code, answer.headers["Retry-After"]) == (503, "IdentityUnavailable", "5")
        assert f"its token endpoint answered HTTP {status}, a transient failure of the platform's identity" in message
        assert "so Graph was not called. Try again in 5 seconds; if it persists, check the function app's" in message
        assert "configuration not found" not in message and "invalid_scope" not in message
        assert "enabled" not in message and "AZURE_CLIENT_ID" not in message
    assert len(emulator.state.identity_requests) == 1


def test_a_service_principal_without_its_settings_is_named_not_the_managed_identity(
    get_join_url, configure, no_azure_environment
):
    configure(GRAPH_CREDENTIAL="environment")
    status, code, message = error_of(get_join_url(params={"meetingId": "MSpkYzE3", "organizerId": ORGANIZER_ID}))
    assert (status, code) == (503, "IdentityUnavailable")
    assert "the service principal in AZURE_TENANT_ID / AZURE_CLIENT_ID (GRAPH_CREDENTIAL=environment)" in message
    assert "Environment variables are not fully configured" in message
    assert "managed identity" not in message


def test_a_credential_quoting_a_token_never_passes_it_on():
    token = "eyJ0eXAiOiJKV1QifQ.eyJyb2xlcyI6W119.c2lnbmF0dXJl"
    problem, _ = credential_problem(object(), RuntimeError(f"endpoint answered {{'access_token': '{token}'}}"))
    assert token not in problem and "[redacted]" in problem
