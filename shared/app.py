"""What lives once per worker process: settings, the clock, the credential and its token cache, the Graph session."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import Generic, NamedTuple, TypeVar

# A cold start's heavy imports (azure-identity's credentials, requests, urllib3) make a few hundred thousand objects,
# and the cyclic garbage collector runs every few hundred allocations, walking ever more of them: about 5 ms of a
# ~90 ms cold start, spent finding nothing, since modules live as long as the process. So no collection runs while
# they import, whatever they raise, and what the process holds then (the worker's modules and these) is moved out of
# the collector's sight with gc.freeze(), so re-enabling it does not start with one long collection of all of it, and
# no later collection on a warm call walks it again. Measured side by side: bench/README.md, "Cold".
_collecting = gc.isenabled()
gc.disable()
try:
    from .appointment_urls import AppointmentUrlService
    from .clock import SYSTEM_CLOCK, Clock
    from .errors import ApiError
    from .graph_batch import connections_needed
    from .graph_client import GraphClient
    from .graph_transport import build_session
    from .identity import EndpointStatus, TokenProvider, build_credential
    from .settings import Settings, read_caller_auth
finally:
    gc.freeze()
    if _collecting:
        gc.enable()


class Components(NamedTuple):
    """Built from the settings once per process and shared by every invocation and function."""

    settings: Settings
    tokens: TokenProvider
    graph: GraphClient
    appointment_urls: AppointmentUrlService


T = TypeVar("T")


class _ReadOnce(Generic[T]):
    """A setting read once; a bad value is remembered and raised on every call, until the app restarts (or reset())."""

    def __init__(self, read: Callable[[], T]) -> None:
        self._read = read
        self._value: T | ApiError | None = None

    def __call__(self) -> T:
        if self._value is None:
            try:
                self._value = self._read()
            except ApiError as error:
                self._value = error
        if isinstance(self._value, ApiError):
            raise self._value
        return self._value

    def forget(self) -> None:
        self._value = None


_lock = threading.Lock()
# CALLER_AUTH is also read on its own, so that every route can tell whether it is open even when another setting is bad.
settings = _ReadOnce(Settings.from_env)
caller_auth = _ReadOnce(read_caller_auth)
_components: Components | None = None
_clock: Clock = SYSTEM_CLOCK


def clock() -> Clock:
    """What every invocation's deadline, each wait before a Graph retry and token expiry read the time from."""
    return _clock


def use_clock(new: Clock) -> None:
    """Tests put in a clock that moves on at once instead of waiting; what was built on the old one is forgotten,
    as a restart would forget it."""
    global _clock, _components
    with _lock:
        _clock = new
        _components = None


def components() -> Components:
    global _components
    if _components is None:
        with _lock:
            if _components is None:
                current = settings()
                endpoint = EndpointStatus()
                credential = build_credential(current, endpoint)
                tokens = TokenProvider(credential, current.graph_scope, clock=_clock, endpoint=endpoint)
                pool_size = connections_needed(current.worker_threads)
                graph = GraphClient(current, tokens, build_session(current.graph_base_url, pool_size), _clock)
                _components = Components(current, tokens, graph, AppointmentUrlService(current, graph))
    return _components


def appointment_url_service() -> AppointmentUrlService:
    return components().appointment_urls


def reset() -> None:
    """Forget everything built from app settings, as a restart would (tests and the dev host change settings)."""
    global _components
    with _lock:
        settings.forget()
        caller_auth.forget()
        _components = None
