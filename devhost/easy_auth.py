"""A stand-in for App Service Authentication ("Easy Auth") in front of the dev host, for `make run AUTH=entra|both`
and the tests, configured as infra/ configures the site's `authsettingsV2`:

- `globalValidation`: authentication required, unauthenticated callers answered `Return401`, and `excludedPaths` per
  mode: in `entra` only `/api/openapi.json`, in `both` also the key routes `/api/GetJoinUrl`, `/api/GetJoinUrl/batch`
  and `/api/diagnose`. An Entra ID route is never excluded;
- the Microsoft Entra provider: the tenant's v2 issuer (`openIdIssuer`), the API's client ID, the allowed audiences
  (the application ID URI and the client ID: v1 tokens carry the audience asked for, v2 tokens the client ID), and
  the allowed tenant (the app setting WEBSITE_AUTH_AAD_ALLOWED_TENANTS).

On every request, as the platform does, it removes each X-MS-CLIENT-* (and X-MS-TOKEN-*) header the client sent.
On a path that is not excluded it then wants `Authorization: Bearer <token>` and validates the token as the platform
does: an RS256 signature by a key the tenant publishes (fetched from its OpenID configuration, here the emulator's),
an issuer of the tenant (v1 `https://sts.windows.net/<tenant>/` or v2 `https://login.microsoftonline.com/<tenant>/v2.0`),
an allowed audience and tenant, and the token's times, with the five minutes of clock skew the platform's token
library allows. Anything else is answered 401 with `WWW-Authenticate: Bearer ...` and a body that is not JSON, before
the function runs. A valid token's caller is passed on as the platform passes it: X-MS-CLIENT-PRINCIPAL (base64 JSON
of `auth_typ`, `name_typ`, `role_typ` and the token's claims, one per value, named as .NET maps them), -ID, -NAME
(users) and -IDP, with the Authorization header left in place. It also gives the function the platform variables
App Service sets when authentication is on (WEBSITE_AUTH_ENABLED and others).

What it does not do: sign-in redirects, cookies, the token store and /.auth/ endpoints (an API answered 401 needs
none); excludedPaths are compared as whole paths, in any case, query string aside, which is this stand-in's reading
of a documented setting whose matching rules Microsoft does not spell out. PyJWT checks the signature, so the
emulator's signing (its own code) is checked by an implementation its author did not write.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func
import jwt
import requests

from shared.caller_access import AUTH_CLIENT_ID_VARIABLE, AUTH_ENABLED_VARIABLE

from .entra_id import API_APP_ID_URI, API_CLIENT_ID, LOGIN_ORIGIN, TENANT_ID, issuer

CLOCK_SKEW_SECONDS = 300  # Microsoft.IdentityModel's default, which the platform's validation keeps
KEYS_REFRESH_SECONDS = 300  # at most one fetch of the keys per this long for a key ID not seen yet
PLATFORM_HEADER_PREFIXES = ("x-ms-client-", "x-ms-token-")
EXCLUDED_IN_ENTRA = ("/api/openapi.json",)
EXCLUDED_IN_BOTH = (*EXCLUDED_IN_ENTRA, "/api/GetJoinUrl", "/api/GetJoinUrl/batch", "/api/diagnose")
ALLOWED_TENANTS_SETTING = "WEBSITE_AUTH_AAD_ALLOWED_TENANTS"
NAME_TYPE = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
ROLE_TYPE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
# .NET's inbound names for JWT claims (JwtSecurityTokenHandler's default map), as the principal carries them; other
# claims (roles, appid, azp, aud, iss, ver, name, preferred_username ...) keep their own names.
CLAIM_TYPES = {
    "oid": "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "tid": "http://schemas.microsoft.com/identity/claims/tenantid",
    "scp": "http://schemas.microsoft.com/identity/claims/scope",
    "idp": "http://schemas.microsoft.com/identity/claims/identityprovider",
    "sub": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
    "upn": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "unique_name": NAME_TYPE,
    "given_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "family_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "amr": "http://schemas.microsoft.com/claims/authnmethodsreferences",
}
UNAUTHORIZED_BODY = b"You do not have permission to view this directory or page."
log = logging.getLogger("devhost.easy_auth")


@dataclass(frozen=True)
class AuthSettings:
    """The parts of the site's `authsettingsV2` that infra/ writes."""

    excluded_paths: tuple[str, ...]
    open_id_issuer: str
    client_id: str
    allowed_audiences: tuple[str, ...]
    allowed_tenants: tuple[str, ...]

    @classmethod
    def as_infra_writes(
        cls, mode: str, tenant_id: str = TENANT_ID, client_id: str = API_CLIENT_ID, app_id_uri: str = API_APP_ID_URI
    ) -> AuthSettings:
        if mode not in ("entra", "both"):
            raise ValueError(f"App Service Authentication is off in mode {mode!r}")
        return cls(
            excluded_paths=EXCLUDED_IN_BOTH if mode == "both" else EXCLUDED_IN_ENTRA,
            open_id_issuer=f"{LOGIN_ORIGIN}/{tenant_id}/v2.0",
            client_id=client_id,
            allowed_audiences=(app_id_uri, client_id),
            allowed_tenants=(tenant_id,),
        )

    @property
    def tenant_id(self) -> str:
        return urlsplit(self.open_id_issuer).path.strip("/").split("/")[0]


