"""HTTP trigger (anonymous): the connector's OpenAPI definition with this app's host, so Power Automate can
import it by URL (Custom connectors > Import an OpenAPI from URL > https://<app>.azurewebsites.net/api/openapi.json)."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from shared.errors import ApiError
from shared.invocation import Invocation
from shared.logs import log_invocation

DEFINITION = Path(__file__).resolve().parent.parent / "connector" / "apiDefinition.swagger.json"
DEADLINE_SECONDS = 5.0
CACHE_CONTROL = "public, max-age=300"

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"({_LABEL}(\.{_LABEL})*|\[[0-9A-Fa-f:.]{{2,45}}\])(:[0-9]{{1,5}})?")


@cache
def definition() -> dict[str, Any]:
    """Read once per process; a missing or broken file is tried again on the next call."""
    return json.loads(DEFINITION.read_text(encoding="utf-8"))


def main(req: func.HttpRequest) -> func.HttpResponse:
    call = Invocation.start(req.headers, DEADLINE_SECONDS)
    headers = {"client-request-id": call.client_request_id}
    try:
        spec = dict(definition())
    except (OSError, ValueError):
        error = ApiError(
            500,
            "ConfigurationError",
            f"The connector definition {DEFINITION.parent.name}/{DEFINITION.name} is missing or not valid JSON: "
            "deploy the connector folder with the app.",
        )
        log_invocation(call, error.status, error.code)
        headers["Cache-Control"] = "no-store"
        return func.HttpResponse(
            json.dumps(error.body()), status_code=error.status, headers=headers, mimetype="application/json"
        )
    host = public_host(req.headers)
    if host is None:
        spec.pop("host", None)  # OpenAPI 2.0: without a host, the host serving the definition is meant
    else:
        spec["host"] = host
        if _is_loopback(host) and urlsplit(req.url).scheme == "http":
            spec["schemes"] = ["http"]  # the local dev host serves plain http
    headers["Cache-Control"] = CACHE_CONTROL
    headers["Vary"] = "Host, X-Forwarded-Host"
    log_invocation(call, 200, "OK")
    return func.HttpResponse(json.dumps(spec, indent=2), status_code=200, headers=headers, mimetype="application/json")


def public_host(headers: Mapping[str, str]) -> str | None:
    """The host the caller used: X-Forwarded-Host behind a proxy, else Host; only a well-formed host[:port]."""
    for name in ("x-forwarded-host", "host"):
        value = (headers.get(name) or "").split(",")[0].strip()
        if value and len(value) <= 261 and _HOST_RE.fullmatch(value):
            return value
    return None


def _is_loopback(host: str) -> bool:
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
