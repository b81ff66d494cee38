"""The connector's OpenAPI definition as the app serves it: with the host the caller used, so Power Automate
can import it by URL."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ApiError
from .validation import HOST_LABEL, is_loopback_host

DEFINITION = Path(__file__).resolve().parent.parent / "connector" / "apiDefinition.swagger.json"
SERVED_HEADERS = {"Cache-Control": "public, max-age=300", "Vary": "Host, X-Forwarded-Host"}

_HOST_RE = re.compile(rf"({HOST_LABEL}(\.{HOST_LABEL})*|\[[0-9A-Fa-f:.]{{2,45}}\])(:[0-9]{{1,5}})?")


@cache
def _definition(path: Path) -> dict[str, Any]:
    """Read once per process; a missing or broken file is tried again on the next call."""
    return json.loads(path.read_text(encoding="utf-8"))


def definition_for(headers: Mapping[str, str], url: str, path: Path = DEFINITION) -> dict[str, Any]:
    try:
        spec = dict(_definition(path))
    except (OSError, ValueError):
        raise ApiError(
            500,
            "ConfigurationError",
            f"The connector definition {path.parent.name}/{path.name} is missing or not valid JSON: "
            "deploy the connector folder with the app.",
        ) from None
    host = public_host(headers)
    if host is None:
        spec.pop("host", None)  # OpenAPI 2.0: without a host, the host serving the definition is meant
        return spec
    spec["host"] = host
    if urlsplit(url).scheme == "http" and is_loopback_host(urlsplit(f"//{host}").hostname or ""):
        spec["schemes"] = ["http"]  # the local dev host serves plain http
    return spec


def public_host(headers: Mapping[str, str]) -> str | None:
    """The host the caller used: X-Forwarded-Host behind a proxy, else Host; only a well-formed host[:port]."""
    for name in ("x-forwarded-host", "host"):
        value = (headers.get(name) or "").split(",")[0].strip()
        if value and len(value) <= 261 and _HOST_RE.fullmatch(value):
            return value
    return None
