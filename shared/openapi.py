"""The connector's OpenAPI definition as the app serves it, with the app's own host name, so Power Automate can
import it by URL: the key variant (the file, connector/apiDefinition.swagger.json) or the variant whose connection
signs in with Microsoft Entra ID, derived from it here and nowhere else.

The host is the one the platform gives the app (WEBSITE_HOSTNAME), never one a request names: the definition is
anonymous and cached publicly, so a host a client sent in Host or X-Forwarded-Host could be kept by a cache and
handed to everyone after. Without WEBSITE_HOSTNAME the host is left out, which OpenAPI 2.0 reads as the host that
served the definition.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from . import app
from .caller_access import ENTRA, ENTRA_ROUTE_PREFIX, JOIN_URL_GET, KEYS
from .errors import ApiError, invalid_request
from .settings import platform_host_name
from .validation import is_loopback_host

DEFINITION = Path(__file__).resolve().parent.parent / "connector" / "apiDefinition.swagger.json"
SERVED_HEADERS = {"Cache-Control": "public, max-age=300"}
VARIANT_PARAMETER = "auth"  # /api/openapi.json?auth=entra, where the app serves more than one variant
VARIANTS = (KEYS, ENTRA)
# The variants each CALLER_AUTH mode serves, the first when none is asked for.
SERVED_VARIANTS = {KEYS: (KEYS,), ENTRA: (ENTRA,), "both": (KEYS, ENTRA)}

# OpenAPI 2.0's OAuth 2.0 authorization-code flow against Microsoft Entra ID: what Power Platform reads as an
# "Azure Active Directory" connection (Microsoft's "Secure custom connectors with Azure AD" gives these URLs). The
# tenant, the connector's own app registration and the API's resource URI are set on the connector's Security tab.
ENTRA_SECURITY_NAME = "oauth2_auth"
ENTRA_TITLE_SUFFIX = " (Entra ID)"
ENTRA_SECURITY = {
    "type": "oauth2",
    "flow": "accessCode",
    "authorizationUrl": "https://login.windows.net/common/oauth2/authorize",
    "tokenUrl": "https://login.windows.net/common/oauth2/token",
    "scopes": {},
    "description": "Sign in with Microsoft Entra ID through the connector's own app registration; the caller needs "
    f"the app role {JOIN_URL_GET.value} of the GetJoinUrl API.",
}
ENTRA_401 = {
    "description": "Not signed in: no token, or one that is invalid, expired or for another audience. App Service "
    "Authentication answers it before the function runs, with WWW-Authenticate and no JSON body; the function "
    "itself answers Unauthenticated (JSON) if the platform passed on no signed-in caller.",
}
ENTRA_403 = (
    f" Signed in with Microsoft Entra ID, a caller without the app role {JOIN_URL_GET.value} gets CallerRoleMissing, "
    "whose message gives the command that grants it."
)


@cache
def _definition(path: Path) -> dict[str, Any]:
    """Read once per process; a missing or broken file is tried again on the next call."""
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def entra_variant(spec: dict[str, Any]) -> dict[str, Any]:
    """The key variant turned into the Entra ID one: its routes under /api/entra, an OAuth 2.0 connection instead of
    the function key, and the answers only a signed-in caller can get. Everything else is the key variant's."""
    variant = copy.deepcopy(spec)
    variant["info"]["title"] += ENTRA_TITLE_SUFFIX  # both connectors can live in one environment, told apart
    variant["basePath"] = ENTRA_ROUTE_PREFIX
    variant["securityDefinitions"] = {ENTRA_SECURITY_NAME: ENTRA_SECURITY}
    variant["security"] = [{ENTRA_SECURITY_NAME: []}]
    for path in variant["paths"].values():
        for operation in path.values():
            responses = operation["responses"]
            responses["403"]["description"] += ENTRA_403
            responses["401"] = ENTRA_401
            operation["responses"] = dict(sorted(responses.items()))
    return variant


def definition_for(url: str, asked: str | None = None, path: Path = DEFINITION) -> dict[str, Any]:
    """The definition for the app at WEBSITE_HOSTNAME, in the variant asked for (`?auth=`) or the mode's first;
    `url` (the request's) only tells plain http on loopback."""
    variant = _variant(app.caller_auth(), asked)
    try:
        spec = dict(_definition(path))
    except (OSError, ValueError):
        raise ApiError(
            500,
            "ConfigurationError",
            f"The connector definition {path.parent.name}/{path.name} is missing or not valid JSON: "
            "deploy the connector folder with the app.",
        ) from None
    if variant == ENTRA:
        spec = entra_variant(spec)
    host = platform_host_name()
    if host is None:
        spec.pop("host", None)  # OpenAPI 2.0: without a host, the host serving the definition is meant
        return spec
    spec["host"] = host
    # The scheme by hand: the URL holds the Host a client sent, which urlsplit may refuse ("[1:2]").
    if url.lower().startswith("http:") and is_loopback_host(host.rsplit(":", 1)[0]):
        spec["schemes"] = ["http"]  # the local dev host serves plain http
    return spec


def _variant(mode: str, asked: str | None) -> str:
    served = SERVED_VARIANTS[mode]
    if not asked:
        return served[0]
    if asked not in VARIANTS:
        raise invalid_request(f"{VARIANT_PARAMETER} must be {' or '.join(VARIANTS)}: the connection's way in.")
    if asked not in served:
        raise ApiError(
            404,
            "NotFound",
            f"This app serves no {asked} variant: its app setting CALLER_AUTH is {mode}, so it serves the "
            f"{served[0]} variant, at /api/openapi.json.",
        )
    return asked
