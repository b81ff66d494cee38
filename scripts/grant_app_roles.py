#!/usr/bin/env python3
"""Grants app roles with the Azure CLI: Microsoft Graph's application permissions to GetJoinUrl's managed identity,
and the GetJoinUrl API's own roles to its callers. The Azure portal cannot grant an app role to a managed identity.

  python3 scripts/grant_app_roles.py [--tenant <tenant ID>] <principal object ID> [role ...]
      Microsoft Graph app roles (default VirtualAppointment.Read.All and OnlineMeetings.Read.All) for the function's
      identity: azd env get-value MANAGED_IDENTITY_PRINCIPAL_ID (GraphPermissionMissing and Diagnose print it too).
  python3 scripts/grant_app_roles.py [--tenant <tenant ID>] --api <API client ID> <principal object ID> [role ...]
      the GetJoinUrl API's roles (default JoinUrl.Get; Diagnose.Run runs Diagnose) for a caller: a managed identity,
      service principal, user or group. The API's client ID: azd env get-value ENTRA_API_CLIENT_ID.
  python3 scripts/grant_app_roles.py --azd-env
      everything the azd environment asks for (azd's postprovision hook runs it after every provision): the Graph
      roles for MANAGED_IDENTITY_PRINCIPAL_ID unless GRANT_GRAPH_APP_ROLES is false, JoinUrl.Get for each object ID
      in CALLER_PRINCIPAL_IDS and Diagnose.Run for each in DIAGNOSE_PRINCIPAL_IDS (comma-separated).

Where the tenant is known (--azd-env: the environment's AZURE_TENANT_ID; else --tenant, e.g. azd env get-value
AZURE_TENANT_ID), it first checks that the Azure CLI is signed in to it, and stops at once if not: azd auth login and
az login are separate sign-ins, and in another tenant every lookup would fail as if Entra ID were still replicating.

It checks before it grants, so running it again changes nothing and fails on nothing; an assignment that Graph says
already exists counts as granted. A principal that Entra ID has only just created may not be known everywhere yet
("Not a valid reference update", or not found): it waits and asks again, for up to REPLICATION_WAIT_SECONDS in all.

Needs Python 3.11+ (standard library only) and the Azure CLI signed in (az login) as someone who may grant the roles:
Microsoft Graph's take AppRoleAssignment.ReadWrite.All and Application.Read.All (in practice a Privileged Role
Administrator); the API's, an owner of its enterprise application or an Application Administrator. A role reaches a
caller with its next token: the platform caches managed-identity tokens for up to 24 hours, and a restart does not
clear that cache.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from azure_clis import CliError, Runner, SetupError, azd_environment, check_az_tenant, run_command

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Microsoft Graph's application ID, the same in every tenant
GRAPH_ROOT = "https://graph.microsoft.com/v1.0"
RESOURCE_FIELDS = "id,appDisplayName,appRoles"  # what the grant needs of the resource's service principal
GRAPH_ROLES = ("VirtualAppointment.Read.All", "OnlineMeetings.Read.All")
CALLER_ROLE = "JoinUrl.Get"  # the GetJoinUrl API's role for its callers (infra/app/entra-api.bicep)
DIAGNOSE_ROLE = "Diagnose.Run"  # the GetJoinUrl API's role for running Diagnose
COMMAND = "python3 scripts/grant_app_roles.py"
REPLICATION_WAIT_SECONDS = 180.0  # Entra ID usually knows a new object everywhere within a minute or two
FIRST_WAIT_SECONDS = 5.0
LONGEST_WAIT_SECONDS = 30.0

GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ROLE_RE = re.compile(r"[A-Za-z]+(\.[A-Za-z]+)+")
# What Graph says while a new object has not reached every replica: a lookup finds nothing, a reference to it fails.
NOT_REPLICATED = ("Request_ResourceNotFound", "Not a valid reference update")
ALREADY_GRANTED = "already exists"  # "Permission being assigned already exists on the object"
DENIED = ("Authorization_RequestDenied", "Insufficient privileges")
# A directory object's @odata.type -> the Graph collection that holds its app role assignments, and the member type
# (appRole.allowedMemberTypes) a role must allow for it: applications take Application roles; users and groups, User.
PRINCIPAL_KINDS = {
    "#microsoft.graph.servicePrincipal": ("servicePrincipals", "Application"),
    "#microsoft.graph.user": ("users", "User"),
    "#microsoft.graph.group": ("groups", "User"),
}


class GrantError(Exception):
    """What went wrong, in words an admin can act on; exit status 1."""


class UsageError(GrantError):
    """Bad arguments or environment values; exit status 2, before any call to Graph."""


@dataclass
class Graph:
    """Microsoft Graph through `az rest`, asking again (with a bound) while Entra ID has not replicated an object."""

    run: Runner = run_command
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = self.clock() + REPLICATION_WAIT_SECONDS

    def get(self, path: str) -> dict[str, Any]:
        return self._call(["--method", "GET", "--url", self._url(path)])

    def get_all(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a collection, page after page."""
        url: str | None = self._url(path)
        while url is not None:
            page = self._call(["--method", "GET", "--url", url])
            yield from page.get("value", [])
            url = page.get("@odata.nextLink")
            if url is not None and not url.startswith(f"{GRAPH_ROOT}/"):
                raise GrantError(f"Graph answered with a next page outside {GRAPH_ROOT}: {url}")

    def post(self, path: str, body: Mapping[str, str]) -> dict[str, Any]:
        # The body goes in a file: a JSON argument does not survive the Windows command line that runs az.cmd.
        with tempfile.TemporaryDirectory() as folder:
            body_file = os.path.join(folder, "body.json")
            with open(body_file, "w", encoding="utf-8") as file:
                json.dump(body, file)
            return self._call(
                [
                    "--method",
                    "POST",
                    "--url",
                    self._url(path),
                    "--headers",
                    "Content-Type=application/json",
                    "--body",
                    f"@{body_file}",
                ]
            )

    @staticmethod
    def _url(path: str) -> str:
        return f"{GRAPH_ROOT}{path}"

    def _call(self, arguments: list[str]) -> dict[str, Any]:
        wait = FIRST_WAIT_SECONDS
        while True:
            try:
                output = self.run(["az", "rest", *arguments])
            except CliError as error:
                if any(words in error.stderr for words in NOT_REPLICATED) and self.clock() + wait <= self.deadline:
                    self.sleep(wait)
                    wait = min(wait * 2, LONGEST_WAIT_SECONDS)
                    continue
                raise
            answer = json.loads(output) if output.strip() else {}
            if not isinstance(answer, dict):
                raise GrantError(f"Graph answered {arguments[1]} {arguments[3]} with something other than an object.")
            return answer


