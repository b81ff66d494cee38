"""Who may come in through each route: with a function key, or signed in with Microsoft Entra ID and holding an app
role of this API.

The Functions host checks keys (`authLevel` in function.json) before the function runs. It cannot check an Entra ID
sign-in: a caller signed in through App Service Authentication still needs a key on an `authLevel: function` route.
So the Entra ID routes are separate, anonymous functions under /api/entra/ that App Service Authentication guards,
and CALLER_AUTH says which set is on (`keys`, `entra` or `both`).

An Entra ID route treats a request as signed in only when all of these hold, each failing closed:
1. CALLER_AUTH is `entra` or `both`; else 404 NotFound, as for a key route while CALLER_AUTH is `entra` (the app
   setting AzureWebJobs.<name>.Disabled turns the function off too, but the master key still runs it);
2. the platform says App Service Authentication is on for the app: WEBSITE_AUTH_ENABLED, which App Service sets
   from the site's configuration, is `true`; else 500 ConfigurationError and no request is taken as signed in,
   since without the platform in front any client can send the principal header itself;
3. X-MS-CLIENT-PRINCIPAL is present and reads as an Entra ID principal, and the request carries the bearer token it
   came from, unexpired (its payload read, not verified: `caller_identity.bound_to_token`); else 401 Unauthenticated;
4. the principal and its token both hold the route's app role; else 403 CallerRoleMissing, naming the command that
   grants it.
A key route reads no X-MS-CLIENT-* header at all: its callers are whoever holds the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from . import app
from .errors import ApiError
from .invocation import Invocation
from .validation import GUID_RE

if TYPE_CHECKING:
    from .caller_identity import CallerPrincipal


class AppRole(NamedTuple):  # NamedTuples, not dataclasses: a third of the cost at import, on every cold start
    """An app role of the GetJoinUrl API's app registration. The IDs are fixed, the same in every tenant, and are
    the ones infra/ declares."""

    value: str  # what a token's `roles` claim carries
    id: str


JOIN_URL_GET = AppRole("JoinUrl.Get", "1a6fa9d1-751b-4805-b597-3cf96b4c5eda")  # callers of GetJoinUrl
DIAGNOSE_RUN = AppRole("Diagnose.Run", "d42339ba-3b2b-41ee-9c2b-60325d32130b")  # running Diagnose
APP_ROLES = (JOIN_URL_GET, DIAGNOSE_RUN)
# The delegated scope signed-in users (a connector's, the Azure CLI's) are given for the API.
USER_IMPERSONATION_SCOPE = "user_impersonation"
USER_IMPERSONATION_SCOPE_ID = "41573056-491e-4a04-8a2c-4f2cf5f5829a"

KEYS, ENTRA = "keys", "entra"  # how callers come in through a route; CALLER_AUTH `both` opens both
ANYONE = "anyone"  # a route open to every caller in every mode (the connector's definition, which holds no secret)
ENTRA_ROUTE_PREFIX = "/api/entra"
GRANT_SCRIPT = "python3 scripts/grant_app_roles.py"
# The platform variables App Service sets from the site's authentication configuration.
AUTH_ENABLED_VARIABLE = "WEBSITE_AUTH_ENABLED"
AUTH_CLIENT_ID_VARIABLE = "WEBSITE_AUTH_CLIENT_ID"


class Door(NamedTuple):
    """How callers come in through one function."""

    sign_in: str  # KEYS (the host checks a key), ENTRA (App Service Authentication signs the caller in) or ANYONE
    route: str  # the route's path, to name in messages
    role: AppRole | None = None  # what an Entra ID caller must hold

    def open_in(self, mode: str) -> bool:
        return self.sign_in == ANYONE or mode in (self.sign_in, "both")


JOIN_URL_BY_KEY = Door(KEYS, "/api/GetJoinUrl")
DIAGNOSE_BY_KEY = Door(KEYS, "/api/diagnose")
JOIN_URL_SIGNED_IN = Door(ENTRA, f"{ENTRA_ROUTE_PREFIX}/GetJoinUrl", JOIN_URL_GET)
DIAGNOSE_SIGNED_IN = Door(ENTRA, f"{ENTRA_ROUTE_PREFIX}/diagnose", DIAGNOSE_RUN)
DEFINITION_FOR_ANYONE = Door(ANYONE, "/api/openapi.json")


def admit(door: Door, headers: Mapping[str, str], invocation: Invocation) -> None:
    """Raises the refusal unless the request may come in through `door`; an Entra ID caller's IDs go on `invocation`."""
    if door.sign_in == ANYONE:
        return
    mode = app.caller_auth()
    if not door.open_in(mode):
        raise _route_off(door, mode)
    if door.sign_in == KEYS:
        return  # the Functions host has checked the key; no principal header is read on a key route
    if not platform_authentication_on():
        raise ApiError(
            500,
            "ConfigurationError",
            f"App Service Authentication is off for this app (the platform variable {AUTH_ENABLED_VARIABLE} is not "
            f"true), so no caller of {door.route} can be known to be signed in, while the app setting CALLER_AUTH "
            f"is {mode}.",
            fix="Turn App Service Authentication on with the Microsoft Entra provider, as infra/ does (azd provision), "
            "or set CALLER_AUTH to keys.",
        )
    # Only an Entra ID route reads a principal: a key route's cold start does not load the module that reads it.
    from .caller_identity import PRINCIPAL_HEADER, bound_to_token, read_principal

    principal = read_principal(headers.get(PRINCIPAL_HEADER))
    if principal is not None:
        principal = bound_to_token(principal, headers.get("authorization"), app.clock().time())
    if principal is None:
        raise ApiError(
            401,
            "Unauthenticated",
            f"{door.route} takes callers signed in with Microsoft Entra ID, and this request carries no caller that "
            "App Service Authentication signed in, with the bearer token it signed them in with.",
            fix="Send an access token for this API in the Authorization header (Bearer); the README's \"Sign in "
            'with Microsoft Entra ID" says how each kind of caller gets one.',
        )
    invocation.caller_object_id = principal.object_id
    invocation.caller_app_id = principal.app_id
    if door.role is not None and not principal.holds(door.role.value):
        raise role_missing(door, door.role, principal)


