"""Who the function is to Graph, read from the claims of its own access token.

The payload of a JWT is plain base64url JSON. It is read without checking the signature: the token came straight
from the identity endpoint over the platform's channel, and it is only used to explain a refusal, never to grant
anything. Only the claims below are kept; the token itself never leaves `identity`.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any, NamedTuple


class TokenIdentity(NamedTuple):
    client_id: str | None  # appid (v1 tokens) or azp (v2): the client ID an access policy names
    object_id: str | None  # oid: the service principal app roles are granted to
    tenant_id: str | None
    roles: tuple[str, ...]  # app roles in the token; Entra leaves the claim out when there are none
    issued_at: float | None
    expires_at: float | None
    delegated: bool  # a user's token (scp), e.g. from the Azure CLI: Graph checks the user's scopes, not roles

    def has_any_role(self, accepted: tuple[str, ...]) -> bool:
        return any(role in self.roles for role in accepted)

    def summary(self) -> dict[str, Any]:
        """What Diagnose shows: identifiers and times, never the token."""
        return {
            "clientId": self.client_id,
            "objectId": self.object_id,
            "tenantId": self.tenant_id,
            "roles": list(self.roles),
            "tokenIssuedAt": iso_time(self.issued_at),
            "tokenExpiresAt": iso_time(self.expires_at),
        }


def read_token_identity(token: str) -> TokenIdentity | None:
    """The identity claims of a JWT access token; None for anything that is not one (an opaque token)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    if not isinstance(claims, dict):
        return None
    roles = claims.get("roles")
    return TokenIdentity(
        client_id=_text(claims.get("appid")) or _text(claims.get("azp")),
        object_id=_text(claims.get("oid")),
        tenant_id=_text(claims.get("tid")),
        roles=tuple(role for role in roles if isinstance(role, str)) if isinstance(roles, list) else (),
        issued_at=_time(claims.get("iat")),
        expires_at=_time(claims.get("exp")),
        delegated="scp" in claims,
    )


def iso_time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _time(value: Any) -> float | None:
    """A NumericDate within years 1970 to 9999; anything else is unknown."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value < 253_402_300_800 else None
