"""Python 3.13+: the functions load and answer through Microsoft's azure-functions-runtime-v1, as on Azure.

From Python 3.13 the platform's proxy worker hands every request to that package (for function.json apps), so
these tests drive the very version requirements.txt pins the way the proxy does: worker init, function metadata,
one function load per function.json, then invocations, each a protobuf message from the runtime's package. The
runtime runs in its own process (tests/runtime_v1_host.py says why and what it stands in for), over loopback HTTP
to the Graph emulator like every other test.
"""

from __future__ import annotations

import base64
import importlib.machinery
import importlib.metadata
import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devhost.emulator import GraphEmulator
from tests.conftest import APP_ROOT, ORGANIZER_ID, ORGANIZER_UPN, TEST_SETTINGS, UNSET_SETTINGS, Answer

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 13),
    reason="azure-functions-runtime-v1 needs Python 3.13+; the platform runs it only from 3.13 on",
)

RUNTIME = "azure-functions-runtime-v1"
ANSWER_TIMEOUT_SECONDS = 60.0  # start-up imports everything once; a call answers in well under a second
FUNCTIONS = {"GetJoinUrl", "OpenApi", "Diagnose", "GetJoinUrlEntra", "DiagnoseEntra"}
APP_HOST = "contoso-join.azurewebsites.net"  # WEBSITE_HOSTNAME, as App Service sets it


def pinned_runtime() -> str:
    """The version requirements.txt pins for Python 3.13+."""
    text = (APP_ROOT / "requirements.txt").read_text()
    match = re.search(rf"^{RUNTIME}==([^;\s]+)\s*;\s*python_version\s*>=\s*\"3\.13\"$", text, re.MULTILINE)
    assert match, f"requirements.txt pins {RUNTIME} for Python 3.13+"
    return match.group(1)


class Worker:
    """The stand-in host's process: one JSON line per call, each answer awaited with a bound."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._log = log.open("w")
        self._process = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).with_name("runtime_v1_host.py")), str(APP_ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
            cwd=log.parent,  # not the app root: with -I nothing resolves through the working directory anyway
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.log_path = log
        try:
            self.report = self._next()
        except BaseException:
            self.stop()
            raise

    def _read(self) -> None:
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put("")

    def _next(self) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=ANSWER_TIMEOUT_SECONDS)
        except queue.Empty:
            line = ""
        assert line, f"the runtime's process gave no answer; its log:\n{self.log_path.read_text()}"
        return json.loads(line)

    def invoke(self, function: str, method: str = "GET", path: str = "", **request: Any) -> dict[str, Any]:
        body = request.pop("body", None)
        raw = json.dumps(body).encode() if body is not None else b""
        message = {
            "function": function,
            "method": method,
            "url": f"http://localhost:7071/api/{path or function}",
            "body": base64.b64encode(raw).decode(),
            **request,
        }
        self._process.stdin.write(json.dumps(message) + "\n")
        self._process.stdin.flush()
        return self._next()

    def stop(self) -> None:
        self._process.stdin.close()
        try:
            self._process.wait(timeout=ANSWER_TIMEOUT_SECONDS)
        finally:
            self._process.kill()
            self._log.close()


@pytest.fixture(scope="module")
def graph() -> Iterator[GraphEmulator]:
    """An emulator of this module's own: the worker keeps its token across tests, as a real worker does."""
    server = GraphEmulator().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker(graph: GraphEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET_SETTINGS}
    settings = {**env, **graph.settings(), **TEST_SETTINGS, "WEBSITE_HOSTNAME": APP_HOST}
    running = Worker(settings, tmp_path_factory.mktemp("runtime") / "worker.log")
    yield running
    running.stop()


@pytest.fixture
def http(worker: Worker) -> Callable[..., Answer]:
    """A call through the runtime, answered Success with an HTTP response, read as JSON (header names lower-cased:
    the function sets some in either case, and HTTP compares them case-insensitively)."""

    def invoke(function: str, method: str = "GET", path: str = "", **request: Any) -> Answer:
        answer = worker.invoke(function, method, path, **request)
        assert answer["status"] == "Success", answer
        returned = answer["http"]
        headers = {name.lower(): value for name, value in returned["headers"].items()}
        assert headers["content-type"].startswith("application/json")
        return Answer(returned["status"], headers, json.loads(base64.b64decode(returned["body"])))

    return invoke


def test_the_runtime_is_the_pinned_version_and_loads_every_function(worker):
    assert importlib.metadata.version(RUNTIME) == pinned_runtime() == worker.report["runtimeVersion"]
    assert worker.report["init"]["status"] == "Success"
    assert {"RawHttpBodyBytes", "RpcHttpBodyOnly"} <= set(worker.report["init"]["capabilities"])
    assert worker.report["metadata"] == {"status": "Success", "exception": None, "defaultIndexing": True}
    assert worker.report["loads"] == {name: {"status": "Success", "exception": None} for name in FUNCTIONS}


