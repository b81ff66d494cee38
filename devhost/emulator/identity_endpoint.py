"""The App Service managed-identity endpoint (`GET ?api-version=2019-08-01&resource=...` with `X-IDENTITY-HEADER`).

Its tokens are JWT-shaped with the claims Entra ID puts in app-only tokens (`roles` only when there are some), keep
the app roles granted when they were issued, and are handed out again from a cache as the platform does: that cache
is why a role granted later reaches Graph only in a later token.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .state import EmulatorState, IssuedToken

PATH = "/msi/token"
API_VERSION = "2019-08-01"
IDENTITY_CLIENT_ID = "5b2f2a1e-1a8c-4c53-9b6e-0f6f1b3c2d4e"  # the managed identity's appid
IDENTITY_OBJECT_ID = "0c6f3e2a-7b1d-4c9e-8f5a-3d2b1e0f9a8c"  # its service principal's oid
PLATFORM_RENEW_SECONDS = 300.0  # the identity endpoint hands out a new token only this close to the old one's expiry


def identity_reply(
    state: EmulatorState, tenant_id: str, identity_header: str, target: str, presented: str | None
) -> tuple[int, dict[str, Any]]:
    """The endpoint's answer to a request for `target` that presented `presented` as its X-IDENTITY-HEADER (status,
    JSON), refusing as App Service does."""
    query = parse_qs(urlsplit(target).query)
    if presented != identity_header:
        return 401, {"error": "unauthorized", "error_description": "X-IDENTITY-HEADER mismatch"}
    if query.get("api-version") != [API_VERSION] or not query.get("resource"):
        return 400, {"error": "invalid_request", "error_description": "api-version or resource"}
    if query.get("client_id", [IDENTITY_CLIENT_ID]) != [IDENTITY_CLIENT_ID]:
        # App Service's answer when AZURE_CLIENT_ID names no identity assigned to the app
        unknown = {"statusCode": 400, "message": "Unable to load the proper Managed Identity."}
        return 400, {**unknown, "correlationId": str(uuid.uuid4())}
    return 200, issue_token(state, tenant_id, query["resource"][0])


def issue_token(state: EmulatorState, tenant_id: str, resource: str) -> dict[str, Any]:
    """The endpoint's token for `resource`: its cached one while that has time left, else a new one carrying the app
    roles granted now (so a role granted later reaches Graph only in a later token)."""
    now = state.clock()
    token = state.platform_cache.get(resource, "")
    cached = state.tokens.get(token)
    if cached is None or cached.expires_on - now <= min(
        PLATFORM_RENEW_SECONDS, (cached.expires_on - cached.issued_at) / 2
    ):
        cached = IssuedToken(resource, frozenset(state.roles), int(now), int(now + state.token_lifetime))
        token = _jwt(cached, tenant_id)
        state.tokens[token] = cached
        state.platform_cache[resource] = token
    return {
        "access_token": token,
        "expires_on": str(cached.expires_on),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": IDENTITY_CLIENT_ID,
    }


def _jwt(issued: IssuedToken, tenant_id: str) -> str:
    """Shaped like an app-only Entra ID access token (v1); the signature is random bytes."""
    claims: dict[str, Any] = {
        "aud": issued.resource,
        "iss": f"https://sts.windows.net/{tenant_id}/",
        "iat": issued.issued_at,
        "nbf": issued.issued_at,
        "exp": issued.expires_on,
        "appid": IDENTITY_CLIENT_ID,
        "appidacr": "2",
        "idp": f"https://sts.windows.net/{tenant_id}/",
        "idtyp": "app",
        "oid": IDENTITY_OBJECT_ID,
        "sub": IDENTITY_OBJECT_ID,
        "tid": tenant_id,
        "uti": secrets.token_urlsafe(16),
        "ver": "1.0",
    }
    if issued.roles:
        claims["roles"] = sorted(issued.roles)
    header = {"typ": "JWT", "alg": "RS256", "kid": "emulator"}
    return ".".join([_base64url(header), _base64url(claims), secrets.token_urlsafe(64)])


def _base64url(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")
