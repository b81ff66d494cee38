"""Who called an Entra ID route, as App Service Authentication tells the app: the X-MS-CLIENT-PRINCIPAL header.

With App Service Authentication on, the platform validates the caller's token before the Functions host sees the
request, removes any X-MS-CLIENT-* header the client sent, and passes the caller on as that header: base64 of JSON
`{"auth_typ", "name_typ", "role_typ", "claims": [{"typ", "val"}, ...]}`, one claim per value (one per role), with
claim names mapped as .NET maps them (the object ID arrives as
http://schemas.microsoft.com/identity/claims/objectidentifier). The platform leaves the caller's
`Authorization: Bearer <token>` in place, and the principal is made from that token's claims, so a principal is
taken only together with the token it came from (`bound_to_token`). This module reads; whether the platform can be
trusted is `caller_access`'s concern. Nothing here validates a token's signature (the platform has), so no
cryptography is loaded.

Only identifiers are kept (object ID, app ID, tenant) and the roles: never a name, an e-mail address or a token.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .token_claims import TokenIdentity, read_token_identity
from .validation import GUID_RE

PRINCIPAL_HEADER = "x-ms-client-principal"
# What Entra ID principals carry as auth_typ; any other identity provider is not a caller of this API.
ENTRA_AUTH_TYPE = "aad"
ROLES_CLAIM = "roles"  # the token's own claim name, which the platform also passes unmapped
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
APP_ID_CLAIMS = ("appid", "azp")  # the caller's app: appid in v1 tokens, azp in v2
TENANT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/tenantid", "tid")
SCOPE_CLAIMS = ("http://schemas.microsoft.com/identity/claims/scope", "scp")
# The platform caps request headers well below this; a principal this large is not one it sent.
PRINCIPAL_MAX_CHARS = 64 * 1024
# The clock skew the platform's token validation allows: a token it let through is never called expired here.
CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class CallerPrincipal:
    """The caller's identifiers and app roles. IDs are kept only when they are GUIDs, as Entra ID's always are."""

    object_id: str | None  # the user's or the service principal's object ID: what an app role is assigned to
    app_id: str | None  # the client ID of the app that asked for the token
    tenant_id: str | None
    roles: frozenset[str]  # app roles of this API the token carries (a user's assigned roles too)
    delegated: bool  # a signed-in user's token (it has scopes), not an app's own

    def holds(self, role: str) -> bool:
        return role in self.roles


def read_principal(value: str | None) -> CallerPrincipal | None:
    """The Entra ID caller in an X-MS-CLIENT-PRINCIPAL value; None for anything else (absent, not base64 JSON of
    the platform's shape, another identity provider). Roles come from the claims the principal names as its role
    claims (`role_typ`) and from claims typed `roles`: the platform has been seen to pass app roles either way."""
    if not value or len(value) > PRINCIPAL_MAX_CHARS:
        return None
    try:
        document = json.loads(base64.b64decode(value.strip(), validate=True))
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    if not isinstance(document, dict) or not isinstance(document.get("auth_typ"), str):
        return None
    if document["auth_typ"].lower() != ENTRA_AUTH_TYPE:
        return None
    claims = _claims(document.get("claims"))
    if claims is None:
        return None
    role_type = document.get("role_typ")
    role_types = {ROLES_CLAIM, role_type} if isinstance(role_type, str) and role_type else {ROLES_CLAIM}
    return CallerPrincipal(
        object_id=_guid(claims, OBJECT_ID_CLAIMS),
        app_id=_guid(claims, APP_ID_CLAIMS),
        tenant_id=_guid(claims, TENANT_ID_CLAIMS),
        roles=frozenset(value for kind, value in claims if kind in role_types),
        delegated=any(kind in SCOPE_CLAIMS for kind, _ in claims),
    )


def bound_to_token(principal: CallerPrincipal, authorization: str | None, now: float) -> CallerPrincipal | None:
    """The principal as the bearer token the request carries confirms it: the same object ID and tenant (and app,
    where the principal names one), the token not expired, and only the roles both name; its app is the token's.
    None when the request carries no such token, so a principal header alone, or beside another caller's token or an
    expired one, signs no one in. The token's payload is read, not verified: this ties the header to a token; the
    platform has checked the token's signature."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    claims = read_token_identity(token.strip()) if scheme.lower() == "bearer" else None
    if claims is None or not _same_caller(principal, claims):
        return None
    if claims.expires_at is None or claims.expires_at <= now - CLOCK_SKEW_SECONDS:
        return None
    return CallerPrincipal(
        object_id=principal.object_id,
        app_id=_lower_guid(claims.client_id),
        tenant_id=principal.tenant_id,
        roles=principal.roles & frozenset(claims.roles),
        delegated=principal.delegated,
    )


def _same_caller(principal: CallerPrincipal, claims: TokenIdentity) -> bool:
    if principal.object_id is None or principal.object_id != _lower_guid(claims.object_id):
        return False
    if principal.tenant_id is None or principal.tenant_id != _lower_guid(claims.tenant_id):
        return False
    return principal.app_id is None or principal.app_id == _lower_guid(claims.client_id)


def _lower_guid(value: str | None) -> str | None:
    return value.lower() if value is not None and GUID_RE.fullmatch(value) else None


def _claims(value: Any) -> list[tuple[str, str]] | None:
    """The (typ, val) pairs; None when the list is not the platform's shape, so a mangled principal is no principal."""
    if not isinstance(value, list):
        return None
    pairs = []
    for claim in value:
        kind, text = (claim.get("typ"), claim.get("val")) if isinstance(claim, dict) else (None, None)
        if not isinstance(kind, str) or not isinstance(text, str):
            return None
        pairs.append((kind, text))
    return pairs


def _guid(claims: Iterable[tuple[str, str]], kinds: tuple[str, ...]) -> str | None:
    """The first claim of the first kind present, when it is a GUID."""
    for kind in kinds:
        for claim_kind, value in claims:
            if claim_kind == kind:
                return value.lower() if GUID_RE.fullmatch(value) else None
    return None
