"""The Graph access this function needs, and the one step that mends each gap, with the real values filled in.

A 403 (a single call or a batch item) and Diagnose take their words from here, so an admin reads the same fix
wherever the problem shows up.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .errors import ApiError, graph_said, sentences
from .token_claims import TokenIdentity, iso_time

ROLE_SCRIPT = "python3 scripts/grant_app_roles.py"  # Python 3 and the Azure CLI: every platform
POLICY_SCRIPT = "./scripts/Grant-TeamsAccessPolicy.ps1"
TOKEN_CACHE_HOURS = 24  # how long the platform may keep handing out a managed identity's token
POLICY_DELAY_MINUTES = 30  # how long Teams may take to apply an application access policy
# What PowerShell reads as one plain word: GUIDs and most UPNs. A UPN may also hold ' (which opens a string) or start
# with - (which names a parameter), so anything else goes in single quotes.
_POWERSHELL_BARE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
_POWERSHELL_QUOTE_RE = re.compile("['\u2018\u2019\u201a\u201b]")  # PowerShell reads the typographic ones as ' too


class AppRole(NamedTuple):
    """A Microsoft Graph application permission, by its least privileged name, and those that also do."""

    name: str
    accepted: tuple[str, ...]
    needed_for: str


APPOINTMENT_URL_ROLE = AppRole(
    "VirtualAppointment.Read.All",
    ("VirtualAppointment.Read.All", "VirtualAppointment.ReadWrite.All"),
    "asking Graph for a virtual appointment join URL",
)
LOOKUP_ROLE = AppRole(
    "OnlineMeetings.Read.All",
    ("OnlineMeetings.Read.All", "OnlineMeetings.ReadWrite.All"),
    "finding a meeting by its Teams join link or numeric meeting ID",
)
REQUIRED_ROLES = (APPOINTMENT_URL_ROLE, LOOKUP_ROLE)

# Graph's two wordings, in the 403 of an app-only meeting call, for an organizer no Teams application access policy
# covers: "No application access policy found for this app." and "Application is not allowed to perform operations
# on the user '<id>', neither is allowed access through RSC permission evaluation."
_POLICY_DENIALS = (
    "no application access policy found for this app",
    "is not allowed to perform operations on the user",
)


def access_denied(
    status: int,
    graph_message: str,
    said: str,
    identity: TokenIdentity | None,
    role: AppRole,
    organizer: str,
    graph_request_id: str | None = None,
) -> ApiError:
    """A Graph 401/403, explained by the claims of the token that asked, then by Graph's own words."""
    if identity is not None and lacks_role(identity, role):
        return permission_missing(identity, role, graph_request_id)
    if identity is not None and status == 403 and is_access_policy_denial(graph_message):
        return access_policy_missing(identity, organizer, graph_message, graph_request_id)
    if identity is not None and not identity.delegated:
        causes = (
            f"The token carries {role.name} or better, so the usual causes are: the organizer {organizer} has no "
            "Teams licence, a conditional-access policy blocks the identity, or the tenant does not allow app-only "
            "access to this API."
        )
    else:
        causes = (
            f"Usual causes: the function's identity lacks the Graph application permission {role.name} (granted as "
            f"an app role, not in the portal); no Teams application access policy covers organizer {organizer} "
            f"(Grant-CsApplicationAccessPolicy, up to {POLICY_DELAY_MINUTES} minutes to take effect); or the tenant "
            "does not allow app-only access to this API."
        )
    return ApiError(
        403,
        "GraphAccessDenied",
        sentences(f"Microsoft Graph refused access (HTTP {status}).", causes, said),
        fix="If none of those explains it, quote the request-id header to Microsoft support.",
        graph_request_id=graph_request_id,
    )


def lacks_role(identity: TokenIdentity, role: AppRole) -> bool:
    """Only an app-only token is held to app roles: a delegated one (Azure CLI) goes by the user's scopes."""
    return not identity.delegated and not identity.has_any_role(role.accepted)


def is_access_policy_denial(graph_message: str) -> bool:
    lowered = graph_message.lower()
    return any(words in lowered for words in _POLICY_DENIALS)


def permission_missing(identity: TokenIdentity, role: AppRole, graph_request_id: str | None = None) -> ApiError:
    carried = ", ".join(identity.roles) or "no app role at all"
    return ApiError(
        403,
        "GraphPermissionMissing",
        f"The function's identity (client ID {_known(identity.client_id)}) lacks the Microsoft Graph application "
        "permission "
        f"{role.name}, needed for {role.needed_for}: the token it used, issued {_when(identity.issued_at)}, carries "
        f"{carried}.",
        fix=grant_role_fix(identity, role),
        graph_request_id=graph_request_id,
    )


def grant_role_fix(identity: TokenIdentity, role: AppRole) -> str:
    object_id = identity.object_id or "<the identity's object ID>"
    return (
        f"Grant it to the identity's service principal (object ID {object_id}) as a Privileged Role "
        f"Administrator: `{ROLE_SCRIPT} {object_id} {role.name}` (Azure CLI), or `azd provision` if you "
        "deployed with azd. The grant reaches the function only in a newly issued token: the platform caches "
        f"managed-identity tokens for up to {TOKEN_CACHE_HOURS} hours and restarting the app does not help, so it "
        f"takes effect when this token is replaced, by {_when(identity.expires_at)} at the latest."
    )


def access_policy_missing(
    identity: TokenIdentity, organizer: str, graph_message: str, graph_request_id: str | None = None
) -> ApiError:
    return ApiError(
        403,
        "AccessPolicyMissing",
        sentences(
            f"No Teams application access policy lets this app (client ID {_known(identity.client_id)}) read the "
            f"online meetings of organizer {organizer}.",
            graph_said("", graph_message),
        ),
        fix=access_policy_fix(identity.client_id, organizer),
        graph_request_id=graph_request_id,
    )


def access_policy_fix(client_id: str | None, organizer: str) -> str:
    app_id = powershell_argument(client_id) if client_id else "<the app (client) ID>"
    return (
        f"As a Teams Administrator, run `{POLICY_SCRIPT} -AppId {app_id} -Organizers {powershell_argument(organizer)}` "
        f"(or -Global instead of -Organizers, for every user). Teams takes up to {POLICY_DELAY_MINUTES} minutes to "
        "apply it; until then Graph keeps refusing."
    )


def powershell_argument(value: str) -> str:
    """A value pasted into a PowerShell command line: as it is when PowerShell reads it as one plain word, else
    single-quoted with each quote doubled, PowerShell's only escape inside single quotes."""
    if _POWERSHELL_BARE_RE.fullmatch(value):
        return value
    return "'" + _POWERSHELL_QUOTE_RE.sub(lambda quote: quote[0] * 2, value) + "'"


def _known(value: str | None) -> str:
    return value or "unknown"


def _when(epoch: float | None) -> str:
    return iso_time(epoch) or "at an unknown time"
