"""Diagnose: one call that tells an admin what works, and for what does not, the step that mends it.

It makes only calls the function itself makes (a token, a meeting lookup, the join-URL call), so it needs no Graph
permission beyond the function's own, and it shows who the token says the function is, never the token.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import app
from .errors import ApiError, graph_said, sentences
from .field_names import check_names
from .graph_access import LOOKUP_ROLE, REQUIRED_ROLES, lacks_role, permission_missing
from .graph_client import GraphClient
from .graph_paths import appointment_url_path, meeting_lookup_path
from .graph_replies import appointment_url_from, error_for, meeting_id_from, names_unknown_user, odata_error
from .graph_transport import GraphReply
from .invocation import Invocation
from .token_claims import TokenIdentity, iso_time
from .validation import (
    FIELDS,
    MeetingQuery,
    Organizer,
    Selector,
    has_selector,
    meeting_query,
    optional_organizer_id,
    parse_selector,
    pick_organizer,
)

# A classic-link lookup no meeting can match: Graph answers it 200 (empty) exactly when an access policy covers the
# organizer and the token may look meetings up.
POLICY_PROBE_LINK = "https://teams.microsoft.com/l/meetup-join/getjoinurl-diagnose-probe"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None
    advice: bool = False  # a recommendation: failing it does not stop calls, so it leaves `ok` alone

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"name": self.name, "ok": self.ok, "detail": self.detail}
        if self.fix is not None:
            shown["fix"] = self.fix
        if self.advice:
            shown["advice"] = True
        return shown


def diagnose(params: Mapping[str, str], invocation: Invocation) -> dict[str, Any]:
    """The meeting and its organizer are read as GetJoinUrl reads them (a malformed one is its 400): meetingId,
    joinUrl or joinMeetingId, and organizerId, else a classic link's Oid, else DEFAULT_ORGANIZER_ID."""
    check_names(params, FIELDS, "The query string")
    selector = parse_selector(params) if has_selector(params) else None
    optional_organizer_id(params.get("organizerId"))
    checks: list[Check] = []
    identity = _run(checks, params, selector, invocation)
    return {
        "ok": all(check.ok for check in checks if not check.advice),
        "identity": identity.summary() if identity is not None else None,
        "checks": [check.as_json() for check in checks],
    }


def _run(
    checks: list[Check], params: Mapping[str, str], selector: Selector | None, invocation: Invocation
) -> TokenIdentity | None:
    """Appends the checks in the order a call meets them; stops where the next ones cannot run."""
    current = _settings(checks)
    if current is None:
        return None
    organizer = pick_organizer(params, selector, current.appointment_urls.default_organizer)
    if organizer is not None:
        checks.append(_allowed(current, organizer))
    identity = _token_identity(checks, current, invocation)
    if identity is None:
        return None
    checks.extend(_roles(identity))
    if organizer is None:
        checks.append(_no_organizer())
        if selector is not None:
            checks.extend(_not_checked_without_organizer(selector))
        return identity
    checks.extend(_meeting_checks(current.graph, identity, organizer, selector, invocation))
    return identity


def _settings(checks: list[Check]) -> app.Components | None:
    """Appends the settings check; the components they make, when they are valid."""
    try:
        current = app.components()
    except ApiError as failed:
        checks.append(Check("settings", False, failed.message, fix=failed.fix))
        return None
    settings = current.settings
    client = f" (AZURE_CLIENT_ID {settings.azure_client_id})" if settings.azure_client_id else ""
    valid = f"App settings are valid: {settings.graph_credential} credential{client}, Graph {settings.graph_root}."
    checks.append(Check("settings", True, valid))
    return current


def _token_identity(checks: list[Check], current: app.Components, invocation: Invocation) -> TokenIdentity | None:
    """Appends the token check; who the token says the function is, when it could be read."""
    source = f"the {current.settings.graph_credential} credential"
    if current.tokens.holds_token:
        source = "the function's token cache"
    started = time.monotonic()
    try:
        token = current.tokens.token(invocation.deadline)
    except ApiError as failed:
        checks.append(Check("token", False, failed.message, fix=failed.fix))
        return None
    checks.append(_token(source, token.identity, time.monotonic() - started))
    return token.identity


