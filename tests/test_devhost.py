"""devhost/ (host.py, http_server.py, __main__.py) and `make run`, over real sockets: the dev host and the emulator
hold up as the Functions host does (backlog, I/O timeouts, body framing and limits), and every README command aimed
at `make run` works as written and answers as the README shows."""

from __future__ import annotations

import json
import os
import queue
import re
import selectors
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from devhost.__main__ import SETUP_ANSWERS, parse_args
from devhost.emulator import SETUPS, GraphEmulator
from devhost.examples import DEMO_JOIN_MEETING_ID, DEMO_ORGANIZER_ID, DEMO_ORGANIZER_UPN, DEMO_THREAD
from devhost.examples import examples as make_run_examples
from devhost.host import route_pattern, serve
from devhost.traffic import INDENT
from shared.diagnosis import POLICY_PROBE_LINK
from shared.http import BODY_MAX_BYTES, HOST_BODY_MAX_BYTES
from tests.conftest import APP_ROOT, ORGANIZER_ID, SHUTDOWN_POLL_SECONDS, errors_in, serving
from tests.test_http_edge import HUGE, MEMORY_ALLOWANCE, huge_body, peak_memory

SHORT_IO_TIMEOUT = 0.2
BURST = 100
CLI_SIGN_IN = "your Azure CLI sign-in (GRAPH_CREDENTIAL=azure_cli)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_port_before_a_free_one() -> int:
    """A free port whose next port is free too, for `make run PORT=N` (the emulator takes N + 1)."""
    for _ in range(20):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    pytest.fail("no two free ports in a row")


def address_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


def read_all(client: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received


@pytest.fixture
def host(configure):
    with serving(serve("127.0.0.1", 0)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


@dataclass
class Listening:
    """A dev host or an emulator (short I/O timeout), bound and listening; it serves once started."""

    address: tuple[str, int]
    start: Callable[[], Any]


@pytest.fixture(params=["devhost", "emulator"])
def listening(request, configure) -> Iterator[Listening]:
    started = threading.Event()
    if request.param == "devhost":
        server = serve("127.0.0.1", 0, io_timeout=SHORT_IO_TIMEOUT)
        address = server.server_address[:2]
        begin = threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), daemon=True).start

        def end() -> None:
            server.shutdown()
            server.server_close()

    else:
        emulator = GraphEmulator(io_timeout=SHORT_IO_TIMEOUT)
        address, begin, end = address_of(emulator.base_url), emulator.start, emulator.stop

    def start() -> None:
        if not started.is_set():
            started.set()
            begin()

    yield Listening(address, start)
    start()  # shutdown() waits for a serve_forever that has run
    end()


def test_route_template_reads_like_asp_net():
    pattern = route_pattern("GetJoinUrl/{action:alpha?}")
    assert pattern.fullmatch("GetJoinUrl") and pattern.fullmatch("getjoinurl/batch")
    assert pattern.fullmatch("GetJoinUrl/batch").group("action") == "batch"
    assert not pattern.fullmatch("GetJoinUrl/b4tch") and not pattern.fullmatch("GetJoinUrlX")


def test_every_unknown_action_is_a_json_not_found_and_deeper_paths_the_hosts_404(host):
    for action in ("123", "b4tch", "frobnicate", "openapi.json"):
        answer = requests.get(f"{host}/api/GetJoinUrl/{action}", timeout=10)
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "NotFound"), action
        assert action not in answer.json()["error"]["message"]  # not echoed: it can be any characters
    deeper = requests.get(f"{host}/api/GetJoinUrl/batch/x", timeout=10)
    assert (deeper.status_code, deeper.content) == (404, b"")  # no route matches: the host answers, empty


