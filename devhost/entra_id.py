"""The emulator's Microsoft Entra ID: the tenant's token issuer for callers of the GetJoinUrl API.

It holds what infra/ creates in a real tenant (the API's app registration with its application ID URI, its app roles
JoinUrl.Get and Diagnose.Run, the delegated scope user_impersonation, Azure CLI pre-authorized, assignment required)
and a few demo principals with role assignments, and it issues access tokens as Entra ID does:

- signed with RS256 by a key it publishes, as Entra ID publishes its own: OpenID configuration at
  `/<tenant>/v2.0/.well-known/openid-configuration` (and the v1 one), keys at `/<tenant>/discovery/v2.0/keys`;
- in the version the API asks for (`api.requestedAccessTokenVersion`: 2 as infra sets it; without it, v1, which is
  what a managed identity gets from an API that does not ask): v1 tokens have issuer `https://sts.windows.net/<tenant>/`,
  the audience the caller asked for (the application ID URI or the client ID) and the caller's app in `appid`; v2
  tokens have issuer `https://login.microsoftonline.com/<tenant>/v2.0`, the client ID as audience and the app in `azp`;
- app-only tokens carry the app's assigned roles in `roles`; a signed-in user's carry `scp` (the delegated scope) and
  the user's assigned roles in `roles`;
- from the token endpoint `POST /<tenant>/oauth2/v2.0/token`, which the emulator serves with the OpenID documents
  (devhost/emulator/entra_endpoints.py: the checks it makes and its refusals, in Entra ID's words and codes).

The issuer strings are Entra ID's own, so tokens look exactly as in Azure; the stand-in of App Service
Authentication fetches the keys from here, as Azure fetches them from login.microsoftonline.com.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared.caller_access import DIAGNOSE_RUN, JOIN_URL_GET, USER_IMPERSONATION_SCOPE

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
LOGIN_ORIGIN = "https://login.microsoftonline.com"
API_NAME = "GetJoinUrl API (local)"
API_CLIENT_ID = "9a3c5e71-2b4d-4f6a-8c1e-0d2f4b6a8c3e"  # the API's app registration (appId)
API_APP_ID_URI = f"api://{TENANT_ID}/getjoinurl-local"  # its application ID URI, in the form infra writes
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # Microsoft's; pre-authorized on the API by infra
TOKEN_LIFETIME_SECONDS = 3600  # Entra ID picks 60 to 90 minutes
DEFAULT_SCOPE = "/.default"


@dataclass(frozen=True)
class Principal:
    """A service principal (an app, a managed identity) or a user, with the API's app roles assigned to it."""

    name: str  # its display name, for messages; never in a token unless Entra ID puts it there (users)
    object_id: str
    roles: frozenset[str]
    client_id: str | None = None  # an app's or a managed identity's client ID (appId)
    secret: str | None = None  # an app's client secret; a managed identity has none
    username: str | None = None  # a user's sign-in name (UPN)
    password: str | None = None

    @property
    def is_user(self) -> bool:
        return self.username is not None


# Demo principals, what `make run AUTH=entra` prints calls for (the secrets are the emulator's: they open nothing else).
CALLER_APP = Principal(
    "Contoso bookings flow (app)",
    "5d8e2f1a-6b3c-4d9e-a7f0-1c2b3d4e5f60",
    frozenset({JOIN_URL_GET.value}),
    client_id="c4a1b2d3-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    secret="local-caller-app-secret",
)
DIAGNOSE_APP = Principal(
    "Contoso monitoring (app, Diagnose only)",
    "7f1a2b3c-4d5e-4f60-8a1b-2c3d4e5f6a7b",
    frozenset({DIAGNOSE_RUN.value}),
    client_id="e2b3c4d5-f6a7-4b8c-9d0e-1f2a3b4c5d6e",
    secret="local-monitoring-app-secret",
)
ADMIN_USER = Principal(
    "Megan Bowen (admin)",
    "2c4e6a8b-0d1f-4a3c-9e5b-7d9f1b3d5e7a",
    frozenset({DIAGNOSE_RUN.value}),
    username="megan.bowen@contoso.example",
    password="local-admin-password",
)
LOGIC_APP_IDENTITY = Principal(  # a Logic App's managed identity: it gets tokens from its own identity endpoint
    "Contoso Logic App (managed identity)",
    "3e5a7c9e-1f2b-4c4d-8e6f-8a0b2c4d6e8f",
    frozenset({JOIN_URL_GET.value}),
    client_id="a7c9e1f3-2b4d-4f6a-8b0c-2d4e6f8a0b1c",
)
UNASSIGNED_APP = Principal(
    "Contoso app without a role",
    "4f6b8d0f-2a3c-4e5f-9a7b-9c1d3e5f7a9b",
    frozenset(),
    client_id="b8d0f2a4-3c5e-4a7b-9c1d-3e5f7a9b1c2d",
    secret="local-unassigned-app-secret",
)
DEMO_PRINCIPALS = (CALLER_APP, DIAGNOSE_APP, ADMIN_USER, LOGIC_APP_IDENTITY, UNASSIGNED_APP)