def _meeting_checks(
    graph: GraphClient,
    identity: TokenIdentity,
    organizer: Organizer,
    selector: Selector | None,
    invocation: Invocation,
) -> list[Check]:
    """The organizer's access policy, then the meeting's lookup and join-URL call, as GetJoinUrl would make them."""
    checks: list[Check] = []
    meeting_id = selector.meeting_id if selector is not None else None
    probe = meeting_id is None or not lacks_role(identity, LOOKUP_ROLE)  # else the join-URL call tests the policy
    if probe:
        checks.append(_access_policy(graph, identity, organizer.id, invocation))
    if selector is None:
        return checks
    if meeting_id is None:
        lookup, meeting_id = _meeting_lookup(graph, selector, organizer, invocation)
        checks.append(lookup)
        if meeting_id is None:
            checks.append(
                Check("joinUrlCall", False, "Not checked: the lookup found no meeting.", fix="Mend meetingLookup.")
            )
            return checks
    error = _join_url_call(graph, organizer.id, meeting_id, invocation)
    if not probe:
        checks.append(_policy_by_join_url_call(error, organizer.id))
    checks.append(_join_url_check(error, organizer.id))
    return checks


def _allowed(current: app.Components, organizer: Organizer) -> Check:
    """GetJoinUrl's own check and words: where the organizer came from, and which form of it to add."""
    try:
        current.appointment_urls.ensure_allowed(organizer.id, organizer.source)
    except ApiError as error:
        return Check("organizerAllowed", False, error.message, fix=error.fix)
    listed = "is listed in" if current.settings.allowed_organizer_ids else "is allowed: no"
    return Check("organizerAllowed", True, f"{organizer.id} ({organizer.source.value}) {listed} ALLOWED_ORGANIZER_IDS.")


def _not_checked_without_organizer(selector: Selector) -> list[Check]:
    fix = "Add organizerId=<the organizer's UPN or object ID>, or set DEFAULT_ORGANIZER_ID."
    if selector.meeting_id is not None:
        return [Check("joinUrlCall", False, "Not checked: meetingId needs an organizer.", fix=fix)]
    return [
        Check("meetingLookup", False, "Not checked: Graph looks a meeting up among one organizer's.", fix=fix),
        Check("joinUrlCall", False, "Not checked: the meeting was not looked up.", fix=fix),
    ]


def _meeting_lookup(
    graph: GraphClient, selector: Selector, organizer: Organizer, invocation: Invocation
) -> tuple[Check, str | None]:
    """The lookup GetJoinUrl makes for a link or a number: the meeting ID found, or the error a caller would get."""
    query = meeting_query(selector, organizer)
    given = "joinUrl" if selector.teams_link is not None else "joinMeetingId"
    try:
        reply = _ask(graph, meeting_lookup_path(query), invocation)
        if isinstance(reply, ApiError):
            raise reply
        meeting_id = meeting_id_from(reply, query)
    except ApiError as error:
        return _failed("meetingLookup", error), None
    found = f"Graph found the meeting this {given} names among the meetings of {organizer.id}: {meeting_id}."
    return Check("meetingLookup", True, found), meeting_id


def _token(source: str, identity: TokenIdentity | None, seconds: float) -> Check:
    took = f"Got a Graph token from {source} in {seconds * 1000:.0f} ms"
    if identity is None:
        return Check(
            "token",
            False,
            f"{took}, but it is not a JWT, so the app roles it carries cannot be read.",
            fix="Set GRAPH_CREDENTIAL=managed_identity so the token comes from Microsoft Entra ID.",
        )
    return Check(
        "token", True, f"{took}, issued {iso_time(identity.issued_at)}, expiring {iso_time(identity.expires_at)}."
    )


def _roles(identity: TokenIdentity) -> list[Check]:
    if identity.delegated:
        return [
            Check(
                "appRoles",
                True,
                "The token is a signed-in user's (delegated, e.g. from the Azure CLI): Graph checks that user's "
                "scopes, not app roles. Deployed with a managed identity, the app roles apply.",
                advice=True,
            )
        ]
    checks = []
    for role in REQUIRED_ROLES:
        name = f"appRole:{role.name}"
        if lacks_role(identity, role):
            error = permission_missing(identity, role)
            checks.append(Check(name, False, error.message, fix=error.fix))
        else:
            held = next(r for r in role.accepted if r in identity.roles)
            checks.append(Check(name, True, f"The token carries {held}, needed for {role.needed_for}."))
    broader = [r for role in REQUIRED_ROLES for r in role.accepted[1:] if r in identity.roles]
    if broader:
        checks.append(
            Check(
                "leastPrivilege",
                False,
                f"The token also carries {', '.join(broader)}, which can change meetings; this function only reads.",
                fix="Remove those app role assignments from the identity and keep the .Read.All ones.",
                advice=True,
            )
        )
    return checks


