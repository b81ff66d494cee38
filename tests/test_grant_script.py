"""scripts/grant-graph-app-roles.sh, the fix a GraphPermissionMissing names, run against a fake `az` on PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import APP_ROOT

SCRIPT = APP_ROOT / "scripts" / "grant-graph-app-roles.sh"
PRINCIPAL = "0c6f3e2a-7b1d-4c9e-8f5a-3d2b1e0f9a8c"
GRAPH_SP = "aaaaaaaa-0000-4000-8000-000000000001"
ROLE_IDS = {
    "VirtualAppointment.Read.All": "d4f67ec2-59b5-4bdc-b4af-d78f6f9c1954",
    "OnlineMeetings.Read.All": "c1684f21-1984-47fa-9d61-2dc8c296bb70",
}

FAKE_AZ = f"""#!{sys.executable}
import json, os, re, sys
args = sys.argv[1:]
with open(os.environ["FAKE_AZ_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
query = args[args.index("--query") + 1] if "--query" in args else ""
if args[:3] == ["ad", "sp", "show"] and query == "id":
    print({GRAPH_SP!r})
elif args[:3] == ["ad", "sp", "show"]:
    name = re.search(r"value=='([^']*)'", query).group(1)
    print({ROLE_IDS!r}.get(name, ""))
elif args[:3] == ["rest", "--method", "GET"]:
    role_id = re.search(r"appRoleId=='([^']*)'", query).group(1)
    print("assignment-1" if role_id in os.environ.get("FAKE_AZ_GRANTED", "") else "")
"""


def run(tmp_path: Path, *args: str, granted: str = "") -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    az = bin_dir / "az"
    az.write_text(FAKE_AZ)
    az.chmod(0o755)
    log = tmp_path / "az.log"
    log.write_text("")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_AZ_LOG": str(log)}
    env["FAKE_AZ_GRANTED"] = granted
    done = subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30)
    return done, [json.loads(line) for line in log.read_text().splitlines()]


def posted(calls: list[list[str]]) -> list[dict[str, str]]:
    return [json.loads(c[c.index("--body") + 1]) for c in calls if c[:3] == ["rest", "--method", "POST"]]


def test_grants_both_roles_by_default(tmp_path):
    done, calls = run(tmp_path, PRINCIPAL)
    assert done.returncode == 0, done.stderr
    assert posted(calls) == [
        {"principalId": PRINCIPAL, "resourceId": GRAPH_SP, "appRoleId": role_id} for role_id in ROLE_IDS.values()
    ]
    posts = [c for c in calls if c[:3] == ["rest", "--method", "POST"]]
    assert all(f"/servicePrincipals/{PRINCIPAL}/appRoleAssignments" in c[c.index("--url") + 1] for c in posts)
    assert "24 hours" in done.stdout


def test_a_role_already_granted_is_left_alone(tmp_path):
    role = "VirtualAppointment.Read.All"
    done, calls = run(tmp_path, PRINCIPAL, role, granted=ROLE_IDS[role])
    assert done.returncode == 0, done.stderr
    assert posted(calls) == []
    assert "already granted" in done.stdout


@pytest.mark.parametrize(
    "args",
    [[], ["not-a-guid"], [PRINCIPAL, "Mail.Send'] || id=="], [PRINCIPAL, "No.Such.Role"]],
    ids=["no-args", "bad-principal", "injection", "unknown-role"],
)
def test_bad_arguments_grant_nothing(tmp_path, args):
    done, calls = run(tmp_path, *args)
    assert done.returncode != 0
    assert posted(calls) == []