def issuer(version: int, tenant_id: str = TENANT_ID) -> str:
    return f"https://sts.windows.net/{tenant_id}/" if version == 1 else f"{LOGIN_ORIGIN}/{tenant_id}/v2.0"


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair and its key ID, as Entra ID publishes its signing keys (JWKS)."""

    private: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def generate(cls) -> SigningKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = private.public_key().public_numbers()
        kid = _b64url(hashlib.sha1(numbers.n.to_bytes(256, "big")).digest())  # a thumbprint, as x5t is
        return cls(private, kid)

    def jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _b64url(numbers.n.to_bytes(256, "big")),
            "e": _b64url(numbers.e.to_bytes(3, "big")),
        }

    def sign(self, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
        signing_input = f"{_b64url(_json(header))}.{_b64url(_json(claims))}"
        signature = self.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"


@cache
def tenant_signing_key() -> SigningKey:
    """The key the emulated tenant signs with, one per process (2048-bit RSA takes some milliseconds to make)."""
    return SigningKey.generate()


@dataclass
class EntraTenant:
    """The emulated tenant's token issuer; `clock` stands in for the time tokens are issued at."""

    tenant_id: str = TENANT_ID
    api_token_version: int | None = 2  # the API's requestedAccessTokenVersion: infra sets 2; None means v1
    principals: list[Principal] = field(default_factory=lambda: list(DEMO_PRINCIPALS))
    clock: Callable[[], float] = time.time

    @property
    def token_version(self) -> int:
        return 2 if self.api_token_version == 2 else 1

    def openid_configuration(self, origin: str, version: int) -> dict[str, Any]:
        """What `<issuer>/.well-known/openid-configuration` says; the endpoints are this emulator's."""
        base = f"{origin}/{self.tenant_id}"
        v2 = "/v2.0" if version == 2 else ""
        return {
            "issuer": issuer(version, self.tenant_id),
            "token_endpoint": f"{base}/oauth2{v2}/token",
            "authorization_endpoint": f"{base}/oauth2{v2}/authorize",
            "jwks_uri": f"{base}/discovery{v2}/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "EU",
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**tenant_signing_key().jwk(), "issuer": issuer(2, self.tenant_id)}]}

    def issue(
        self,
        principal: Principal,
        resource: str = API_APP_ID_URI,
        *,
        app_id: str | None = None,
        version: int | None = None,
        issued_at: float | None = None,
        lifetime: float = TOKEN_LIFETIME_SECONDS,
        changes: Mapping[str, Any] | None = None,
        key: SigningKey | None = None,
    ) -> str:
        """An access token for `principal` to the API, as Entra ID would issue it (tests mint odd ones: another
        version, times, claims `changes` (None removes a claim), or a `key` the tenant does not publish)."""
        version = version or self.token_version
        now = int(self.clock() if issued_at is None else issued_at)
        claims: dict[str, Any] = {
            "aud": API_CLIENT_ID if version == 2 else resource,
            "iss": issuer(version, self.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": int(now + lifetime),
            "aio": _b64url(secrets.token_bytes(48)),
        }
        claims |= _app_claims(principal, version, app_id or principal.client_id or AZURE_CLI_CLIENT_ID, self.tenant_id)
        if principal.is_user:
            claims |= _user_claims(principal, version)
        claims["oid"] = principal.object_id
        claims["rh"] = "0.AAAA" + _b64url(secrets.token_bytes(24)) + "."
        if principal.roles:
            claims["roles"] = sorted(principal.roles)
        claims |= {
            "sub": principal.object_id if not principal.is_user else _b64url(secrets.token_bytes(32)),
            "tid": self.tenant_id,
            "uti": _b64url(secrets.token_bytes(16)),
            "ver": f"{version}.0",
        }
        _change(claims, changes or {})
        key = key or tenant_signing_key()
        header = {"typ": "JWT", "alg": "RS256", "kid": key.kid} | ({"x5t": key.kid} if version == 1 else {})
        return key.sign(header, claims)


def _app_claims(principal: Principal, version: int, caller_app: str, tenant_id: str) -> dict[str, Any]:
    """The app that asked for the token (`appid` in v1, `azp` in v2) and how it proved itself (0: a user's public
    client, 1: a secret); an app-only token says so in `idtyp`, and v1 names the issuer as `idp` too."""
    proof = "0" if principal.is_user else "1"
    if version == 1:
        claims = {"appid": caller_app, "appidacr": proof}
        if not principal.is_user:
            claims |= {"idp": issuer(1, tenant_id), "idtyp": "app"}
        return claims
    claims = {"azp": caller_app, "azpacr": proof}
    if not principal.is_user:
        claims["idtyp"] = "app"
    return claims


def _user_claims(principal: Principal, version: int) -> dict[str, Any]:
    """A signed-in user's name and delegated scope, and the sign-in name where each version puts it."""
    name = principal.name.split(" (")[0]
    given, _, family = name.partition(" ")
    claims: dict[str, Any] = {"name": name, "scp": USER_IMPERSONATION_SCOPE}
    if version == 1:
        claims |= {
            "amr": ["pwd"],
            "family_name": family,
            "given_name": given,
            "unique_name": principal.username,
            "upn": principal.username,
        }
    else:
        claims["preferred_username"] = principal.username
    return claims


def _change(claims: dict[str, Any], changes: Mapping[str, Any]) -> None:
    """A test's odd token: each change sets a claim, or removes it when None."""
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