@dataclass(frozen=True)
class Grant:
    """Roles of one resource (an application, by its app ID) for one principal (by its object ID)."""

    resource_app_id: str
    principal_id: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """What one run grants, and the tenant the Azure CLI must be signed in to for it (None: not known, not checked),
    with where that tenant was named and what to run again once signed in there."""

    grants: list[Grant]
    tenant_id: str | None = None
    tenant_named_by: str = "--tenant"
    rerun: str = "run this command again"


def grant(graph: Graph, request: Grant, say: Callable[[str], None]) -> bool:
    """Grants what is missing of `request`; True when it granted anything."""
    principal = request.principal_id
    resource = _read(
        graph,
        f"/servicePrincipals(appId='{request.resource_app_id}')?$select={RESOURCE_FIELDS}",
        f"the service principal of application {request.resource_app_id}",
    )
    collection, member_type = _principal_kind(graph, principal)
    role_ids = _role_ids(resource, request, member_type)
    assignments = f"/{collection}/{principal}/appRoleAssignments"
    try:
        held = {a.get("appRoleId") for a in graph.get_all(assignments) if a.get("resourceId") == resource["id"]}
    except CliError as error:
        raise explain(error, f"the app role assignments of {principal}") from None
    granted_any = False
    for role, role_id in role_ids.items():
        if role_id in held:
            say(f"{role} for {principal}: already granted")
            continue
        body = {"principalId": principal, "resourceId": resource["id"], "appRoleId": role_id}
        granted_any |= _assign(graph, assignments, body, f"{role} for {principal}", say)
    return granted_any


def _read(graph: Graph, path: str, what: str) -> dict[str, Any]:
    try:
        return graph.get(path)
    except CliError as error:
        raise explain(error, what) from None


