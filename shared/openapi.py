"""The connector's OpenAPI definition as the app serves it, with the app's own host name, so Power Automate can
import it by URL.

The host is the one the platform gives the app (WEBSITE_HOSTNAME), never one a request names: the definition is
anonymous and cached publicly, so a host a client sent in Host or X-Forwarded-Host could be kept by a cache and
handed to everyone after. Without WEBSITE_HOSTNAME the host is left out, which OpenAPI 2.0 reads as the host that
served the definition.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from .errors import ApiError
from .settings import platform_host_name
from .validation import is_loopback_host

DEFINITION = Path(__file__).resolve().parent.parent / "connector" / "apiDefinition.swagger.json"
SERVED_HEADERS = {"Cache-Control": "public, max-age=300"}


@cache
def _definition(path: Path) -> dict[str, Any]:
    """Read once per process; a missing or broken file is tried again on the next call."""
    return json.loads(path.read_text(encoding="utf-8"))


def definition_for(url: str, path: Path = DEFINITION) -> dict[str, Any]:
    """The definition for the app at WEBSITE_HOSTNAME; `url` (the request's) only tells plain http on loopback."""
    try:
        spec = dict(_definition(path))
    except (OSError, ValueError):
        raise ApiError(
            500,
            "ConfigurationError",
            f"The connector definition {path.parent.name}/{path.name} is missing or not valid JSON: "
            "deploy the connector folder with the app.",
        ) from None
    host = platform_host_name()
    if host is None:
        spec.pop("host", None)  # OpenAPI 2.0: without a host, the host serving the definition is meant
        return spec
    spec["host"] = host
    # The scheme by hand: the URL holds the Host a client sent, which urlsplit may refuse ("[1:2]").
    if url.lower().startswith("http:") and is_loopback_host(host.rsplit(":", 1)[0]):
        spec["schemes"] = ["http"]  # the local dev host serves plain http
    return spec