def test_each_tests_package_is_where_it_belongs(worker):
    """The runtime's wheel installs a top-level `tests` too: a namespace package (no `__init__.py`) with its protos.

    This repository's `tests` is a regular package, so it is the one found whichever comes first on sys.path, and the
    runtime's is found only where the app root is not on the path, as in the worker process before init.
    """
    packages = Path(importlib.metadata.distribution(RUNTIME).locate_file(""))
    for path in ([str(APP_ROOT), str(packages)], [str(packages), str(APP_ROOT)]):
        assert importlib.machinery.PathFinder.find_spec("tests", path).origin == str(APP_ROOT / "tests" / "__init__.py")
    alone = importlib.machinery.PathFinder.find_spec("tests", [str(packages)])
    assert list(alone.submodule_search_locations) == [str(packages / "tests")]

    runtime_files = {str(f.locate().resolve()) for f in importlib.metadata.files(RUNTIME)}
    modules = worker.report["modules"]
    assert str(Path(modules["tests.protos"]).resolve()) in runtime_files
    assert Path(modules["shared"]).resolve().parent == APP_ROOT / "shared"
    assert Path(sys.modules["tests"].__file__).resolve() == APP_ROOT / "tests" / "__init__.py"
    assert "tests.protos" not in sys.modules


def test_get_by_meeting_id(http, graph):
    meeting = graph.add_meeting(ORGANIZER_ID, ORGANIZER_UPN)
    answer = http("GetJoinUrl", query={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body) == (
        200,
        {"joinWebUrl": meeting.appointment_url, "meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID},
    )
    assert answer.headers["cache-control"] == "no-store"


def test_post_by_join_link(http, graph):
    meeting = graph.add_meeting(ORGANIZER_ID, ORGANIZER_UPN)
    answer = http(
        "GetJoinUrl", "POST", headers={"Content-Type": "application/json"}, body={"joinUrl": meeting.teams_link}
    )
    assert answer.status == 200
    assert answer.body["joinWebUrl"] == meeting.appointment_url
    assert answer.body["meetingId"] == meeting.meeting_id


def test_a_batch_by_its_route(http, graph):
    meetings = [graph.add_meeting(ORGANIZER_ID, ORGANIZER_UPN) for _ in range(2)]
    items = [
        {"meetingId": meetings[0].meeting_id, "organizerId": ORGANIZER_ID},
        {"joinUrl": meetings[1].teams_link},
        {"meetingId": "../../etc", "organizerId": ORGANIZER_ID},
    ]
    answer = http("GetJoinUrl", "POST", "GetJoinUrl/batch", route={"action": "batch"}, body={"meetings": items})
    assert answer.status == 200
    results = answer.body["results"]
    assert [r.get("joinWebUrl") for r in results] == [meetings[0].appointment_url, meetings[1].appointment_url, None]
    assert results[2]["error"]["code"] == "InvalidRequest"


def test_a_bad_request_is_a_json_400(http, graph):
    before = graph.state.graph_request_count
    answer = http("GetJoinUrl", query={"meetingId": "../../etc", "organizerId": ORGANIZER_ID})
    assert answer.status == 400
    assert answer.body["error"]["code"] == "InvalidRequest"
    assert graph.state.graph_request_count == before


def test_openapi_is_served_with_the_apps_host(http):
    answer = http("OpenApi", path="openapi.json")
    assert answer.status == 200
    definition = json.loads((APP_ROOT / "connector" / "apiDefinition.swagger.json").read_text())
    assert answer.body == {**definition, "host": APP_HOST}


def test_diagnose_reports_a_working_setup(http, graph):
    meeting = graph.add_meeting(ORGANIZER_ID, ORGANIZER_UPN)
    answer = http("Diagnose", path="diagnose", query={"organizerId": ORGANIZER_UPN, "meetingId": meeting.meeting_id})
    assert answer.status == 200
    assert answer.body["ok"] is True, answer.body
    assert [c["name"] for c in answer.body["checks"]][-1] == "joinUrlCall"


def test_an_entra_route_is_off_while_caller_auth_is_keys_whatever_principal_is_sent(http, graph):
    """The worker runs with CALLER_AUTH unset (keys): the Entra ID route answers its own JSON 404 through the runtime,
    however the host passes the principal header on."""
    meeting = graph.add_meeting(ORGANIZER_ID, ORGANIZER_UPN)
    answer = http(
        "GetJoinUrlEntra",
        path="entra/GetJoinUrl",
        query={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID},
        headers={"X-MS-CLIENT-PRINCIPAL": "eyJhdXRoX3R5cCI6ImFhZCJ9"},
    )
    assert (answer.status, answer.body["error"]["code"]) == (404, "NotFound")
    assert "CALLER_AUTH is keys" in answer.body["error"]["message"]
