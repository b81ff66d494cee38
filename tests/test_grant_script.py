"""scripts/grant_app_roles.py, the fix GraphPermissionMissing names and azd's postprovision hook, run against
stand-ins for `az` and `azd` on PATH.

The `az` stand-in keeps a small directory (service principals with their app roles, directory objects by type, app
role assignments) in a JSON file and answers only the calls Graph documents for this job, as `az rest` makes them,
and `az account show --query tenantId`: any other command line, URL or body fails the test. It also plays what a
real tenant does to a re-run: an object Entra ID has not replicated yet (not found, or "Not a valid reference
update"), an assignment that exists already, a caller without the right to grant, collections served a page at a
time, and an Azure CLI signed in to another tenant than azd's, or to none.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from shared.graph_access import APPOINTMENT_URL_ROLE, LOOKUP_ROLE, ROLE_SCRIPT
from tests.conftest import APP_ROOT, load_script

SCRIPT = APP_ROOT / "scripts" / "grant_app_roles.py"

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_SP = "aaaaaaaa-0000-4000-8000-000000000001"
GRAPH_ROLE_IDS = {
    "VirtualAppointment.Read.All": "d4f67ec2-59b5-4bdc-b4af-d78f6f9c1954",
    "OnlineMeetings.Read.All": "c1684f21-1984-47fa-9d61-2dc8c296bb70",
    "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
}
API_APP_ID = "5e1b2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
API_SP = "aaaaaaaa-0000-4000-8000-000000000002"
API_ROLE_IDS = {
    "JoinUrl.Get": "1a6fa9d1-751b-4805-b597-3cf96b4c5eda",
    "Diagnose.Run": "d42339ba-3b2b-41ee-9c2b-60325d32130b",
}
IDENTITY = "0c6f3e2a-7b1d-4c9e-8f5a-3d2b1e0f9a8c"  # the function's managed identity
CALLER_APP = "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b"  # a Logic App's managed identity
ADMIN_USER = "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"
FLOW_GROUP = "3b4c5d6e-7f8a-4b9c-8d1e-2f3a4b5c6d7e"
UNKNOWN_APP = "4c5d6e7f-8a9b-4c0d-9e1f-3a4b5c6d7e8f"
TENANT = "aaaabbbb-0000-cccc-1111-dddd2222eeee"  # the tenant azd deployed to (AZURE_TENANT_ID)
OTHER_TENANT = "bbbbcccc-1111-dddd-2222-eeee3333ffff"  # where az was last signed in
AZ_TENANT = ["account", "show", "--query", "tenantId", "--output", "tsv"]

SERVICE_PRINCIPAL = "#microsoft.graph.servicePrincipal"

FAKE_AZ = r'''#!PYTHON
"""Stand-in for `az rest` against Microsoft Graph v1.0: strict about the calls it accepts."""
import json, os, re, sys

GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ROOT = re.escape("https://graph.microsoft.com/v1.0")
SELECT = re.escape("?$select=id,appDisplayName,appRoles")
ASSIGNMENTS = r"/(servicePrincipals|users|groups)/(" + GUID + r")/appRoleAssignments"
KINDS = {"servicePrincipals": "#microsoft.graph.servicePrincipal", "users": "#microsoft.graph.user",
         "groups": "#microsoft.graph.group"}
args = sys.argv[1:]
state_path = os.environ["FAKE_GRAPH_STATE"]
with open(state_path) as file:
    state = json.load(file)


def record(body=None):
    with open(os.environ["FAKE_AZ_LOG"], "a") as log:
        log.write(json.dumps({"args": args, "body": body}) + "\n")


def refuse(why):
    print(f"stand-in az: unexpected call ({why}): {args}", file=sys.stderr)
    sys.exit(3)


def fail(status, code, message):
    error = {"error": {"code": code, "message": message, "innerError": {"request-id": "r", "date": "d"}}}
    print(f"ERROR: {status}({json.dumps(error)})", file=sys.stderr)
    sys.exit(1)


def save():
    with open(state_path, "w") as file:
        json.dump(state, file)


def not_yet_replicated(object_id, counter):
    """True (and one fewer to come) while Entra ID is still to replicate the object for this kind of call."""
    left = state[counter].get(object_id, 0)
    if left:
        state[counter][object_id] = left - 1
        save()
    return bool(left)


def not_found(object_id):
    fail("Not Found", "Request_ResourceNotFound",
         f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.")


if args[5:7] == ["--headers", "Content-Type=application/json"] and len(args) == 9 and args[8].startswith("@"):
    with open(args[8][1:]) as file:
        body = json.load(file)
    record(body)
else:
    body = None
    record()
if args == ["account", "show", "--query", "tenantId", "--output", "tsv"]:
    if state["signedInTenant"] is None:
        print("ERROR: Please run 'az login' to setup account.", file=sys.stderr)
        sys.exit(1)
    print(state["signedInTenant"])
    sys.exit(0)
if args[:2] != ["rest", "--method"] or len(args) < 5 or args[3] != "--url":
    refuse("not az rest --method M --url U")
method, url = args[2], args[4]
if method == "GET":
    if len(args) != 5:
        refuse("GET takes no more arguments")
    if m := re.fullmatch(ROOT + r"/servicePrincipals\(appId='(" + GUID + r")'\)" + SELECT, url):
        sp = state["servicePrincipals"].get(m.group(1))
        if sp is None or not_yet_replicated(sp["id"], "unreplicated"):
            not_found(m.group(1))
        print(json.dumps({"@odata.context": "ctx", **sp}))
    elif m := re.fullmatch(ROOT + r"/directoryObjects/(" + GUID + ")", url):
        kind = state["objects"].get(m.group(1))
        if kind is None or not_yet_replicated(m.group(1), "unreplicated"):
            not_found(m.group(1))
        print(json.dumps({"@odata.type": kind, "id": m.group(1), "displayName": "x", "extra": [1, 2]}))
    elif m := re.fullmatch(ROOT + ASSIGNMENTS + r"(\?\$skiptoken=(\d+))?", url):
        if state["objects"].get(m.group(2)) != KINDS[m.group(1)]:
            not_found(m.group(2))
        held = [a for a in state["assignments"] if a["principalId"] == m.group(2)]
        start, size = int(m.group(4) or 0), state["pageSize"]
        page = {"value": held[start:start + size]}
        if start + size < len(held):
            page["@odata.nextLink"] = f"{url.split('?')[0]}?$skiptoken={start + size}"
        print(json.dumps(page))
    else:
        refuse("GET of a URL this job has no use for")
elif method == "POST":
    m = re.fullmatch(ROOT + ASSIGNMENTS, url)
    if not m or body is None or args[7] != "--body":
        refuse("POST other than an app role assignment with a JSON body from a file")
    if set(body) != {"principalId", "resourceId", "appRoleId"} or body["principalId"] != m.group(2):
        refuse(f"body {body}")
    if state["objects"].get(m.group(2)) != KINDS[m.group(1)]:
        not_found(m.group(2))
    if state["denied"]:
        fail("Forbidden", "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    if not_yet_replicated(m.group(2), "unreplicatedPosts"):
        fail("Bad Request", "Request_BadRequest", "Not a valid reference update.")
    [sp] = [sp for sp in state["servicePrincipals"].values() if sp["id"] == body["resourceId"]] or [None]
    if sp is None:
        fail("Bad Request", "Request_BadRequest", "Invalid resourceId")
    member = "Application" if m.group(1) == "servicePrincipals" else "User"
    if not any(r["id"] == body["appRoleId"] and member in r["allowedMemberTypes"] for r in sp["appRoles"]):
        fail("Bad Request", "Request_BadRequest", "Permission being assigned was not found on application")
    duplicate = {k: body[k] for k in ("principalId", "resourceId", "appRoleId")}
    if state["hiddenDuplicates"] or any({k: a[k] for k in duplicate} == duplicate for a in state["assignments"]):
        fail("Bad Request", "Request_BadRequest", "Permission being assigned already exists on the object")
    created = {"id": f"assignment-{len(state['assignments'])}", **body}
    state["assignments"].append(created)
    save()
    print(json.dumps(created))
else:
    refuse("method")
'''

FAKE_AZD = r"""#!PYTHON
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_AZ_LOG"], "a") as log:
    log.write(json.dumps({"args": ["azd", *args], "body": None}) + "\n")
