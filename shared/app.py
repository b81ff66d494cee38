"""What lives once per worker process: settings, the credential and its token cache, the Graph session."""

from __future__ import annotations

import threading

from .errors import ApiError
from .graph_batch import BATCH_CONCURRENCY
from .graph_client import GraphClient, build_session
from .identity import TokenProvider, build_credential
from .join_links import JoinLinkService
from .settings import Settings

_lock = threading.Lock()
_settings: Settings | ApiError | None = None
_service: JoinLinkService | None = None


def settings() -> Settings:
    """Read once; a bad value is remembered and reported on every call until the app restarts."""
    global _settings
    if _settings is None:
        try:
            _settings = Settings.from_env()
        except ApiError as error:
            _settings = error
    if isinstance(_settings, ApiError):
        raise _settings
    return _settings


def join_link_service() -> JoinLinkService:
    global _service
    if _service is None:
        with _lock:
            if _service is None:
                current = settings()
                tokens = TokenProvider(build_credential(current), current.graph_scope)
                # Room for every connection in flight at once: each of the worker's threads may run a batch.
                pool_size = current.worker_threads * BATCH_CONCURRENCY
                session = build_session(current.graph_base_url, pool_size)
                graph = GraphClient(current, tokens, session)
                _service = JoinLinkService(current, graph)
    return _service


def reset() -> None:
    """Forget everything built from app settings, as a restart would (tests and the dev host change settings)."""
    global _settings, _service
    with _lock:
        _settings = None
        _service = None