def _principal_kind(graph: Graph, principal: str) -> tuple[str, str]:
    """The collection that holds the principal's app role assignments, and the member type its roles must allow."""
    found = _read(graph, f"/directoryObjects/{principal}", f"the principal {principal}")
    kind = PRINCIPAL_KINDS.get(str(found.get("@odata.type")))
    if kind is None:
        raise GrantError(
            f"{principal} is a {found.get('@odata.type', 'directory object of unknown type')}: app roles go to a "
            "managed identity or other service principal, a user or a group."
        )
    return kind


def _role_ids(resource: Mapping[str, Any], request: Grant, member_type: str) -> dict[str, str]:
    """The ID of each role asked for, among the resource's enabled roles that the principal's kind can hold."""
    name = resource.get("appDisplayName") or request.resource_app_id
    role_ids = {}
    for role in request.roles:
        matches = [
            r["id"]
            for r in resource.get("appRoles", [])
            if r.get("value") == role and r.get("isEnabled", True) and member_type in r.get("allowedMemberTypes", [])
        ]
        if not matches:
            holder = "an application" if member_type == "Application" else "a user or group"
            raise GrantError(f"{name} has no role {role} that {holder} can hold ({request.principal_id} is one).")
        role_ids[role] = matches[0]
    return role_ids


def _assign(graph: Graph, assignments: str, body: Mapping[str, str], what: str, say: Callable[[str], None]) -> bool:
    """Posts one app role assignment; False when Graph says it exists already."""
    try:
        graph.post(assignments, body)
    except CliError as error:
        if ALREADY_GRANTED not in error.stderr.lower():
            raise explain(error, what, granting=True) from None
        say(f"{what}: already granted")
        return False
    say(f"{what}: granted")
    return True


def explain(error: CliError, what: str, granting: bool = False) -> GrantError:
    said = error.last_line
    if any(words in error.stderr for words in DENIED):
        return GrantError(
            f"You may not {'grant' if granting else 'read'} {what}. Graph said: {said} Microsoft Graph's roles take a "
            "Privileged Role Administrator; the GetJoinUrl API's, an owner of its enterprise application or an "
            "Application Administrator. Without that right, run `azd env set GRANT_GRAPH_APP_ROLES false` (for the "
            f"Graph roles) and ask an admin to run `{COMMAND} --azd-env` after azd provision."
        )
    if any(words in error.stderr for words in NOT_REPLICATED):
        return GrantError(
            f"Entra ID still does not know {what} after {REPLICATION_WAIT_SECONDS:g} seconds. Check the ID; if the "
            f"object was only just created, run `{COMMAND} --azd-env` (or azd provision) again in a few minutes. "
            f"Graph said: {said}"
        )
    if "az login" in error.stderr:
        return GrantError(f"The Azure CLI is not signed in: run az login, then run this again. It said: {said}")
    return GrantError(f"{' '.join(error.command[:4])} failed for {what}: {said}")


def guid(value: str, what: str) -> str:
    if not GUID_RE.fullmatch(value):
        raise UsageError(f"{what} must be an object ID (a GUID), not {value!r}.")
    return value.lower()