expected = ["env", "get-values", "--output", "json"]
name = os.environ.get("AZURE_ENV_NAME")
if args != (expected + ["--environment", name] if name else expected):
    print(f"stand-in azd: unexpected call: {args}", file=sys.stderr)
    sys.exit(3)
print(os.environ["FAKE_AZD_ENV"])
"""


def app_role(role_id: str, value: str, *member_types: str) -> dict[str, Any]:
    return {"id": role_id, "value": value, "allowedMemberTypes": list(member_types), "isEnabled": True}


def tenant() -> dict[str, Any]:
    """A tenant after the first `azd provision`: Graph, the API and its callers exist; nothing is granted."""
    return {
        "servicePrincipals": {
            GRAPH_APP_ID: {
                "id": GRAPH_SP,
                "appDisplayName": "Microsoft Graph",
                "appRoles": [app_role(i, v, "Application") for v, i in GRAPH_ROLE_IDS.items()]
                + [app_role("0e263e50-5827-48a4-b97c-d940288653c7", "Directory.AccessAsUser.All", "User")],
            },
            API_APP_ID: {
                "id": API_SP,
                "appDisplayName": "GetJoinUrl API (dev)",
                "appRoles": [app_role(i, v, "Application", "User") for v, i in API_ROLE_IDS.items()],
            },
        },
        "objects": {
            GRAPH_SP: SERVICE_PRINCIPAL,
            API_SP: SERVICE_PRINCIPAL,
            IDENTITY: SERVICE_PRINCIPAL,
            CALLER_APP: SERVICE_PRINCIPAL,
            ADMIN_USER: "#microsoft.graph.user",
            FLOW_GROUP: "#microsoft.graph.group",
        },
        "assignments": [],
        "unreplicated": {},
        "unreplicatedPosts": {},
        "denied": False,
        "hiddenDuplicates": False,
        "pageSize": 2,
        "signedInTenant": TENANT,
    }


@contextlib.contextmanager
def patched_environ(environ: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class StandIns:
    """The stand-in `az` and `azd` on PATH, the tenant they serve, and the calls they were asked."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.bin = folder / "bin"
        self.bin.mkdir()
        for name, source in (("az", FAKE_AZ), ("azd", FAKE_AZD)):
            program = self.bin / name
            program.write_text(source.replace("PYTHON", sys.executable, 1))
            program.chmod(0o755)
        self.state_file = folder / "graph.json"
        self.log = folder / "calls.log"
        self.state = tenant()
        self.azd_env: dict[str, str] = {}
        self.env_name = ""

    def environ(self) -> dict[str, str]:
        self.state_file.write_text(json.dumps(self.state))
        self.log.write_text("")
        env = {
            **os.environ,
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "FAKE_GRAPH_STATE": str(self.state_file),
            "FAKE_AZ_LOG": str(self.log),
            "FAKE_AZD_ENV": json.dumps(self.azd_env),
        }
        env.pop("AZURE_ENV_NAME", None)
        if self.env_name:
            env["AZURE_ENV_NAME"] = self.env_name
        return env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The script's main, in this process (a Python start less per run), with the stand-ins on PATH: each az or
        azd call it makes is still a process of its own. test_the_hooks_command_line_runs_it runs it as azd does."""
        script = load_script("grant_app_roles")
        out, err = io.StringIO(), io.StringIO()
        with patched_environ(self.environ()), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = script.main(list(args))
        self.state = json.loads(self.state_file.read_text())
        return subprocess.CompletedProcess([str(SCRIPT), *args], code, out.getvalue(), err.getvalue())

    def run_as_a_process(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, str(SCRIPT), *args], env=self.environ(), capture_output=True, text=True, timeout=60
        )
        self.state = json.loads(self.state_file.read_text())
        return done

    def calls(self) -> list[list[str]]:
        """The command lines the stand-ins were given in the last run, in order."""
        return [json.loads(line)["args"] for line in self.log.read_text().splitlines()]

    def posted(self) -> list[tuple[str, dict[str, str]]]:
        """(URL, body) of every POST of the last run, in order."""
        entries = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [(e["args"][4], e["body"]) for e in entries if e["args"][:3] == ["rest", "--method", "POST"]]

    def granted(self) -> set[tuple[str, str, str]]:
        """(principal, resource service principal, role ID) of every assignment in the tenant."""
        return {(a["principalId"], a["resourceId"], a["appRoleId"]) for a in self.state["assignments"]}


@pytest.fixture
def stand_ins(tmp_path: Path) -> StandIns:
    return StandIns(tmp_path)


@pytest.fixture
def script() -> ModuleType:
    """The script as a module, for the tests that run it on an injected clock."""
    return load_script("grant_app_roles")


def graph_roles(principal: str, *roles: str) -> set[tuple[str, str, str]]:
    return {(principal, GRAPH_SP, GRAPH_ROLE_IDS[role]) for role in roles}


def api_roles(principal: str, *roles: str) -> set[tuple[str, str, str]]:
    return {(principal, API_SP, API_ROLE_IDS[role]) for role in roles}


def test_the_error_messages_name_this_command() -> None:
    assert ROLE_SCRIPT == "python3 scripts/grant_app_roles.py"
    assert SCRIPT.exists()
    assert (APPOINTMENT_URL_ROLE.name, LOOKUP_ROLE.name) == tuple(GRAPH_ROLE_IDS)[:2]


def test_grants_both_graph_roles_by_default(stand_ins: StandIns) -> None:
    done = stand_ins.run(IDENTITY)
    assert done.returncode == 0, done.stderr
    assert stand_ins.granted() == graph_roles(IDENTITY, "VirtualAppointment.Read.All", "OnlineMeetings.Read.All")
    urls = {url for url, _ in stand_ins.posted()}
    assert urls == {f"https://graph.microsoft.com/v1.0/servicePrincipals/{IDENTITY}/appRoleAssignments"}
    assert "VirtualAppointment.Read.All for" in done.stdout and "granted" in done.stdout
    assert "24 hours" in done.stdout


def test_a_role_already_granted_is_left_alone_and_a_rerun_changes_nothing(stand_ins: StandIns) -> None:
    stand_ins.state["assignments"].append(
        {"id": "a0", "principalId": IDENTITY, "resourceId": GRAPH_SP, "appRoleId": GRAPH_ROLE_IDS["Mail.Send"]}
    )
    stand_ins.state["assignments"].append(
        {
            "id": "a1",
            "principalId": IDENTITY,
            "resourceId": GRAPH_SP,
            "appRoleId": GRAPH_ROLE_IDS["OnlineMeetings.Read.All"],
        }
    )
    stand_ins.state["pageSize"] = 1  # the role held sits on the second page
    done = stand_ins.run(IDENTITY)
    assert done.returncode == 0, done.stderr
    assert [body["appRoleId"] for _, body in stand_ins.posted()] == [GRAPH_ROLE_IDS["VirtualAppointment.Read.All"]]
    assert "OnlineMeetings.Read.All for" in done.stdout and "already granted" in done.stdout

    before = stand_ins.granted()
    again = stand_ins.run(IDENTITY)
    assert again.returncode == 0, again.stderr
    assert stand_ins.posted() == []
    assert stand_ins.granted() == before
    assert "24 hours" not in again.stdout  # nothing new to wait for


def test_an_assignment_graph_says_exists_counts_as_granted(stand_ins: StandIns) -> None:
    """A grant that lands between the check and the grant (or that the list did not show) is not a failure."""
    stand_ins.state["hiddenDuplicates"] = True
    done = stand_ins.run(IDENTITY, "VirtualAppointment.Read.All")
    assert done.returncode == 0, done.stderr
    assert len(stand_ins.posted()) == 1
    assert "already granted" in done.stdout


@pytest.mark.parametrize(
    ("principal", "collection"), [(CALLER_APP, "servicePrincipals"), (ADMIN_USER, "users"), (FLOW_GROUP, "groups")]
)
def test_the_api_role_goes_to_each_kind_of_caller(stand_ins: StandIns, principal: str, collection: str) -> None:
    done = stand_ins.run("--api", API_APP_ID, principal)
    assert done.returncode == 0, done.stderr
    assert stand_ins.posted() == [
        (
            f"https://graph.microsoft.com/v1.0/{collection}/{principal}/appRoleAssignments",
            {"principalId": principal, "resourceId": API_SP, "appRoleId": API_ROLE_IDS["JoinUrl.Get"]},
        )
    ]
    assert stand_ins.granted() == api_roles(principal, "JoinUrl.Get")


def test_a_user_can_be_given_the_diagnose_role(stand_ins: StandIns) -> None:
    done = stand_ins.run("--api", API_APP_ID, ADMIN_USER, "Diagnose.Run")
    assert done.returncode == 0, done.stderr
    assert stand_ins.posted() == [
        (
            f"https://graph.microsoft.com/v1.0/users/{ADMIN_USER}/appRoleAssignments",
            {"principalId": ADMIN_USER, "resourceId": API_SP, "appRoleId": API_ROLE_IDS["Diagnose.Run"]},
        )
    ]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["not-a-guid"],
        [IDENTITY, "Mail.Send'] || id=="],
        ["--api", API_APP_ID],
        ["--api", "nope", CALLER_APP],
        ["--azd-env", IDENTITY],
        ["--graph", IDENTITY],
        ["--tenant", "contoso.onmicrosoft.com", IDENTITY],
        ["--tenant", TENANT],
        ["--tenant", TENANT, "--azd-env"],
    ],
    ids=[
        "no-args",
        "bad-principal",
        "injection",
        "api-without-principal",
        "bad-api",
        "azd-env-and-more",
        "unknown",
        "tenant-not-an-id",
        "tenant-alone",
        "tenant-and-azd-env",
    ],
)
def test_bad_arguments_ask_nothing_of_graph(stand_ins: StandIns, args: list[str]) -> None:
    done = stand_ins.run(*args)
    assert done.returncode == 2
    assert "usage" in done.stderr or "GUID" in done.stderr or "role name" in done.stderr
    assert stand_ins.calls() == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([IDENTITY, "No.Such.Role"], "no role No.Such.Role"),
        ([ADMIN_USER], "no role VirtualAppointment.Read.All that a user or group can hold"),  # Graph's are app-only
        (["--api", API_APP_ID, CALLER_APP, "JoinUrl.Post"], "no role JoinUrl.Post"),
        (["--api", UNKNOWN_APP, CALLER_APP], "still does not know the service principal of application"),
    ],
    ids=["unknown-graph-role", "graph-role-for-a-user", "unknown-api-role", "unknown-api"],
)
def test_what_cannot_be_granted_is_refused_before_any_grant(
    stand_ins: StandIns,
    script: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    words: str,
) -> None:
    waits: list[float] = []
    assert run_in_process(script, stand_ins, monkeypatch, args, waits) == 1
    assert words in capsys.readouterr().err
    assert stand_ins.posted() == []


def run_in_process(
    script: ModuleType, stand_ins: StandIns, monkeypatch: pytest.MonkeyPatch, args: list[str], waits: list[float]
) -> int:
    """main() in this process, on a clock that moves only when it sleeps; az and azd are the stand-ins."""
    for key, value in stand_ins.environ().items():
        monkeypatch.setenv(key, value)
    if not stand_ins.env_name:
        monkeypatch.delenv("AZURE_ENV_NAME", raising=False)
    now = [1000.0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    status: int = script.main(args, sleep=sleep, clock=lambda: now[0])
    stand_ins.state = json.loads(stand_ins.state_file.read_text())
    return status


def test_waits_while_entra_id_replicates_a_new_identity(
    stand_ins: StandIns, script: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first run after the identity is created: it is not found at first, then a grant to it is refused as
    "Not a valid reference update"; the script asks again, waiting longer each time, and grants."""
    stand_ins.state["unreplicated"][IDENTITY] = 2
    stand_ins.state["unreplicatedPosts"][IDENTITY] = 1
    waits: list[float] = []
    assert run_in_process(script, stand_ins, monkeypatch, [IDENTITY], waits) == 0
    assert waits == [5.0, 10.0, 5.0]  # each call starts from the first wait
    assert stand_ins.granted() == graph_roles(IDENTITY, "VirtualAppointment.Read.All", "OnlineMeetings.Read.All")


