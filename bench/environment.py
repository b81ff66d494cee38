"""Where every bench process runs: `.bench-venv`, the two emulators, and the environment that points each child at them.

The contenders share one virtualenv (requirements.txt + msgraph-sdk), so both sides use the same azure-identity,
msal, requests and urllib3, and msgraph-sdk never enters the function's requirements. The run's machine and package
versions are recorded with its figures, since only runs on the same versions compare.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devhost.emulator import GraphEmulator

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = ROOT / ".bench-venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".bench-installed"
MSGRAPH_SDK = "msgraph-sdk==1.65.0"  # pinned so runs compare; bump deliberately

ORGANIZER_ID = "3f9b2c1d-4e5a-4b6c-8d7e-9f0a1b2c3d4e"
ORGANIZER_UPN = "bench.organizer@contoso.example"


def ensure_venv() -> None:
    """.bench-venv with the runtime requirements and msgraph-sdk; remade when either, or the Python, changes."""
    wanted = hashlib.sha256((ROOT / "requirements.txt").read_bytes() + (MSGRAPH_SDK + sys.version).encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted and VENV_PYTHON.exists():
        return
    print(f"Setting up {VENV.name} (requirements.txt + {MSGRAPH_SDK}); once, about a minute...", flush=True)
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [*pip, "-r", str(ROOT / "requirements.txt"), MSGRAPH_SDK],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit(f"bench: could not set up {VENV.name}: {' '.join(step)} failed")
    STAMP.write_text(wanted + "\n")


def start_emulators(app_root: Path, wire: str) -> tuple[GraphEmulator, GraphEmulator, dict[str, str]]:
    """Two instances of the one emulator: the identity endpoint and Graph, so Graph's connections count alone.

    They share the issued-token table, as the real services share trust.
    """
    identity = GraphEmulator(wire=wire).start()
    graph = GraphEmulator(wire=wire).start()
    graph.state.tokens = identity.state.tokens
    meeting = graph.add_meeting(ORGANIZER_ID, ORGANIZER_UPN)

    # No proxy settings, as on Azure: requests' per-call cost with trust_env depends on them (NO_PROXY short-cuts
    # its proxy checks). No PYTHONDONTWRITEBYTECODE, so .pyc files are written once and then used.
    dropped = {"PYTHONDONTWRITEBYTECODE", "AZURE_CLIENT_ID"}
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.lower().endswith("_proxy")}
    env.update(identity.settings())  # IDENTITY_ENDPOINT, IDENTITY_HEADER, GRAPH_CREDENTIAL=managed_identity
    env.update(
        GRAPH_BASE_URL=graph.base_url,
        BENCH_APP_ROOT=str(app_root),
        BENCH_MEETING_ID=meeting.meeting_id,
        BENCH_JOIN_URL=meeting.teams_link,
        BENCH_ORGANIZER_ID=ORGANIZER_ID,
        BENCH_TOKEN=identity.issue_token(graph.base_url)["access_token"],
    )
    return identity, graph, env


@contextmanager
def graph_answering_in(graph: GraphEmulator, seconds: float) -> Iterator[None]:
    """Graph's answers wait `seconds`, as a round trip to Graph would, for the runs that count round trips or load."""
    graph.state.graph_latency = seconds
    try:
        yield
    finally:
        graph.state.graph_latency = 0.0


def environment(app_root: Path, wire: str) -> dict[str, Any]:
    versions = subprocess.run(
        [str(VENV_PYTHON), "-c", VERSIONS_SCRIPT], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "packages": json.loads(versions),
        "app_root": str(app_root),
        "wire": wire,
    }


VERSIONS_SCRIPT = """
import json
from importlib.metadata import version
names = ["azure-functions", "azure-identity", "msal", "requests", "urllib3", "msgraph-sdk", "microsoft-kiota-http",
         "httpx"]
print(json.dumps({name: version(name) for name in names}))
"""


def print_header(env: dict[str, Any]) -> None:
    packages = ", ".join(f"{name} {version}" for name, version in env["packages"].items())
    print(f"GetJoinUrl benchmark: Python {env['python']}, {env['cpus']} CPUs, load average {env['load_average']}")
    print(f"  {packages}")
    if env["app_root"] != str(ROOT):
        print(f"  app measured: {env['app_root']}")
    print("  Both sides call the same loopback emulator (devhost.emulator) over plain HTTP: kiota sends tokens to")
    print("  http://127.0.0.1 once it is in allowed_hosts, so no TLS is needed by either side.")
    print(f"  Answers travel {env['wire']}: every contender offers gzip (requests' and httpx's default), decodes it.")
    print("  PYTHONDONTWRITEBYTECODE is unset for every bench process: .pyc files are written and reused (warm),")
    print("  after one warm-up process of each kind that is not counted.")
