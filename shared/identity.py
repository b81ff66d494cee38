"""Graph tokens from the managed identity: one credential per process, one refresh in flight at a time.

azure-identity caches per credential but does not single-flight concurrent first calls, retries a failing
endpoint for seconds and waits on sockets for minutes. This wrapper keeps the hot path to one attribute read,
refreshes ahead of expiry in the background, and never lets a caller wait past its deadline.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from .deferred import CERTIFICATE_ONLY, defer

defer(*CERTIFICATE_ONLY)  # before azure.identity imports it

from azure.core.credentials import TokenCredential  # noqa: E402
from azure.core.exceptions import ClientAuthenticationError  # noqa: E402
from azure.core.pipeline import PipelineResponse  # noqa: E402
from azure.identity import AzureCliCredential, EnvironmentCredential, ManagedIdentityCredential  # noqa: E402

from .clock import SYSTEM_CLOCK, Clock  # noqa: E402
from .deadline import Deadline  # noqa: E402
from .errors import ApiError  # noqa: E402
from .settings import Settings  # noqa: E402
from .token_claims import TokenIdentity, read_token_identity  # noqa: E402

log = logging.getLogger("getjoinurl.identity")

REFRESH_AHEAD_SECONDS = 240.0  # azure-identity itself renews inside 300 s, so a refresh here gets a new token
EXPIRY_SKEW_SECONDS = 30.0  # never send a token this close to its expiry
RETRY_FAILED_REFRESH_SECONDS = 10.0  # while the old token lasts, wait this long between failed refreshes
IDENTITY_RETRY_AFTER_SECONDS = 5.0  # azure-identity holds a failed answer this long


class EndpointStatus:
    """The HTTP status of the last answer a credential's token endpoint gave, seen through azure-core's documented
    `raw_response_hook`, which every credential build_credential makes over HTTP runs on each answer.

    azure-identity words a brief 500 or 429 from the App Service identity endpoint as "configuration not found ...
    (invalid_scope)", which reads like a set-up to mend, and then holds that failure for the endpoint's Retry-After
    (5 s by default) without asking again: the status tells a transient failure from one to mend."""

    def __init__(self) -> None:
        self._status: int | None = None
        self._lock = threading.Lock()

    def __call__(self, response: PipelineResponse[Any, Any]) -> None:
        with self._lock:
            self._status = response.http_response.status_code

    def transient(self) -> int | None:
        """The last status when it was a 429 or a 5xx, which a wait mends; else None."""
        with self._lock:
            status = self._status
        return status if status is not None and (status == 429 or status >= 500) else None


def build_credential(settings: Settings, endpoint: EndpointStatus | None = None) -> TokenCredential:
    """Managed identity in Azure; Azure CLI or a service principal from the environment elsewhere. `endpoint`, when
    given, is told the status of each answer of the token endpoint (the Azure CLI has none)."""
    timeout = settings.graph_timeout_seconds
    if settings.graph_credential == "azure_cli":
        return AzureCliCredential(process_timeout=math.ceil(timeout))  # whole seconds, as azure-identity takes it
    # No retry loop inside azure-identity (callers, and Power Automate, retry a 503), and bounded sockets.
    bounded: dict[str, Any] = {"retry_total": 0, "connection_timeout": timeout, "read_timeout": timeout}
    if endpoint is not None:
        bounded["raw_response_hook"] = endpoint
    if settings.graph_credential == "environment":
        return EnvironmentCredential(**bounded)
    return ManagedIdentityCredential(client_id=settings.azure_client_id, **bounded)


# Each credential build_credential makes: how to name it to the user, and what fixes it.
_CREDENTIAL_HELP: tuple[tuple[type, str, str], ...] = (
    (
        AzureCliCredential,
        "your Azure CLI sign-in (GRAPH_CREDENTIAL=azure_cli)",
        "Install the Azure CLI if it is missing and run `az login` as a user who may read the organizer's meetings, "
        "or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET to use a service principal.",
    ),
    (
        EnvironmentCredential,
        "the service principal in AZURE_TENANT_ID / AZURE_CLIENT_ID (GRAPH_CREDENTIAL=environment)",
        "Check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH): the app "
        "registration must exist in that tenant and the secret or certificate must be current.",
    ),
    (
        ManagedIdentityCredential,
        "the function's managed identity",
        "Check that the function app has a managed identity enabled and, for a user-assigned one, "
        "that AZURE_CLIENT_ID is its client ID.",
    ),
)
_TOKEN_LIKE = re.compile(r"eyJ[\w-]*\.[\w.-]*")  # a JWT, should a credential ever quote one
_REASON_MAX = 300


def credential_problem(
    credential: TokenCredential, error: BaseException | str, transient_status: int | None = None
) -> tuple[str, str]:
    """What failed, named as the user chose it and in the credential's own words (on one line, nothing shaped like
    a token), and what fixes it: for the 503 and for `make run GRAPH=real`'s check at start. azure-identity writes
    its authentication errors for people; anything else also needs its type to make sense. After a 429 or 5xx of
    the token endpoint (`transient_status`) the failure is the platform's, brief, and nothing to mend: azure-identity's
    words for it, which name a set-up problem, are left out."""
    name, fix = next(
        ((name, fix) for kind, name, fix in _CREDENTIAL_HELP if isinstance(credential, kind)),
        (type(credential).__name__, ""),
    )
    reason = " ".join(str(error).split())
    if isinstance(error, BaseException) and not isinstance(error, ClientAuthenticationError):
        reason = f"{type(error).__name__}: {reason}" if reason else type(error).__name__
    elif transient_status is not None:
        reason = ""
    reason = _TOKEN_LIKE.sub("[redacted]", reason)[:_REASON_MAX]
    problem = f"Could not get a Graph token from {name}" + (f" ({reason})" if reason else "")
    if transient_status is None:
        return problem, fix
    return (
        f"{problem}: its token endpoint answered HTTP {transient_status}, a transient failure of the platform's "
        "identity service, not of this app's set-up",
        "Check the function app's Resource health in the Azure portal: the platform's identity endpoint is failing.",
    )


@dataclass(frozen=True)
class Token:
    """A Graph access token and who it says the function is (its claims, read once when it arrives)."""

    value: str = field(repr=False)  # only ever goes into an Authorization header
    identity: TokenIdentity | None
    expires_on: float
    refresh_at: float


class _Flight:
    """One token request that any number of callers may wait on."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.transient_status: int | None = None  # the token endpoint's 429 or 5xx behind the error