def platform_authentication_on(env: Mapping[str, str] | None = None) -> bool:
    """A platform variable, not an app setting: App Service sets it ("True") when authentication is on."""
    return (os.environ if env is None else env).get(AUTH_ENABLED_VARIABLE, "").strip().lower() == "true"


def role_missing(door: Door, role: AppRole, principal: CallerPrincipal) -> ApiError:
    """403 CallerRoleMissing: the role, who lacks it, and the one command that grants it, with real values."""
    object_id = principal.object_id or "<caller object ID>"
    api_client_id = os.environ.get(AUTH_CLIENT_ID_VARIABLE, "").strip()
    if not GUID_RE.fullmatch(api_client_id):
        api_client_id = "<API client ID>"
    held = sorted(principal.roles & {known.value for known in APP_ROLES})
    holds = f"; it holds {', '.join(held)}" if held else ""
    who = "signed-in user" if principal.delegated else "app"
    app_id = f", app {principal.app_id}" if principal.app_id else ""
    if principal.delegated:
        where = "or in the Azure portal: Enterprise applications, the API, Users and groups"
        arrives = "signs in again (a new token for the API)"
    else:
        where = "the Azure portal cannot assign an app role to a managed identity"
        arrives = (
            "asks for a new token: a managed identity's may be cached for up to 24 hours, an app with a secret or "
            "certificate gets one at its next token request"
        )
    return ApiError(
        403,
        "CallerRoleMissing",
        f"The caller is signed in but does not hold the app role {role.value} of this API, which {door.route} "
        f"requires (the {who}'s object ID {object_id}{app_id}{holds}).",
        fix=f"Ask an admin of this API for an app role assignment of {role.value} to object ID {object_id}: "
        f"`{GRANT_SCRIPT} --api {api_client_id} {object_id} {role.value}` (Azure CLI; {where}). "
        f"The role arrives with the caller's next token, once it {arrives}.",
    )


def _route_off(door: Door, mode: str) -> ApiError:
    if mode == ENTRA:
        serves = (
            f"callers signed in with Microsoft Entra ID, at {ENTRA_ROUTE_PREFIX}/GetJoinUrl and "
            f"{ENTRA_ROUTE_PREFIX}/diagnose"
        )
    else:
        serves = "callers with a function key, at /api/GetJoinUrl and /api/diagnose"
    return ApiError(
        404,
        "NotFound",
        f"{door.route} is off in this app: its app setting CALLER_AUTH is {mode}, so it serves {serves}.",
    )
