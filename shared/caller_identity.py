"""Who called an Entra ID route, as App Service Authentication tells the app: the X-MS-CLIENT-PRINCIPAL header.

With App Service Authentication on, the platform validates the caller's token before the Functions host sees the
request, removes any X-MS-CLIENT-* header the client sent, and passes the caller on as that header: base64 of JSON
`{"auth_typ", "name_typ", "role_typ", "claims": [{"typ", "val"}, ...]}`, one claim per value (one per role), with
claim names mapped as .NET maps them (the object ID arrives as
http://schemas.microsoft.com/identity/claims/objectidentifier). This module only reads that header; whether it can
be trusted is `caller_access`'s concern. Nothing here validates a token, so no cryptography is loaded.

Only identifiers are kept (object ID, app ID, tenant) and the roles: never a name, an e-mail address or a token.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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