class TokenProvider:
    def __init__(
        self,
        credential: TokenCredential,
        scope: str,
        clock: Clock = SYSTEM_CLOCK,
        endpoint: EndpointStatus | None = None,
    ) -> None:
        self._credential = credential
        self._scope = scope
        self._now = clock.time  # the epoch, as token expiry is given
        self._endpoint = endpoint  # the status of the token endpoint's answers, when build_credential was given it
        self._token: Token | None = None
        self._flight: _Flight | None = None
        self._next_background_try = 0.0
        self._lock = threading.Lock()

    @property
    def holds_token(self) -> bool:
        return self._token is not None

    def token(self, deadline: Deadline) -> Token:
        current = self._token
        now = self._now()
        if current is not None and now < current.refresh_at:
            return current
        if current is not None and now < current.expires_on - EXPIRY_SKEW_SECONDS:
            if now >= self._next_background_try:
                self._start_flight()
            return current
        flight = self._start_flight()
        if not flight.done.wait(max(0.0, deadline.remaining())):
            raise _identity_unavailable(self._credential, "no answer in time")
        if flight.error is not None or self._token is None:
            raise _identity_unavailable(self._credential, flight.error or "no token", flight.transient_status)
        return self._token

    def _start_flight(self) -> _Flight:
        with self._lock:
            if self._flight is None:
                self._flight = _Flight()
                threading.Thread(target=self._refresh, args=(self._flight,), name="token-refresh", daemon=True).start()
            return self._flight

    def _refresh(self, flight: _Flight) -> None:
        try:
            access = self._credential.get_token(self._scope)
            now = self._now()
            expires_on = float(access.expires_on)
            refresh_at = expires_on - min(REFRESH_AHEAD_SECONDS, (expires_on - now) / 2)
            previous = self._token
            if previous is not None and expires_on <= previous.expires_on:
                refresh_at = min(now + RETRY_FAILED_REFRESH_SECONDS, expires_on - EXPIRY_SKEW_SECONDS)
            self._token = Token(access.token, read_token_identity(access.token), expires_on, refresh_at)
        except Exception as exc:  # every failure is reported to the waiters, none is kept
            flight.error = exc
            # The answer this request got, or the one azure-identity holds and answered from without asking.
            flight.transient_status = self._endpoint.transient() if self._endpoint is not None else None
            self._next_background_try = self._now() + RETRY_FAILED_REFRESH_SECONDS
            problem = credential_problem(self._credential, exc, flight.transient_status)[0]
            log.warning("Token request failed. %s", problem)  # redacted
        finally:
            with self._lock:
                self._flight = None
            flight.done.set()


def _identity_unavailable(
    credential: TokenCredential, error: BaseException | str, transient_status: int | None = None
) -> ApiError:
    problem, fix = credential_problem(credential, error, transient_status)
    return ApiError(
        503,
        "IdentityUnavailable",
        f"{problem}, so Graph was not called.",
        fix=fix or None,
        retry_after=IDENTITY_RETRY_AFTER_SECONDS,
    )