def test_host_serves_the_function_over_http(host, meeting):
    answer = requests.get(
        f"{host}/api/GetJoinUrl", params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["joinWebUrl"] == meeting.appointment_url
    batch = requests.post(f"{host}/api/GetJoinUrl/batch", json={"meetings": [{"meetingId": meeting.meeting_id}]})
    assert batch.status_code == 200 and batch.json()["results"][0]["error"]["code"] == "InvalidRequest"
    assert requests.get(f"{host}/api/Nothing").status_code == 404
    assert requests.put(f"{host}/api/GetJoinUrl").status_code == 405
    assert requests.request("QUERY", f"{host}/api/GetJoinUrl").status_code == 405


# --- holding up like the Functions host ----------------------------------------------------------------------


def test_a_burst_of_new_connections_waits_in_the_backlog_then_is_answered(listening):
    clients = [socket.socket() for _ in range(BURST)]
    try:
        with selectors.DefaultSelector() as selector:
            for client in clients:
                client.setblocking(False)
                client.connect_ex(listening.address)
                selector.register(client, selectors.EVENT_WRITE)
            # Nothing accepts yet: each handshake completes only if the listen backlog has room for the whole burst.
            connected = 0
            deadline = time.monotonic() + 5
            while connected < BURST and time.monotonic() < deadline:
                for key, _ in selector.select(0.1):
                    selector.unregister(key.fileobj)
                    connected += 1
        assert connected == BURST, f"{BURST - connected} of {BURST} handshakes waited on a dropped SYN"
        listening.start()
        for client in clients:
            assert client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            client.settimeout(10)
            client.sendall(b"GET /api/nothing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answers = [read_all(client) for client in clients]  # a reset would raise here
        assert all(answer.startswith(b"HTTP/1.1 ") for answer in answers)
    finally:
        for client in clients:
            client.close()


def test_a_stalled_or_short_bodied_client_is_dropped_and_holds_up_no_one(listening):
    listening.start()
    with (
        socket.create_connection(listening.address) as stalled,
        socket.create_connection(listening.address) as short,
        socket.create_connection(listening.address) as other,
    ):
        short.sendall(b'POST /api/GetJoinUrl HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{"meet')
        other.sendall(b"GET /api/nothing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        other.settimeout(10)
        assert read_all(other).startswith(b"HTTP/1.1 ")  # answered while the other two hold their threads
        stalled.settimeout(10)
        short.settimeout(10)
        assert read_all(stalled) == b""  # closed after the I/O timeout; without one, this waits for ever
        assert read_all(short).startswith(b"HTTP/1.1 408 ")


def test_bad_body_framing_is_a_400(listening):
    listening.start()
    for framing in (
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"Content-Length: -1\r\n\r\n",
    ):
        with socket.create_connection(listening.address, timeout=10) as client:
            client.sendall(b"POST /api/GetJoinUrl HTTP/1.1\r\nHost: localhost\r\n" + framing)
            assert read_all(client).startswith(b"HTTP/1.1 400 "), framing


def test_chunked_bodies_are_read(host, meeting, emulator):
    body = json.dumps({"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}).encode()
    answer = requests.post(f"{host}/api/GetJoinUrl", data=iter([body[:10], body[10:]]), timeout=10)
    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    assert answer.status_code == 200, answer.text

    with socket.create_connection(address_of(emulator.base_url), timeout=10) as client:  # extensions and trailers
        client.sendall(
            b"POST /v1.0/$batch HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b'5;name=value\r\n{"a":\r\n3\r\n 1}\r\n0\r\nX-Trailer: 1\r\n\r\n'
        )
        assert read_all(client).startswith(b"HTTP/1.1 ")
    assert emulator.state.graph_requests[-1].body == {"a": 1}


def test_query_and_headers_reach_the_function_as_the_functions_host_passes_them(host, meeting, emulator):
    url = f"{host}/api/GetJoinUrl"
    meeting_id = quote(meeting.meeting_id, safe="")
    for query in (f"meetingId=abc&meetingId={meeting_id}", f"meetingId={meeting_id}&MEETINGID={meeting_id}"):
        answer = requests.get(f"{url}?{query}&organizerId={ORGANIZER_ID}", timeout=10)
        assert answer.status_code == 400, query  # repeated keys, in any case, arrive joined with ","
        assert answer.json()["error"]["message"].startswith("meetingId is not a Teams online meeting ID")
    assert emulator.state.graph_requests == []

    with socket.create_connection(address_of(host), timeout=10) as client:
        client.sendall(
            f"GET /api/GetJoinUrl?meetingId={meeting_id}&organizerId={ORGANIZER_ID}&joinUrl= HTTP/1.1\r\n"
            "Host: localhost\r\nAccept-Language: fr-FR\r\nAccept-Language: de-DE\r\nConnection: close\r\n\r\n".encode()
        )
        assert read_all(client).startswith(b"HTTP/1.1 200 ")  # the empty joinUrl is dropped
    assert emulator.graph_calls()[0].headers["Accept-Language"] == "fr-FR,de-DE"


def test_a_teams_link_pasted_as_is_into_a_query_string_is_refused_with_a_hint(host, meeting, emulator):
    without_context = meeting.teams_link.split("?")[0]  # its %3a and %40 are decoded too: nothing else is
    for link in (meeting.teams_link, without_context):  # %7B%22 decoded
        answer = requests.get(f"{host}/api/GetJoinUrl?joinUrl={link}&organizerId={ORGANIZER_ID}", timeout=10)
        assert answer.status_code == 400, link
        assert "This link looks URL-decoded" in answer.json()["error"]["message"]
    assert emulator.state.graph_requests == []


def test_routes_and_the_batch_action_match_in_any_case(host, meeting):
    query = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    assert requests.get(f"{host}/API/getjoinurl", params=query, timeout=10).status_code == 200
    batch = requests.post(f"{host}/api/GETJOINURL/BATCH", json={"meetings": [query]}, timeout=10)
    assert batch.status_code == 200, batch.text
    assert batch.json()["results"][0]["joinWebUrl"] == meeting.appointment_url


@pytest.mark.parametrize("headers", [b"Host: [\r\n", b"Host: [1:2]\r\n", b"Host: a\r\nX-Forwarded-Host: [1.2.3.4]\r\n"])
def test_the_definition_never_fails_whatever_host_a_client_names(host, monkeypatch, headers):
    """The dev host builds the request's URL from Host, as the Functions host does: a URL urlsplit cannot read
    must not turn the anonymous definition into a 500."""
    monkeypatch.setenv("WEBSITE_HOSTNAME", "localhost:7071")
    with socket.create_connection(address_of(host), timeout=10) as client:
        client.sendall(b"GET /api/openapi.json HTTP/1.1\r\n" + headers + b"Connection: close\r\n\r\n")
        head, _, body = read_all(client).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(body)["host"] == "localhost:7071"


@contextmanager
def dev_host() -> Iterator[int]:
    """The dev host on a free port, serving until the block ends."""
    with serving(serve("127.0.0.1", 0)) as server:
        yield server.server_address[1]


def test_the_dev_host_passes_a_100_mb_body_on_and_the_function_refuses_it(configure, emulator, monkeypatch):
    """As the Functions host does with its default limit: it reads bodies up to 100 MB and hands them over; the
    function's check is what keeps them from being parsed."""
    monkeypatch.delenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", raising=False)
    body = huge_body()
    with dev_host() as port, peak_memory() as peak:
        answer = requests.post(f"http://127.0.0.1:{port}/api/GetJoinUrl", data=body, timeout=30)
    assert (answer.status_code, answer.json()["error"]["code"]) == (413, "RequestTooLarge")
    assert peak() < len(body) + MEMORY_ALLOWANCE  # the host's one copy of the body, and little more
    assert emulator.state.graph_requests == []


def test_with_the_limit_infra_sets_the_host_refuses_a_large_body_before_reading_it(configure, emulator, monkeypatch):
    """FUNCTIONS_REQUEST_BODY_SIZE_LIMIT as infra sets it: a declared 100 MB is refused at once, with none of the
    body sent, so neither the host nor the worker ever holds it."""
    monkeypatch.setenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", str(HOST_BODY_MAX_BYTES))
    head = f"POST /api/GetJoinUrl HTTP/1.1\r\nHost: x\r\nContent-Length: {HUGE}\r\n\r\n".encode()
    with dev_host() as port, socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(head)  # and no body: a host that waited for it would answer only at its 30 s I/O timeout
        status_line = client.makefile("rb").readline()
    assert status_line.split()[1] == b"413"
    assert emulator.state.graph_requests == []


def test_a_body_over_the_function_limit_but_under_the_host_limit_gets_the_json_413(configure, monkeypatch):
    monkeypatch.setenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", str(HOST_BODY_MAX_BYTES))
    body = b'{"meetingId": "' + b"x" * (BODY_MAX_BYTES + 1) + b'"}'
    assert BODY_MAX_BYTES < len(body) <= HOST_BODY_MAX_BYTES
    with dev_host() as port:
        answer = requests.post(f"http://127.0.0.1:{port}/api/GetJoinUrl", data=body, timeout=30)
    assert (answer.status_code, answer.json()["error"]["code"]) == (413, "RequestTooLarge")


# --- make run and the README ---------------------------------------------------------------------------------


@contextmanager
def make_run(
    *flags: str,
    env: dict[str, str] | None = None,
    serving: queue.Queue[str | None] | None = None,
    port: int | None = None,
) -> Iterator[tuple[int, list[str]]]:
    """`python -m devhost` as `make run` starts it, on free ports: its port and what it printed before serving.
    `serving` gets each line printed after that as it comes, then None once the process has ended. Given `port`,
    it is passed alone, so the emulator takes the next one."""
    ports = ["--port", str(port)] if port else ["--port", str(port := free_port()), "--emulator-port", "0"]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "ALLOWED_ORGANIZER_IDS": "", "DEFAULT_ORGANIZER_ID": ""}
    for name in ("GRAPH_BASE_URL", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "GRAPH_CREDENTIAL"):
        environment.pop(name, None)
    environment.update(env or {})
    args = [sys.executable, "-m", "devhost", "--builtin-host", *ports, *flags]
    process = subprocess.Popen(
        args, cwd=APP_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    reader = None
    try:
        printed: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (printed and printed[-1].startswith("Serving")):
            line = process.stdout.readline()
            if not line:
                break
            printed.append(line.rstrip("\n"))
        assert printed and printed[-1].startswith("Serving"), "\n".join(printed)
        # read on, given a queue or not: a full pipe would stall the emulator's traffic lines, then its answers
        reader = threading.Thread(
            target=forward, args=(process.stdout, serving if serving is not None else queue.Queue()), daemon=True
        )
        reader.start()
        yield port, printed
    finally:
        process.terminate()
        process.wait(10)
        if reader is not None:
            reader.join(10)


def forward(stream: Any, lines: queue.Queue[str | None]) -> None:
    """Each line read, then None at the end, so a reader never waits on a process that has gone."""
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def read_until(lines: queue.Queue[str | None], pattern: str, seconds: float = 10) -> list[str]:
    """Lines `make run` prints, up to the first that matches `pattern` (a regex), waiting for it at most `seconds`."""
    read: list[str] = []
    deadline = time.monotonic() + seconds
    while True:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            line = None
        if line is None:
            pytest.fail(f"no line matching {pattern!r} within {seconds} s; printed:\n" + "\n".join(read))
        read.append(line)
        if re.search(pattern, line):
            return read


def printed_commands(printed: list[str]) -> list[str]:
    """`make run` prints each example as a `# title` line followed by the command's lines."""
    commands: list[list[str]] = []
    for line in printed[: len(printed) - 1]:
        if line.startswith("# "):
            commands.append([])
        elif commands:
            commands[-1].append(line)
    return ["\n".join(lines) for lines in commands]


def readme_examples() -> list[tuple[str, Any]]:
    """Every README command aimed at `make run` (a fenced block of its own), with the JSON block right after it."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", (APP_ROOT / "README.md").read_text(), re.MULTILINE | re.DOTALL)
    found = []
    for (_, text), following in zip(blocks, [*blocks[1:], ("", "")], strict=True):
        if "localhost:7071" not in text or not re.search(r"^curl ", text, re.MULTILINE):
            continue
        assert following[0] == "json", f"no ```json block after the README command:\n{text}"
        found.append((text.strip(), json.loads(following[1])))
    return found


def run_curl(command: str, port: int) -> requests.Response:
    """The README's curl command, with requests: only the flags the README uses."""
    args = shlex.split(command.replace("\\\n", " "))
    assert args[0] == "curl" and args.count("curl") == 1, f"one curl command per block: {command}"
    method, url, headers, data = None, None, {}, None
    tokens = iter(args[1:])
    for token in tokens:
        if token in ("-s", "--silent"):
            continue
        if token in ("-X", "--request"):
            method = next(tokens)
        elif token in ("-H", "--header"):
            name, _, value = next(tokens).partition(":")
            headers[name.strip()] = value.strip()
        elif token in ("-d", "--data", "--data-raw") and data is None:
            data = next(tokens)
            assert token == "--data-raw" or not data.startswith("@"), "a file body is not supported here"
        elif token.startswith("-") or url is not None:
            pytest.fail(f"curl option {token!r} is not supported by this test: {command}")
        else:
            url = token
    if data is not None:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")  # what curl -d sends
    url = url.replace("localhost:7071", f"localhost:{port}")
    return requests.request(method or ("POST" if data is not None else "GET"), url, headers=headers, data=data)


def matches(expected: Any, actual: Any) -> bool:
    """The README's answer against the real one: "..." stands for any value and a string ending in "..." for any
    string it starts; an object may leave keys out; a list has every item."""
    if isinstance(expected, str) and expected.endswith("..."):
        return expected == "..." or (isinstance(actual, str) and actual.startswith(expected[:-3]))
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(map(matches, expected, actual))
    return expected == actual


def test_every_readme_command_works_against_make_run_as_shown():
    examples = readme_examples()
    assert len(examples) >= 3
    with make_run() as (port, printed):
        assert "Try these (README.md shows the answer each gets):" in printed
        assert [c.replace("localhost:7071", f"localhost:{port}") for c, _ in examples] == printed_commands(printed)
        for command, expected in examples:
            answer = run_curl(command, port)
            assert matches(expected, answer.json()), f"{command}\nanswered {answer.status_code}: {answer.text}"
        definition = requests.get(f"http://localhost:{port}/api/openapi.json", headers={"Host": "evil.example"}).json()
    assert (definition["host"], definition["schemes"]) == (f"localhost:{port}", ["http"])  # WEBSITE_HOSTNAME


@pytest.mark.parametrize("az", ["missing", "signed-out"])
def test_make_run_graph_real_names_a_failing_azure_cli_at_start_and_in_the_503(tmp_path: Path, az: str):
    if az == "signed-out":  # a stand-in for the Azure CLI, answering as it does before `az login`
        fake = tmp_path / "az"
        fake.write_text("#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n")
        fake.chmod(0o755)
    why = "Azure CLI not found on path" if az == "missing" else "Please run 'az login' to set up an account"
    with make_run("--real", env={"PATH": str(tmp_path), "GRAPH_CREDENTIAL": "azure_cli"}) as (port, printed):
        said = "\n".join(printed)
        if (APP_ROOT / "local.settings.json").exists():  # git ignores it: a checkout has none until one is made
            assert "with the settings from local.settings.json and your environment." in said
        else:
            assert "with the settings from your environment only: there is no local.settings.json" in said
        assert f"WARNING: Could not get a Graph token from {CLI_SIGN_IN} ({why})" in said
        answer = requests.get(
            f"http://localhost:{port}/api/GetJoinUrl", params={"meetingId": "MSpkYzE3", "organizerId": ORGANIZER_ID}
        )
    assert (answer.status_code, answer.json()["error"]["code"]) == (503, "IdentityUnavailable")
    message = answer.json()["error"]["message"]
    assert f"{CLI_SIGN_IN} ({why})" in message and "run `az login`" in message
    assert "managed identity" not in message


def make_dry_run(*options: str) -> subprocess.CompletedProcess[str]:
    """`make -n run` with these options: the command it would start (stdout), or why it would not (stderr)."""
    return subprocess.run(["make", "-n", "run", *options], cwd=APP_ROOT, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    ("options", "flags"),
    [
        ((), ""),
        (("GRAPH=real", "TRAFFIC=off", "PORT=7181"), " --real --quiet-traffic --port 7181"),
        (("GRAPH=", "TRAFFIC=", "EMULATOR_PORT=7182"), " --emulator-port 7182"),
    ],
)
def test_make_run_passes_its_options_to_devhost(options, flags):
    dry_run = make_dry_run(*options)
    assert dry_run.returncode == 0, dry_run.stderr
    [command] = [line for line in dry_run.stdout.splitlines() if "-m devhost" in line]
    assert " ".join(command.split()).endswith(f"-m devhost{flags}"), command


PYENV_SHIM = """#!/bin/sh
echo "pyenv: python3.13: command not found" >&2
echo "The \\`python3.13' command exists in these Python versions:" >&2
echo "  3.13.1" >&2
exit 127
"""


@pytest.mark.parametrize(
    ("script", "said"),
    [
        (PYENV_SHIM, "It said: pyenv: python3.13: command not found The `python3.13' command exists in these Python"),
        ("#!/bin/sh\necho Python 3.10.4\n", "It said: Python 3.10.4"),
    ],
    ids=["pyenv-shim", "too-old"],
)
def test_make_test_with_a_python_that_does_not_run_shows_what_it_said(tmp_path: Path, script: str, said: str):
    """A pyenv shim for a version not installed (or not selected) explains itself on stderr and exits 127."""
    python = tmp_path / "python3.13"
    python.write_text(script)
    python.chmod(0o755)
    dry_run = subprocess.run(
        ["make", "-n", "test", f"PYTHON={python}"], cwd=APP_ROOT, capture_output=True, text=True, timeout=30
    )
    assert dry_run.returncode != 0
    assert f"{python} is not a Python 3.11 or newer that runs here" in dry_run.stderr
    assert said in " ".join(dry_run.stderr.split()), dry_run.stderr


@pytest.mark.parametrize("option", ["GRAPH=fake", "GRAPH=Real", "TRAFFIC=no", "TRAFFIC=on"])
def test_make_run_refuses_an_unknown_graph_or_traffic_value(option):
    dry_run = make_dry_run(option)
    name = option.partition("=")[0]
    assert dry_run.returncode != 0 and "-m devhost" not in dry_run.stdout
    assert f"{option} is not known" in dry_run.stderr and f"{name}=" in dry_run.stderr.split("known", 1)[1]


@pytest.mark.parametrize(
    ("argv", "ports"),
    [
        ([], (7071, 7072)),
        (["--port", "7181"], (7181, 7182)),
        (["--port", "7181", "--emulator-port", "0"], (7181, 0)),
        (["--emulator-port", "7182"], (7071, 7182)),
        (["--port", "65535", "--real"], (65535, 65536)),  # no emulator to place
    ],
)
def test_make_run_port_alone_puts_the_emulator_on_the_next_port(argv, ports):
    args = parse_args(argv)
    assert (args.port, args.emulator_port) == ports


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--port", "65535"], "give --emulator-port too"),
        (["--port", "7181", "--emulator-port", "7181"], "must differ"),
        (["--port", "7180", "--emulator-port", "7181", "--port", "7181"], "must differ"),
    ],
)
def test_make_run_refuses_ports_that_leave_the_emulator_nowhere(argv, said, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert said in capsys.readouterr().err


@pytest.mark.parametrize("taken_by", ["--port", "--emulator-port", "the port after --port"])
def test_make_run_on_a_busy_port_names_it_in_one_line_and_how_to_choose_others(taken_by):
    with socket.socket() as holder:
        if taken_by == "the port after --port":  # --port alone: the emulator's is the next one, held here
            port = free_port_before_a_free_one()
            holder.bind(("127.0.0.1", port + 1))
            ports = {"--port": str(port)}
        else:
            holder.bind(("127.0.0.1", 0))
            ports = {"--port": str(free_port()), "--emulator-port": "0", taken_by: str(holder.getsockname()[1])}
        holder.listen()
        busy = holder.getsockname()[1]
        args = [sys.executable, "-m", "devhost", "--builtin-host", *(part for pair in ports.items() for part in pair)]
        ended = subprocess.run(args, cwd=APP_ROOT, capture_output=True, text=True, timeout=30)
    assert ended.returncode != 0
    assert ended.stdout == ""  # said before anything else, not after the examples
    [said] = ended.stderr.splitlines()
    assert f"port {busy} " in said and "already in use" in said, said
    assert "make run PORT=" in said and "EMULATOR_PORT=" in said, said


def test_make_run_setup_starts_the_emulator_broken_says_so_and_diagnose_names_the_step():
    dry_run = make_dry_run("SETUP=no-policy")
    assert "-m devhost" in dry_run.stdout and "--setup no-policy" in dry_run.stdout, dry_run.stdout + dry_run.stderr
    with make_run("--setup", "no-policy", port=free_port_before_a_free_one()) as (port, printed):
        assert printed[0].startswith(f"Graph and managed-identity emulator on http://127.0.0.1:{port + 1},")
        assert any(line.startswith("Set-up: no-policy") for line in printed)
        assert not [line for line in printed if line.startswith("Try these")]  # the README's answers are not these
        [said] = [line for line in printed if line.startswith("These calls now answer")]
        assert "403 AccessPolicyMissing" in said and 'README.md\'s "Troubleshooting a new tenant"' in said, said
        [diagnose] = [c for c in printed_commands(printed) if "/api/diagnose" in c]
        answer = run_curl(diagnose, port).json()
    assert answer["ok"] is False
    assert [c["name"] for c in answer["checks"] if not c["ok"]] == ["accessPolicy", "joinUrlCall"]
    assert "Grant-TeamsAccessPolicy.ps1 -AppId" in answer["checks"][-2]["fix"]


@pytest.mark.parametrize("setup", [name for name in SETUPS if name != "ok"])
def test_in_a_broken_setup_make_run_names_the_error_its_calls_answer(host, emulator, setup):
    assert set(SETUP_ANSWERS) == set(SETUPS) - {"ok"}
    emulator.apply_setup(setup)
    meeting = emulator.add_meeting(
        DEMO_ORGANIZER_ID, DEMO_ORGANIZER_UPN, thread=DEMO_THREAD, join_meeting_id=DEMO_JOIN_MEETING_ID
    )
    port = address_of(host)[1]
    answers = [run_curl(example.command, port) for example in make_run_examples(meeting, port)]
    codes = {error["code"] for answer in answers for error in errors_in(answer.json())}
    [named] = re.findall(r"\b403 (\w+)", SETUP_ANSWERS[setup])
    assert codes == {named}
    if setup == "no-lookup-role":  # the line says: by Teams link or invite number only
        assert answers[0].status_code == 200 and "by Teams link or invite number" in SETUP_ANSWERS[setup]


TRAFFIC_TIME = r"^[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\.[0-9]{3} "
TRAFFIC_LINE = TRAFFIC_TIME + "(?:Graph   |identity) "


CLIENT_REQUEST_ID = " client-request-id [0-9a-f-]{36}$"  # each Graph line ends with the one the function sent


def traffic(method: str, target: str) -> str:
    """The regex of the line `make run` prints for a Graph call the emulator answered with a 200."""
    return TRAFFIC_TIME + f"Graph    {method} {re.escape(target)} -> 200 \\([0-9.]+ (?:ms|s)\\)" + CLIENT_REQUEST_ID


def test_make_run_prints_each_call_to_graph_and_the_identity_endpoint_readably_and_no_secret():
    organizer, upn = DEMO_ORGANIZER_ID, DEMO_ORGANIZER_UPN
    link = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_r2v0sm9pblvybcbkzw1vig1lzxrpbmc%40thread.v2/0?..."
    lookup = f"/users/{organizer}/onlineMeetings?$filter=JoinWebUrl eq '{link}'"  # as Graph reads it, query elided
    number = f"/users/{organizer}/onlineMeetings?$filter=joinMeetingIdSettings/joinMeetingId eq '123456789012'"
    lines: queue.Queue[str | None] = queue.Queue()
    with make_run(serving=lines) as (port, printed):
        commands = printed_commands(printed)
        [by_id] = [c for c in commands if "/api/GetJoinUrl?" in c]
        [by_link] = [c for c in commands if "/api/GetJoinUrl " in c]
        [batch] = [c for c in commands if "/api/GetJoinUrl/batch " in c]
        [diagnose] = [c for c in commands if "/api/diagnose?" in c]
        meeting_id = parse_qs(urlsplit(shlex.split(by_id)[-1]).query)["meetingId"][0]  # base64: "==" at the end
        join_call = f"/onlineMeetings/{meeting_id}/getVirtualAppointmentJoinWebUrl"

        assert run_curl(by_id, port).status_code == 200
        seen = read_until(lines, TRAFFIC_TIME + r"identity GET /msi/token\?api-version=2019-08-01&resource=\S+ -> 200 ")
        seen += read_until(lines, traffic("GET", f"/v1.0/users/{upn}{join_call}"))

        assert run_curl(by_link, port).status_code == 200
        seen += read_until(lines, traffic("GET", f"/v1.0{lookup}"))
        seen += read_until(lines, traffic("GET", f"/v1.0/users/{organizer}{join_call}"))

        assert run_curl(batch, port).status_code == 200
        seen += read_until(lines, traffic("POST", "/v1.0/$batch [2 requests]"))
        items = [lines.get(timeout=10) for _ in range(2)]  # written with the line above, in the order sent
        caller = seen[-1].rsplit(" ", 1)[1]  # the batch's client-request-id, on each of its requests too
        assert items == [f"{INDENT}GET {path} -> 200 client-request-id {caller}" for path in (lookup, number)]
        # The link and the number find the same meeting of the same organizer: Graph is asked for it once.
        seen += items + read_until(lines, traffic("POST", "/v1.0/$batch [2 requests]"))
        items = [lines.get(timeout=10) for _ in range(2)]
        caller = seen[-1].rsplit(" ", 1)[1]
        assert items == [
            f"{INDENT}GET /users/{who}{join_call} -> 200 client-request-id {caller}" for who in (upn, organizer)
        ]

        assert run_curl(diagnose, port).status_code == 200
        probe = f"/v1.0/users/{upn}/onlineMeetings?$filter=JoinWebUrl eq '{POLICY_PROBE_LINK}'"
        seen += items + read_until(lines, traffic("GET", probe))
    said = "\n".join(printed + seen)
    assert "eyJ" not in said and "bearer" not in said.lower()
    shown = "\n".join(line for line in seen if re.match(TRAFFIC_LINE, line) or line.startswith(INDENT))
    assert not re.search(r"\b[0-9a-f]{32}\b", shown)  # the identity header's shape
    assert "context=" not in shown and "%7B%22Tid" not in shown


def test_make_run_traffic_off_prints_no_traffic():
    dry_run = make_dry_run("TRAFFIC=off")
    assert "-m devhost" in dry_run.stdout and "--quiet-traffic" in dry_run.stdout, dry_run.stdout + dry_run.stderr
    lines: queue.Queue[str | None] = queue.Queue()
    with make_run("--quiet-traffic", serving=lines) as (port, printed):
        [by_id] = [c for c in printed_commands(printed) if "/api/GetJoinUrl?" in c]
        assert run_curl(by_id, port).status_code == 200
        seen = read_until(lines, r'"event":"invocation"')  # the function has answered, after Graph answered it
    while (line := lines.get(timeout=10)) is not None:  # and all the rest, until the process ended
        seen.append(line)
    assert not [line for line in seen if re.match(TRAFFIC_LINE, line)]


LOG_RECORD = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:,]{12} [A-Z]+ [\w.]+: "
FUNCTION_RECORD = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:,]{12} [A-Z]+ getjoinurl(?:\.\w+)*: "


def test_make_run_prints_log_records_and_traffic_in_a_line_each_and_no_http_header_dump():
    """azure-core logs each token request's and answer's headers over many lines (values REDACTED), and
    azure-identity which identity it found and each token it got: `make run` leaves them out, so the console shows
    the function's own records and the traffic lines."""
    lines: queue.Queue[str | None] = queue.Queue()
    with make_run(serving=lines) as (port, printed):
        [by_id] = [c for c in printed_commands(printed) if "/api/GetJoinUrl?" in c]
        assert run_curl(by_id, port).status_code == 200
        seen = read_until(lines, r'"event":"invocation"')  # after the token request and the answer to it
    while (line := lines.get(timeout=10)) is not None:
        seen.append(line)
    assert any(re.match(TRAFFIC_TIME + "identity GET /msi/token", line) for line in seen)
    assert [line for line in seen if not re.match(f"{LOG_RECORD}|{TRAFFIC_LINE}", line)] == []
    assert [line for line in seen if "http_logging_policy" in line] == []
    assert [line for line in seen if re.match(LOG_RECORD, line) and not re.match(FUNCTION_RECORD, line)] == []