class Unauthenticated(Exception):
    """Why a request was answered 401 (for tests and the console; the caller sees only the platform's answer)."""


class AppServiceAuthentication:
    """Call `start()` before serving: it fetches the tenant's signing keys, as the platform does."""

    def __init__(
        self,
        settings: AuthSettings,
        metadata_origin: str,
        *,
        clock: Callable[[], float] = time.time,
        roles_claim: str = "roles",
    ) -> None:
        self.settings = settings
        # Where the issuer's metadata is fetched from: the emulator, standing in for login.microsoftonline.com.
        self.metadata_origin = metadata_origin.rstrip("/")
        self.clock = clock
        # The claim type app roles are passed on with: the platform has been seen to use `roles` and `role_typ`'s.
        self.roles_claim = roles_claim
        self.refusals: list[str] = []  # why each 401 was answered, the last 100
        self._keys: dict[str, jwt.PyJWK] = {}
        self._jwks_uri = ""
        self._keys_fetched = 0.0
        self._lock = threading.Lock()

    def start(self) -> AppServiceAuthentication:
        path = urlsplit(self.settings.open_id_issuer).path
        config = _get_json(f"{self.metadata_origin}{path}/.well-known/openid-configuration")
        if config.get("issuer") != self.settings.open_id_issuer:
            raise RuntimeError(f"the OpenID configuration names issuer {config.get('issuer')!r}")
        self._jwks_uri = str(config["jwks_uri"])
        self._fetch_keys()
        return self

    def platform_variables(self) -> dict[str, str]:
        """What App Service sets for the function when authentication is on, and the tenant setting infra writes."""
        return {
            AUTH_ENABLED_VARIABLE: "True",
            AUTH_CLIENT_ID_VARIABLE: self.settings.client_id,
            "WEBSITE_AUTH_OPENID_ISSUER": self.settings.open_id_issuer,
            ALLOWED_TENANTS_SETTING: ",".join(self.settings.allowed_tenants),
        }

    def admit(self, path: str, headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]] | func.HttpResponse:
        """The request's headers as the function gets them, or the platform's 401."""
        kept = [(name, value) for name, value in headers if not name.lower().startswith(PLATFORM_HEADER_PREFIXES)]
        route = urlsplit(path).path
        if any(route.lower() == excluded.lower() for excluded in self.settings.excluded_paths):
            return kept
        try:
            claims = self.validate([value for name, value in headers if name.lower() == "authorization"])
        except Unauthenticated as why:
            self.refusals = [*self.refusals[-99:], str(why)]
            log.info("App Service Authentication answered 401 for %s: %s", route, why)  # never the token
            return self._unauthorized(presented=str(why) != "no bearer token")
        return kept + _principal_headers(claims, self.roles_claim)

    def validate(self, authorization: list[str]) -> dict[str, Any]:
        """The claims of the one bearer token sent, once it passes every check the platform makes."""
        scheme, _, token = (authorization[0] if len(authorization) == 1 else "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("no bearer token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"not a JWT: {error}") from None
        if header.get("alg") != "RS256":
            raise Unauthenticated(f"algorithm {header.get('alg')!r}, not RS256")
        key = self._key(str(header.get("kid")))
        tenant = self.settings.tenant_id
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=list(self.settings.allowed_audiences),
                issuer=[issuer(1, tenant), issuer(2, tenant)],
                # the times are checked below, on the injected clock, with the platform's skew
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": ["exp", "nbf"]},
            )
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"token refused: {error}") from None
        now = self.clock()
        if not isinstance(claims["exp"], int | float) or claims["exp"] <= now - CLOCK_SKEW_SECONDS:
            raise Unauthenticated("token expired")
        if not isinstance(claims["nbf"], int | float) or claims["nbf"] > now + CLOCK_SKEW_SECONDS:
            raise Unauthenticated("token not yet valid")
        if claims.get("tid") not in self.settings.allowed_tenants:
            raise Unauthenticated(f"tenant {claims.get('tid')!r} not allowed")
        return claims

    def _key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            if kid not in self._keys and self.clock() - self._keys_fetched >= KEYS_REFRESH_SECONDS:
                self._fetch_keys()  # the tenant may have rolled its keys over
            key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated(f"signing key {kid!r} is not one the tenant publishes")
        return key

    def _fetch_keys(self) -> None:
        keys = _get_json(self._jwks_uri).get("keys", [])
        self._keys = {str(jwk["kid"]): jwt.PyJWK(jwk, algorithm="RS256") for jwk in keys if jwk.get("kty") == "RSA"}
        self._keys_fetched = self.clock()

    def _unauthorized(self, presented: bool) -> func.HttpResponse:
        tenant = self.settings.tenant_id
        challenge = (
            f'Bearer realm="{self.settings.client_id}", '
            f'authorization_uri="{LOGIN_ORIGIN}/{tenant}/oauth2/v2.0/authorize", '
            f'resource_id="{self.settings.client_id}"'
        )
        if presented:
            challenge += ', error="invalid_token"'
        return func.HttpResponse(
            UNAUTHORIZED_BODY, status_code=401, headers={"WWW-Authenticate": challenge}, mimetype="text/html"
        )