def role_names(values: Sequence[str], default: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if not ROLE_RE.fullmatch(value):
            raise UsageError(f"{value!r} is not a role name such as {default[0]}.")
    return tuple(values) or default


def id_list(env: Mapping[str, str], name: str) -> list[str]:
    """A comma-separated list of object IDs from the azd environment; spaces and empty entries are ignored."""
    return [guid(item.strip(), f"Each entry of {name}") for item in env.get(name, "").split(",") if item.strip()]


def azd_plan(env: Mapping[str, str], say: Callable[[str], None]) -> Plan:
    """What an azd environment asks for, and its tenant, checked whole before anything is asked of Graph."""
    tenant = env.get("AZURE_TENANT_ID", "").strip()
    if not tenant:
        say("The azd environment has no AZURE_TENANT_ID: the Azure CLI's tenant is not checked.")
    rerun = f"run `{COMMAND} --azd-env` (or azd provision) again"
    tenant_id = guid(tenant, "AZURE_TENANT_ID") if tenant else None
    return Plan(azd_grants(env, say), tenant_id, "this azd environment's AZURE_TENANT_ID", rerun)


def azd_grants(env: Mapping[str, str], say: Callable[[str], None]) -> list[Grant]:
    """What an azd environment asks for."""
    identity = env.get("MANAGED_IDENTITY_PRINCIPAL_ID", "").strip()
    if not identity:
        raise UsageError("The azd environment has no MANAGED_IDENTITY_PRINCIPAL_ID yet: run azd provision first.")
    identity = guid(identity, "MANAGED_IDENTITY_PRINCIPAL_ID")
    switch = env.get("GRANT_GRAPH_APP_ROLES", "true").strip().lower() or "true"
    if switch not in ("true", "false"):
        raise UsageError(f"GRANT_GRAPH_APP_ROLES must be true or false, not {switch!r}.")
    grants = []
    if switch == "true":
        grants.append(Grant(GRAPH_APP_ID, identity, GRAPH_ROLES))
    else:
        say(
            "GRANT_GRAPH_APP_ROLES=false: the identity's Microsoft Graph roles are left to an admin, who runs "
            f"`{COMMAND} {identity}`."
        )
    roles_by_principal: dict[str, list[str]] = {}
    for name, role in (("CALLER_PRINCIPAL_IDS", CALLER_ROLE), ("DIAGNOSE_PRINCIPAL_IDS", DIAGNOSE_ROLE)):
        for principal in id_list(env, name):
            roles_by_principal.setdefault(principal, [])
            if role not in roles_by_principal[principal]:
                roles_by_principal[principal].append(role)
    api = env.get("ENTRA_API_CLIENT_ID", "").strip()
    if api:
        api = guid(api, "ENTRA_API_CLIENT_ID")
        grants += [Grant(api, principal, tuple(roles)) for principal, roles in roles_by_principal.items()]
    elif roles_by_principal:
        say(
            "CALLER_PRINCIPAL_IDS and DIAGNOSE_PRINCIPAL_IDS are not granted: this environment has no GetJoinUrl API "
            "app registration (CALLER_AUTH=keys). Set CALLER_AUTH to entra or both and run azd provision."
        )
    return grants


USAGE = (
    f"usage: {COMMAND} [--tenant <tenant ID>] <principal object ID> [role ...]\n"
    f"       {COMMAND} [--tenant <tenant ID>] --api <API client ID> <principal object ID> [role ...]\n"
    f"       {COMMAND} --azd-env"
)


def parse(argv: Sequence[str], env: Callable[[], Mapping[str, str]], say: Callable[[str], None]) -> Plan:
    arguments = list(argv)
    if arguments in ([], ["-h"], ["--help"]):
        raise UsageError(USAGE)
    if arguments[0] == "--azd-env":
        if len(arguments) > 1:
            raise UsageError(f"--azd-env takes nothing more (the tenant comes from the azd environment).\n{USAGE}")
        return azd_plan(env(), say)
    tenant_id = None
    if arguments[0] == "--tenant":
        if len(arguments) < 3:
            raise UsageError(USAGE)
        tenant_id, arguments = guid(arguments[1], "The tenant ID"), arguments[2:]
    return Plan([one_grant(arguments)], tenant_id)


def one_grant(arguments: list[str]) -> Grant:
    """The grant the command line asks for: the API's roles (--api), else Microsoft Graph's."""
    if arguments[0] == "--api":
        if len(arguments) < 3:
            raise UsageError(USAGE)
        api = guid(arguments[1], "The API client ID")
        return Grant(api, guid(arguments[2], "The principal"), role_names(arguments[3:], (CALLER_ROLE,)))
    if arguments[0].startswith("-"):
        raise UsageError(USAGE)
    return Grant(GRAPH_APP_ID, guid(arguments[0], "The principal"), role_names(arguments[1:], GRAPH_ROLES))


def main(
    argv: Sequence[str],
    run: Runner = run_command,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    def say(line: str) -> None:
        print(line, flush=True)

    try:
        plan = parse(argv, lambda: azd_environment(run), say)
        if plan.grants and plan.tenant_id is not None:
            check_az_tenant(plan.tenant_id, plan.tenant_named_by, plan.rerun, run)
        graph = Graph(run=run, sleep=sleep, clock=clock)
        granted = [grant(graph, request, say) for request in plan.grants]
    except UsageError as error:
        print(error, file=sys.stderr)
        return 2
    except (GrantError, SetupError) as error:
        print(error, file=sys.stderr)
        return 1
    if not plan.grants:
        say("Nothing to grant.")
    elif any(granted):
        say(
            "A new role reaches its holder with the holder's next token: for a managed identity that can take up to "
            "24 hours (the platform caches its tokens, and a restart does not help)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