def _no_organizer() -> Check:
    """Every call needs an access policy for its organizer: with none to try, Diagnose cannot say calls work."""
    return Check(
        "accessPolicy",
        False,
        "Not checked: no organizerId was given and DEFAULT_ORGANIZER_ID is not set, so no organizer's Teams "
        "application access policy was tried. Calls for an organizer no policy covers fail with AccessPolicyMissing.",
        fix="Call Diagnose again with organizerId=<the UPN or object ID of an organizer whose meetings you serve>.",
    )


def _access_policy(graph: GraphClient, identity: TokenIdentity, organizer_id: str, invocation: Invocation) -> Check:
    name = "accessPolicy"
    if lacks_role(identity, LOOKUP_ROLE):
        return Check(
            name,
            False,
            f"Not checked: the lookup that tests the policy needs {LOOKUP_ROLE.name}, which the token lacks.",
            fix=f"Grant {LOOKUP_ROLE.name} (see its check), or add meetingId: the join-URL call tests the policy too.",
        )
    query = MeetingQuery(organizer_id, teams_link=POLICY_PROBE_LINK)
    reply = _ask(graph, meeting_lookup_path(query), invocation)
    if isinstance(reply, ApiError):
        return _failed(name, reply)
    if reply.status == 200:
        return Check(name, True, f"A Teams application access policy covers {organizer_id}: Graph answered a lookup.")
    if reply.status == 404:
        return _not_found(name, reply, organizer_id)
    return _failed(name, error_for(reply, LOOKUP_ROLE, query))


def _not_found(name: str, reply: GraphReply, organizer_id: str) -> Check:
    """A 404 to the probe: an unknown user (Graph's code says so), else a lookup Graph got past the policy with."""
    graph_code, graph_message = odata_error(reply.body)
    if names_unknown_user(graph_code):
        return Check(
            name,
            False,
            sentences(f"Graph knows no user {organizer_id} in this tenant.", graph_said(graph_code, graph_message)),
            fix="Check organizerId: the organizer's user principal name or Entra object ID in this tenant.",
        )
    return Check(
        name,
        True,
        f"Graph did not refuse the lookup for {organizer_id} (it answered 404, not 403), so no access policy is "
        "missing.",
    )


def _join_url_call(graph: GraphClient, organizer_id: str, meeting_id: str, invocation: Invocation) -> ApiError | None:
    """The call itself: None when Graph gave a join URL, else the error a caller of GetJoinUrl would get."""
    query = MeetingQuery(organizer_id, meeting_id=meeting_id)
    reply = _ask(graph, appointment_url_path(organizer_id, meeting_id), invocation)
    try:
        if isinstance(reply, ApiError):
            raise reply
        appointment_url_from(reply, query)
    except ApiError as error:
        return error
    return None


def _join_url_check(error: ApiError | None, organizer_id: str) -> Check:
    if error is not None:
        return _failed("joinUrlCall", error)
    return Check("joinUrlCall", True, f"Graph gave a join URL for this meeting of {organizer_id} (not shown).")


def _policy_by_join_url_call(error: ApiError | None, organizer_id: str) -> Check:
    """Without the lookup role the join-URL call is the policy's test: it gets through only with a policy and is
    refused with AccessPolicyMissing without one, but one that fails before Graph looks at the policy (the identity
    lacks its role too, say) tests nothing, and Diagnose says so rather than leave the policy out."""
    name = "accessPolicy"
    if error is None:
        return Check(
            name, True, f"A Teams application access policy covers {organizer_id}: the join-URL call got through."
        )
    if error.code == "AccessPolicyMissing":
        return _failed(name, error)
    return Check(
        name,
        False,
        f"Not checked: the lookup that tests the policy needs {LOOKUP_ROLE.name}, which the token lacks, and the "
        f"join-URL call, which would test it too, failed ({error.code}), which says nothing of the policy.",
        fix=f"Grant {LOOKUP_ROLE.name} first (see its check), then call Diagnose again: its lookup tests the policy.",
    )


def _ask(graph: GraphClient, path: str, invocation: Invocation) -> GraphReply | ApiError:
    try:
        return graph.get(path, invocation)
    except ApiError as error:
        return error


def _failed(name: str, error: ApiError) -> Check:
    """The same answer a caller of GetJoinUrl would get, split into what is wrong and what mends it."""
    fix = error.fix or f"Call Diagnose again; if it persists, quote Graph's request-id {error.graph_request_id}."
    return Check(name, False, f"{error.code}: {error.message}", fix=fix)
