"""Fixtures and helpers the test files share: the function loaded as the worker loads it, talking over loopback HTTP
to the emulator, on a virtual clock (tests/virtual_clock.py) whose waits pass at once."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import azure.functions as func
import pytest

APP_ROOT = Path(__file__).resolve().parent.parent
if str(APP_ROOT) not in sys.path:
    sys.path.insert(0, str(APP_ROOT))

from devhost.emulator import GraphEmulator  # noqa: E402
from devhost.emulator.state import Meeting, Recorded  # noqa: E402
from devhost.emulator.wire import WIRES  # noqa: E402
from devhost.host import load_function  # noqa: E402
from shared import app  # noqa: E402
from shared.clock import SYSTEM_CLOCK  # noqa: E402
from tests.virtual_clock import VirtualClock  # noqa: E402


def load_script(name: str) -> ModuleType:
    """A script of scripts/ imported as Python runs it: its folder on sys.path, so it finds its neighbours."""
    if name not in sys.modules:
        path = APP_ROOT / "scripts" / f"{name}.py"
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)  # dataclasses look their module up there
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


ORGANIZER_ID = "8b1f6c3e-2a4d-4e9b-a7c1-5d3e2f1a0b9c"
ORGANIZER_UPN = "adele.vance@contoso.example"

# Small timeouts keep the fault tests fast; each test can override any of them.
TEST_SETTINGS = {
    "GRAPH_API_VERSION": "v1.0",
    "GRAPH_MAX_RETRIES": "3",
    "GRAPH_TIMEOUT_SECONDS": "1",
    "REQUEST_DEADLINE_SECONDS": "3",
}
# Settings every test starts without, whatever the environment running the suite has.
UNSET_SETTINGS = ("DEFAULT_ORGANIZER_ID", "ALLOWED_ORGANIZER_IDS", "AZURE_CLIENT_ID", "PYTHON_THREADPOOL_THREAD_COUNT")


# How often a server a test starts looks for shutdown(): the test ends at most this much after its last request.
SHUTDOWN_POLL_SECONDS = 0.001


@contextmanager
def serving(server: HTTPServer) -> Iterator[HTTPServer]:
    """`server` (the dev host, say) serving on a thread of its own until the block ends."""
    threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Answer:
    """What a function answered a request built in-process: its status, headers and JSON body."""

    status: int
    headers: dict[str, str]
    body: Any


@pytest.fixture(scope="session")
def emulator() -> Iterator[GraphEmulator]:
    """Its identity endpoint and Graph read the function's clock: moved on, a token grows old on both sides."""
    server = GraphEmulator(clock=lambda: app.clock().time()).start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Iterator[VirtualClock]:
    """The process's clock for this test (tests/virtual_clock.py): every wait passes at once and is recorded."""
    virtual = VirtualClock()
    app.use_clock(virtual)
    yield virtual
    app.use_clock(SYSTEM_CLOCK)