def _principal_headers(claims: Mapping[str, Any], roles_claim: str) -> list[tuple[str, str]]:
    """The caller as the platform passes it on."""
    mapped = [
        {"typ": ROLE_TYPE if name == "roles" and roles_claim != "roles" else CLAIM_TYPES.get(name, name), "val": text}
        for name, value in claims.items()
        for text in (value if isinstance(value, list) else [value])
    ]
    principal = {
        "auth_typ": "aad",
        "claims": [{"typ": claim["typ"], "val": _text(claim["val"])} for claim in mapped],
        "name_typ": NAME_TYPE,
        "role_typ": ROLE_TYPE,
    }
    encoded = base64.b64encode(json.dumps(principal, separators=(",", ":")).encode()).decode()
    headers = [("X-MS-CLIENT-PRINCIPAL", encoded), ("X-MS-CLIENT-PRINCIPAL-IDP", "aad")]
    if isinstance(claims.get("oid"), str):
        headers.append(("X-MS-CLIENT-PRINCIPAL-ID", claims["oid"]))
    name = next(
        (claims[n] for n in ("preferred_username", "upn", "unique_name") if isinstance(claims.get(n), str)), None
    )
    if name is not None:
        headers.append(("X-MS-CLIENT-PRINCIPAL-NAME", name))
    return headers


def _text(value: Any) -> str:
    """A claim's value as the principal carries it: text, numbers and booleans as .NET writes them."""
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else json.dumps(value)


def _get_json(url: str) -> dict[str, Any]:
    reply = requests.get(url, timeout=10)
    reply.raise_for_status()
    document = reply.json()
    if not isinstance(document, dict):
        raise RuntimeError(f"{url} answered no JSON object")
    return document
