"""App settings: read from the environment once, validated in one place.

Every setting has a default, a line in the README's settings table and one in
local.settings.sample.json. A bad value surfaces as a 500 `ConfigurationError`
naming the setting, never as an opaque crash at import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import ApiError
from .validation import HOST_NAME_RE, is_loopback_host, parse_allowed_organizers, validate_organizer_id

SETTING_NAMES = (
    "GRAPH_BASE_URL",
    "GRAPH_API_VERSION",
    "DEFAULT_ORGANIZER_ID",
    "ALLOWED_ORGANIZER_IDS",
    "GRAPH_CREDENTIAL",
    "AZURE_CLIENT_ID",
    "GRAPH_MAX_RETRIES",
    "GRAPH_TIMEOUT_SECONDS",
    "REQUEST_DEADLINE_SECONDS",
    "CALLER_AUTH",
)
# The Python worker's own settings, which the function also reads. Infra sets them to the HTTP concurrency it deploys.
WORKER_SETTING_NAMES = ("PYTHON_THREADPOOL_THREAD_COUNT",)
# The Python worker's thread pool when PYTHON_THREADPOOL_THREAD_COUNT is unset: ThreadPoolExecutor's default.
WORKER_DEFAULT_THREADS = min(32, (os.cpu_count() or 1) + 4)
WORKER_MAX_THREADS = 1024  # ours: the worker takes any whole number, but the Graph connection pool is sized from it
GRAPH_API_VERSIONS = ("v1.0", "beta")
CREDENTIALS = ("auto", "managed_identity", "environment", "azure_cli")
# How callers get in: function keys, Microsoft Entra ID through App Service Authentication, or both. Unset means keys:
# without App Service Authentication in front of the app (local runs, an app deployed without infra/), no Entra ID
# route can work.
CALLER_AUTH_MODES = ("keys", "entra", "both")


@dataclass(frozen=True)
class Settings:
    graph_base_url: str = "https://graph.microsoft.com"
    graph_api_version: str = "v1.0"
    default_organizer_id: str | None = None
    allowed_organizer_ids: frozenset[str] | None = None
    graph_credential: str = "auto"  # resolved by from_env to one of the concrete kinds
    azure_client_id: str | None = None
    graph_max_retries: int = 3
    graph_timeout_seconds: float = 10.0
    request_deadline_seconds: float = 25.0
    worker_threads: int = WORKER_DEFAULT_THREADS  # invocations one worker process runs at once
    caller_auth: str = "keys"  # one of CALLER_AUTH_MODES

    @property
    def graph_scope(self) -> str:
        """The token scope for whichever Graph cloud GRAPH_BASE_URL names."""
        return f"{self.graph_base_url}/.default"

    @property
    def graph_root(self) -> str:
        return f"{self.graph_base_url}/{self.graph_api_version}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()

        def text(name: str) -> str:
            return env.get(name, "").strip()

        base_url = text("GRAPH_BASE_URL").rstrip("/") or defaults.graph_base_url
        _check_base_url(base_url)
        version = text("GRAPH_API_VERSION") or defaults.graph_api_version
        if version not in GRAPH_API_VERSIONS:
            raise _bad("GRAPH_API_VERSION", f"must be one of {', '.join(GRAPH_API_VERSIONS)}")
        credential = (text("GRAPH_CREDENTIAL") or defaults.graph_credential).lower()
        if credential not in CREDENTIALS:
            raise _bad("GRAPH_CREDENTIAL", f"must be one of {', '.join(CREDENTIALS)}")
        if credential == "auto":
            credential = _detect_credential(env)
        default_organizer = text("DEFAULT_ORGANIZER_ID") or None
        if default_organizer is not None:
            try:
                validate_organizer_id(default_organizer)
            except ApiError as exc:
                raise _bad("DEFAULT_ORGANIZER_ID", exc.message) from None
        try:
            allowed = parse_allowed_organizers(text("ALLOWED_ORGANIZER_IDS"))
        except ApiError as exc:
            raise _bad("ALLOWED_ORGANIZER_IDS", exc.message) from None
        return cls(
            graph_base_url=base_url,
            graph_api_version=version,
            default_organizer_id=default_organizer,
            allowed_organizer_ids=allowed,
            graph_credential=credential,
            azure_client_id=text("AZURE_CLIENT_ID") or None,
            graph_max_retries=int(_number(env, "GRAPH_MAX_RETRIES", defaults.graph_max_retries, 0, 10, whole=True)),
            graph_timeout_seconds=_number(env, "GRAPH_TIMEOUT_SECONDS", defaults.graph_timeout_seconds, 0.1, 120),
            request_deadline_seconds=_number(
                env, "REQUEST_DEADLINE_SECONDS", defaults.request_deadline_seconds, 0.5, 110
            ),
            worker_threads=_worker_threads(text("PYTHON_THREADPOOL_THREAD_COUNT")),
            caller_auth=read_caller_auth(env),
        )


def read_caller_auth(env: Mapping[str, str] | None = None) -> str:
    """CALLER_AUTH alone, one of CALLER_AUTH_MODES (case-insensitive): how callers get in, which every route checks
    before anything else. Read on its own too, so that another bad setting still lets each route know whether it is
    on (Diagnose reports that setting as a failing check rather than a 500)."""
    env = os.environ if env is None else env
    raw = env.get("CALLER_AUTH", "").strip().lower()
    mode = raw or Settings.caller_auth
    if mode not in CALLER_AUTH_MODES:
        raise _bad("CALLER_AUTH", f"{raw!r} is not one of {', '.join(CALLER_AUTH_MODES)}")
    return mode


def platform_host_name(env: Mapping[str, str] | None = None) -> str | None:
    """The app's default host name[:port], from WEBSITE_HOSTNAME, which App Service and Functions set (and the dev
    host, for loopback); None when it is unset or not a host name. A platform variable, not an app setting: read on
    its own, so a bad app setting does not take the connector's definition down with it."""
    value = (os.environ if env is None else env).get("WEBSITE_HOSTNAME", "").strip()
    return value if len(value) <= 259 and HOST_NAME_RE.fullmatch(value) else None  # 253 for the name, 6 the port