@pytest.fixture(params=WIRES)
def wire(request: pytest.FixtureRequest, emulator: GraphEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each way the emulator can send its answers (compressed or not, chunked or not): the test runs on each."""
    monkeypatch.setattr(emulator, "wire", request.param)
    return request.param


@pytest.fixture(scope="session")
def main() -> Callable[[func.HttpRequest], func.HttpResponse]:
    entry, _ = load_function("GetJoinUrl", APP_ROOT)
    return entry


@pytest.fixture
def configure(emulator: GraphEmulator, monkeypatch: pytest.MonkeyPatch, clock: VirtualClock) -> Callable[..., None]:
    """Point the function at the emulator with test settings, on a virtual clock; call again to change settings (a
    restart)."""

    def apply(**overrides: str | None) -> None:
        for name, value in {**emulator.settings(), **TEST_SETTINGS, **overrides}.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        app.reset()

    for name in UNSET_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    emulator.reset()
    apply()
    yield apply
    app.reset()


@pytest.fixture
def meeting(emulator: GraphEmulator, configure: Callable[..., None]) -> Meeting:
    return emulator.add_meeting(ORGANIZER_ID, ORGANIZER_UPN, join_meeting_id="123456789012")


@pytest.fixture
def get_join_url(
    main: Callable[[func.HttpRequest], func.HttpResponse], configure: Callable[..., None]
) -> Callable[..., Answer]:
    """Invokes GetJoinUrl with a request built directly, as azure-functions-python-library's tests do, and checks what
    every answer must hold: JSON, and a Retry-After that the body and the message repeat."""

    def invoke(
        method: str = "GET",
        params: dict[str, str] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        action: str | None = None,
        raw_body: bytes | None = None,
    ) -> Answer:
        payload = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else b"")
        request = func.HttpRequest(
            method=method,
            url="http://localhost:7071/api/GetJoinUrl" + (f"/{action}" if action else ""),
            headers=headers or {},
            params=params or {},
            route_params={"action": action} if action else {},
            body=payload,
        )
        response = main(request)
        assert response.mimetype == "application/json"
        answer = Answer(response.status_code, dict(response.headers), json.loads(response.get_body()))
        if "Retry-After" in answer.headers:  # the wait is in the body too, the same number
            assert answer.body["error"]["retryAfterSeconds"] == int(answer.headers["Retry-After"])
        for error in errors_in(answer.body):
            if "retryAfterSeconds" in error:  # and in words, for whoever reads the message
                assert says_its_wait(error), error
        return answer

    return invoke


def by_id(meeting: Meeting, organizer: str | None = None) -> dict[str, str]:
    """GetJoinUrl's fields for `meeting` by its ID, the organizer by object ID unless `organizer` names it otherwise."""
    return {"meetingId": meeting.meeting_id, "organizerId": organizer or meeting.organizer_id}


def error_of(answer: Answer) -> tuple[int, str, str]:
    return answer.status, answer.body["error"]["code"], answer.body["error"]["message"]


def lookup_filter(recorded: Recorded) -> str:
    """The OData filter of a meeting lookup the emulator received, decoded."""
    return parse_qs(urlsplit(recorded.target).query)["$filter"][0]


def batch_calls(emulator: GraphEmulator) -> list[Recorded]:
    return [r for r in emulator.state.graph_requests if r.target.endswith("/$batch")]


def inner_requests(emulator: GraphEmulator) -> list[str]:
    """The URL of every request the `$batch` calls carried, in the order sent."""
    return [item["url"] for sent in batch_calls(emulator) for item in sent.body["requests"]]


def distinct_meetings(emulator: GraphEmulator, count: int) -> list[Meeting]:
    """Meetings that each cost Graph a request of their own: a batch asks once per distinct meeting."""
    return [emulator.add_meeting(ORGANIZER_ID, join_meeting_id=f"30000000{i:04}") for i in range(count)]


def issued_token(emulator: GraphEmulator) -> str:
    """The one token the emulated identity endpoint has handed out."""
    [token] = emulator.state.platform_cache.values()
    return token


def errors_in(body: Any) -> list[dict[str, Any]]:
    """The error of an answer, or of each batch item."""
    if not isinstance(body, dict):
        return []
    results = body.get("results") if isinstance(body.get("results"), list) else [body]
    return [item["error"] for item in results if isinstance(item, dict) and isinstance(item.get("error"), dict)]


def says_its_wait(error: dict[str, Any]) -> bool:
    seconds = error["retryAfterSeconds"]
    return f"Try again in {seconds} second{'' if seconds == 1 else 's'}" in error["message"]


@pytest.fixture(scope="session")
def diagnose_main() -> Callable[[func.HttpRequest], func.HttpResponse]:
    entry, _ = load_function("Diagnose", APP_ROOT)
    return entry


@pytest.fixture
def diagnose(
    diagnose_main: Callable[[func.HttpRequest], func.HttpResponse], configure: Callable[..., None]
) -> Callable[..., Answer]:
    def invoke(**params: str) -> Answer:
        """GET /api/diagnose, built directly like `get_join_url`'s requests."""
        request = func.HttpRequest(
            method="GET", url="http://localhost:7071/api/diagnose", headers={}, params=params, body=b""
        )
        response = diagnose_main(request)
        assert response.mimetype == "application/json"
        return Answer(response.status_code, dict(response.headers), json.loads(response.get_body()))

    return invoke


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="getjoinurl")
    return caplog