def test_gives_up_on_an_object_entra_id_never_knows_within_the_bound(
    stand_ins: StandIns, script: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stand_ins.state["unreplicated"][IDENTITY] = 10_000
    waits: list[float] = []
    assert run_in_process(script, stand_ins, monkeypatch, [IDENTITY], waits) == 1
    assert 0 < sum(waits) <= script.REPLICATION_WAIT_SECONDS
    assert max(waits) <= script.LONGEST_WAIT_SECONDS
    error = capsys.readouterr().err
    assert IDENTITY in error and "still does not know" in error and "--azd-env" in error
    assert stand_ins.posted() == []


def test_without_the_right_to_grant_it_says_what_to_do(stand_ins: StandIns) -> None:
    stand_ins.state["denied"] = True
    done = stand_ins.run(IDENTITY)
    assert done.returncode == 1
    assert "Insufficient privileges" in done.stderr
    assert "azd env set GRANT_GRAPH_APP_ROLES false" in done.stderr
    assert "Privileged Role Administrator" in done.stderr


def test_the_hooks_command_line_runs_it(stand_ins: StandIns) -> None:
    """As azure.yaml's postprovision hook runs it: a Python process of its own, its exit code what azd reads."""
    stand_ins.azd_env = {"AZURE_TENANT_ID": TENANT, "MANAGED_IDENTITY_PRINCIPAL_ID": IDENTITY, "CALLER_AUTH": "keys"}
    done = stand_ins.run_as_a_process("--azd-env")
    assert done.returncode == 0, done.stderr
    assert stand_ins.granted() == graph_roles(IDENTITY, "VirtualAppointment.Read.All", "OnlineMeetings.Read.All")
    assert stand_ins.run_as_a_process("--azd-env", "extra").returncode == 2  # a usage error, as azd shows it


def test_the_azd_environment_grants_everything_it_names(stand_ins: StandIns) -> None:
    stand_ins.env_name = "dev"
    stand_ins.azd_env = {
        "AZURE_ENV_NAME": "dev",
        "AZURE_TENANT_ID": TENANT,
        "MANAGED_IDENTITY_PRINCIPAL_ID": IDENTITY.upper(),
        "ENTRA_API_CLIENT_ID": API_APP_ID,
        "CALLER_AUTH": "entra",
        "CALLER_PRINCIPAL_IDS": f" {CALLER_APP}, {FLOW_GROUP} ,",
        "DIAGNOSE_PRINCIPAL_IDS": f"{ADMIN_USER},{CALLER_APP}",
    }
    done = stand_ins.run("--azd-env")
    assert done.returncode == 0, done.stderr
    assert stand_ins.calls()[0] == ["azd", "env", "get-values", "--output", "json", "--environment", "dev"]
    assert stand_ins.calls()[1] == AZ_TENANT  # az is in azd's tenant before anything is asked of Graph
    assert stand_ins.granted() == (
        graph_roles(IDENTITY, "VirtualAppointment.Read.All", "OnlineMeetings.Read.All")
        | api_roles(CALLER_APP, "JoinUrl.Get", "Diagnose.Run")
        | api_roles(FLOW_GROUP, "JoinUrl.Get")
        | api_roles(ADMIN_USER, "Diagnose.Run")
    )
    before = stand_ins.granted()
    again = stand_ins.run("--azd-env")  # the next azd up
    assert again.returncode == 0, again.stderr
    assert stand_ins.posted() == [] and stand_ins.granted() == before


def azd_environment_in(tenant: str) -> dict[str, str]:
    return {
        "AZURE_TENANT_ID": tenant,
        "MANAGED_IDENTITY_PRINCIPAL_ID": IDENTITY,
        "ENTRA_API_CLIENT_ID": API_APP_ID,
        "CALLER_PRINCIPAL_IDS": CALLER_APP,
    }


@pytest.mark.parametrize(
    ("signed_in", "words"),
    [(OTHER_TENANT, f"signed in to tenant {OTHER_TENANT}"), (None, "cannot say which tenant")],
    ids=["another-tenant", "signed-out"],
)
def test_an_azure_cli_outside_the_environment_s_tenant_stops_it_at_once(
    stand_ins: StandIns,
    script: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    signed_in: str | None,
    words: str,
) -> None:
    """azd auth login and az login are separate sign-ins: in another tenant every lookup would answer
    Request_ResourceNotFound, and the script would wait 3 minutes and blame replication. It asks az first."""
    stand_ins.state["signedInTenant"] = signed_in
    stand_ins.state["unreplicated"][IDENTITY] = 10_000  # what Graph would answer there
    stand_ins.azd_env = azd_environment_in(TENANT)
    waits: list[float] = []
    assert run_in_process(script, stand_ins, monkeypatch, ["--azd-env"], waits) == 1
    error = capsys.readouterr().err
    assert words in error and f"az login --tenant {TENANT}" in error and "AZURE_TENANT_ID" in error
    assert "--azd-env" in error  # what to run once signed in
    assert waits == []
    assert [call for call in stand_ins.calls() if call[0] != "azd"] == [AZ_TENANT]


def test_the_tenant_is_compared_whatever_its_case(stand_ins: StandIns) -> None:
    stand_ins.azd_env = azd_environment_in(TENANT.upper())
    done = stand_ins.run("--azd-env")
    assert done.returncode == 0, done.stderr
    assert stand_ins.granted() >= api_roles(CALLER_APP, "JoinUrl.Get")


@pytest.mark.parametrize("signed_in", [TENANT, OTHER_TENANT])
def test_a_grant_by_hand_checks_the_tenant_it_is_given(stand_ins: StandIns, signed_in: str) -> None:
    stand_ins.state["signedInTenant"] = signed_in
    done = stand_ins.run("--tenant", TENANT, "--api", API_APP_ID, CALLER_APP)
    assert stand_ins.calls()[0] == AZ_TENANT
    if signed_in == TENANT:
        assert done.returncode == 0, done.stderr
        assert stand_ins.granted() == api_roles(CALLER_APP, "JoinUrl.Get")
    else:
        assert done.returncode == 1
        assert f"az login --tenant {TENANT}" in done.stderr and "--tenant" in done.stderr
        assert stand_ins.calls() == [AZ_TENANT]


def test_without_a_tenant_a_grant_by_hand_asks_graph_straight_away(stand_ins: StandIns) -> None:
    """The forms an error message prints carry no tenant: they work as before, unchecked."""
    done = stand_ins.run(IDENTITY)
    assert done.returncode == 0, done.stderr
    assert AZ_TENANT not in stand_ins.calls()


def test_the_azd_environment_can_leave_the_graph_roles_to_an_admin(stand_ins: StandIns) -> None:
    stand_ins.azd_env = {
        "MANAGED_IDENTITY_PRINCIPAL_ID": IDENTITY,
        "GRANT_GRAPH_APP_ROLES": "False",
        "ENTRA_API_CLIENT_ID": API_APP_ID,
        "CALLER_PRINCIPAL_IDS": CALLER_APP,
    }
    done = stand_ins.run("--azd-env")
    assert done.returncode == 0, done.stderr
    assert stand_ins.calls()[0] == ["azd", "env", "get-values", "--output", "json"]
    assert stand_ins.granted() == api_roles(CALLER_APP, "JoinUrl.Get")
    assert f"python3 scripts/grant_app_roles.py {IDENTITY}" in done.stdout


def test_in_keys_mode_callers_are_not_granted_and_it_says_why(stand_ins: StandIns) -> None:
    stand_ins.azd_env = {
        "MANAGED_IDENTITY_PRINCIPAL_ID": IDENTITY,
        "CALLER_AUTH": "keys",
        "ENTRA_API_CLIENT_ID": "",
        "CALLER_PRINCIPAL_IDS": CALLER_APP,
    }
    done = stand_ins.run("--azd-env")
    assert done.returncode == 0, done.stderr
    assert stand_ins.granted() == graph_roles(IDENTITY, "VirtualAppointment.Read.All", "OnlineMeetings.Read.All")
    assert "CALLER_AUTH=keys" in done.stdout


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({}, "run azd provision first"),
        ({"MANAGED_IDENTITY_PRINCIPAL_ID": IDENTITY, "GRANT_GRAPH_APP_ROLES": "yes"}, "true or false"),
        (
            {"MANAGED_IDENTITY_PRINCIPAL_ID": IDENTITY, "CALLER_PRINCIPAL_IDS": f"{CALLER_APP},adele@contoso.com"},
            "CALLER_PRINCIPAL_IDS",
        ),
        (
            {
                "MANAGED_IDENTITY_PRINCIPAL_ID": IDENTITY,
                "ENTRA_API_CLIENT_ID": "api://x",
                "DIAGNOSE_PRINCIPAL_IDS": CALLER_APP,
            },
            "ENTRA_API_CLIENT_ID",
        ),
    ],
    ids=["not-provisioned", "bad-switch", "upn-as-caller", "bad-api-id"],
)
def test_a_bad_azd_environment_asks_nothing_of_graph(stand_ins: StandIns, values: dict[str, str], words: str) -> None:
    stand_ins.azd_env = values
    done = stand_ins.run("--azd-env")
    assert done.returncode == 2
    assert words in done.stderr
    assert [call for call in stand_ins.calls() if call[0] != "azd"] == []


def test_the_stand_in_refuses_calls_graph_does_not_need(stand_ins: StandIns) -> None:
    """Strictness is what makes the tests above mean something: another command, URL or body fails."""
    env = stand_ins.environ()
    az = str(stand_ins.bin / "az")
    refused = [
        ["ad", "sp", "show", "--id", GRAPH_APP_ID],
        ["rest", "--method", "GET", "--url", f"https://graph.microsoft.com/beta/directoryObjects/{IDENTITY}"],
        ["rest", "--method", "DELETE", "--url", f"https://graph.microsoft.com/v1.0/servicePrincipals/{IDENTITY}"],
        [
            "rest",
            "--method",
            "POST",
            "--url",
            f"https://graph.microsoft.com/v1.0/servicePrincipals/{IDENTITY}/appRoleAssignments",
            "--body",
            "{}",
        ],
    ]
    for args in refused:
        done = subprocess.run([sys.executable, az, *args], env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 3, args