def _detect_credential(env: Mapping[str, str]) -> str:
    """The platform's managed identity when there is one (App Service sets IDENTITY_ENDPOINT, older hosts
    MSI_ENDPOINT), else a service principal whose variables are set, else the developer's Azure CLI sign-in."""
    if env.get("IDENTITY_ENDPOINT") or env.get("MSI_ENDPOINT"):
        return "managed_identity"
    if env.get("AZURE_TENANT_ID") and (env.get("AZURE_CLIENT_SECRET") or env.get("AZURE_CLIENT_CERTIFICATE_PATH")):
        return "environment"
    return "azure_cli"


def _bad(name: str, why: str) -> ApiError:
    return ApiError(
        500,
        "ConfigurationError",
        f"App setting {name} is invalid: {why}.",
        fix=f"For an app azd deployed, `azd env set {name} <value>`, then `azd provision` (a portal edit is undone by "
        "the next provision); otherwise fix it in the app's settings, which restarts the app.",
    )


def _worker_threads(raw: str) -> int:
    """Read as the Python worker reads it: a value it cannot use (not a whole number, or below 1) leaves its
    default, so the pool follows the threads the worker really runs, and no typo in a platform setting takes the
    function down. Above WORKER_MAX_THREADS, the pool stops growing."""
    try:
        value = int(raw)
    except ValueError:
        return WORKER_DEFAULT_THREADS
    return min(value, WORKER_MAX_THREADS) if value >= 1 else WORKER_DEFAULT_THREADS


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float, whole: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise _bad(name, f"{raw!r} is not {kind} from {low:g} to {high:g}")
    return value


def _check_base_url(url: str) -> None:
    """https only, except plain http to a loopback host (the local emulator)."""
    parts = urlsplit(url)
    if parts.query or parts.fragment or not parts.hostname or parts.path not in ("", "/"):
        raise _bad("GRAPH_BASE_URL", f"{url!r} must be a bare origin such as https://graph.microsoft.com")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return
    raise _bad("GRAPH_BASE_URL", f"{url!r} must use https (plain http is allowed only for localhost)")
