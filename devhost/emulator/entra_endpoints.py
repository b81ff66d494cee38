"""Microsoft Entra ID's endpoints under `/<tenant>/`, as the emulator serves them for the GetJoinUrl API's callers:
its OpenID configurations and signing keys, which the stand-in of App Service Authentication fetches as Azure
fetches Entra ID's, and its token endpoint `POST /<tenant>/oauth2/v2.0/token`.

The token endpoint takes a client secret (client credentials) or, for the demo user signing in through the Azure
CLI's client ID, a password, and refuses in Entra ID's words and codes (AADSTS...) an unknown client, a wrong secret
or password, a resource other than the API, a client the API did not pre-authorize, and a principal that holds no
role (the API requires assignment, so Entra ID issues it no token): the flow builder's errors are Entra ID's own.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from shared.caller_access import USER_IMPERSONATION_SCOPE

from ..entra_id import (
    API_APP_ID_URI,
    API_CLIENT_ID,
    API_NAME,
    AZURE_CLI_CLIENT_ID,
    DEFAULT_SCOPE,
    TOKEN_LIFETIME_SECONDS,
    EntraTenant,
    Principal,
)

TOKEN_PATH = "/oauth2/v2.0/token"


def entra_reply(
    tenant: EntraTenant, origin: str, method: str, target: str, raw: bytes
) -> tuple[int, dict[str, str], Any]:
    """The answer to a request for `target` under `/<tenant>/` (status, headers, JSON); `origin` is the emulator's,
    where its documents say the endpoints are."""
    rest = urlsplit(target).path[len(tenant.tenant_id) + 1 :]
    documents = {
        "/v2.0/.well-known/openid-configuration": lambda: tenant.openid_configuration(origin, 2),
        "/.well-known/openid-configuration": lambda: tenant.openid_configuration(origin, 1),
        "/discovery/v2.0/keys": tenant.jwks,
        "/discovery/keys": tenant.jwks,
    }
    if method == "GET" and rest in documents:
        return 200, {}, documents[rest]()
    if method == "POST" and rest == TOKEN_PATH:
        try:
            form = parse_qs(raw.decode("ascii"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError):
            form = {}
        status, reply = token_response(tenant, form)
        return status, {"Cache-Control": "no-store"}, reply
    return 404, {}, {"error": "not_found", "error_description": f"No such endpoint: {rest}"}


def token_response(tenant: EntraTenant, form: Mapping[str, list[str]]) -> tuple[int, dict[str, Any]]:
    """The token endpoint's answer to a form-encoded request (status, JSON): the checks in Entra ID's order, the
    first that fails giving its refusal."""
    client_id = _field(form, "client_id").lower()
    try:
        resource = _resource_asked(tenant, form)
        if _field(form, "grant_type") == "client_credentials":
            principal = _app_signing_in(tenant, form, client_id, resource)
        else:
            principal = _user_signing_in(tenant, form, client_id, resource)
        _check_assigned(principal)
    except _Refused as refused:
        return refused.reply
    token = tenant.issue(principal, resource, app_id=client_id)
    return 200, {
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECONDS,
        "ext_expires_in": TOKEN_LIFETIME_SECONDS,
        "access_token": token,
    }


def _resource_asked(tenant: EntraTenant, form: Mapping[str, list[str]]) -> str:
    """The API, as the request's scopes name it, for a grant this issuer takes."""
    if _field(form, "grant_type") not in ("client_credentials", "password"):
        raise _Refused(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
    resource = _resource(_field(form, "scope").split())
    if resource is None:
        raise _Refused(
            400,
            "invalid_scope",
            70011,
            f"The provided value for the input parameter 'scope' is not valid: ask for {API_APP_ID_URI}"
            f"{DEFAULT_SCOPE} (or the API's client ID{DEFAULT_SCOPE}).",
        )
    if resource not in (API_APP_ID_URI, API_CLIENT_ID):
        raise _Refused(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named {tenant.tenant_id}.",
        )
    return resource


def _app_signing_in(tenant: EntraTenant, form: Mapping[str, list[str]], client_id: str, resource: str) -> Principal:
    """The app of a client credentials request: a known client, its secret, and the one scope such a flow may
    ask for."""
    principal = next((p for p in tenant.principals if p.client_id == client_id and p.secret), None)
    if principal is None:
        raise _Refused(
            401,
            "invalid_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory.",
        )
    if not secrets.compare_digest(_field(form, "client_secret"), principal.secret or ""):
        raise _Refused(401, "invalid_client", 7000215, "Invalid client secret provided.")
    if _field(form, "scope").split() != [resource + DEFAULT_SCOPE]:
        raise _Refused(
            400,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid: client "
            "credential flows must have a scope value with /.default suffixed to the resource.",
        )
    return principal


def _user_signing_in(tenant: EntraTenant, form: Mapping[str, list[str]], client_id: str, resource: str) -> Principal:
    """The user of a password request: scopes the API exposes, through the client the API pre-authorized (the
    Azure CLI's), with the user's own password."""
    scopes = _field(form, "scope").split()
    suffixes = {scope.rsplit("/", 1)[1] for scope in scopes if scope.startswith(resource + "/")}
    if not suffixes <= {DEFAULT_SCOPE.strip("/"), USER_IMPERSONATION_SCOPE}:
        raise _Refused(
            400,
            "invalid_scope",
            65005,
            f"The application '{API_NAME}' asked for scopes it does not expose: it exposes {USER_IMPERSONATION_SCOPE}.",
        )
    if client_id != AZURE_CLI_CLIENT_ID:
        raise _Refused(
            400,
            "invalid_grant",
            65001,
            f"The user or administrator has not consented to use the application with ID '{client_id}'.",
        )
    username = _field(form, "username").lower()
    principal = next((p for p in tenant.principals if p.username == username), None)
    if principal is None or not secrets.compare_digest(_field(form, "password"), principal.password or ""):
        raise _Refused(400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password.")
    return principal


class _Refused(Exception):
    """A token request Entra ID refuses: raised by the check that fails, its reply given by token_response."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.reply = _refusal(status, error, code, description)


def _field(form: Mapping[str, list[str]], name: str) -> str:
    """A form field sent once; a field left out or sent twice reads as empty."""
    values = form.get(name, [])
    return values[0] if len(values) == 1 else ""


def _check_assigned(principal: Principal) -> None:
    """The API requires assignment: Entra ID issues no token to a principal that holds none of its app roles, in its
    words for an application (AADSTS501051) or a signed-in user (AADSTS50105)."""
    if not principal.roles:
        if principal.is_user:
            raise _Refused(
                400,
                "invalid_grant",
                50105,
                f"Your administrator has configured the application {API_NAME} ('{API_CLIENT_ID}') to block users "
                "unless they are specifically granted ('assigned') access to the application. The signed in user "
                f"'{principal.object_id}' is blocked because they are not a direct member of a group with access, "
                "nor had access directly assigned by an administrator.",
            )
        raise _Refused(
            400,
            "invalid_grant",
            501051,
            f"Application '{principal.client_id or principal.object_id}'({principal.name}) is not assigned to a "
            f"role for the application '{API_APP_ID_URI}'({API_NAME}).",
        )


def _resource(scopes: list[str]) -> str | None:
    """The resource the scopes name (`<resource>/.default` or `<resource>/user_impersonation`), OpenID scopes aside."""
    named = {scope.rsplit("/", 1)[0] for scope in scopes if scope not in ("openid", "profile", "offline_access")}
    if len(named) != 1:
        return None
    [resource] = named
    return resource.lower() if resource.lower() == API_CLIENT_ID else resource


def _refusal(status: int, error: str, code: int, description: str) -> tuple[int, dict[str, Any]]:
    """Entra ID's error answer: the AADSTS code in words and as a number, and IDs for support."""
    trace, correlation = uuid.uuid4(), uuid.uuid4()
    return status, {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} "
        f"Timestamp: {time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime())}",
        "error_codes": [code],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": str(trace),
        "correlation_id": str(correlation),
    }
