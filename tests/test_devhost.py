"""`make run`'s pieces over real sockets: the dev host routes like the Functions host, and the printed curl works."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from devhost.host import route_pattern, serve
from tests.conftest import APP_ROOT, ORGANIZER_ID


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def host(configure):
    server = serve("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_route_template_reads_like_asp_net():
    pattern = route_pattern("GetJoinUrl/{action:alpha?}")
    assert pattern.fullmatch("GetJoinUrl") and pattern.fullmatch("getjoinurl/batch")
    assert pattern.fullmatch("GetJoinUrl/batch").group("action") == "batch"
    assert not pattern.fullmatch("GetJoinUrl/b4tch") and not pattern.fullmatch("GetJoinUrlX")


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


def test_make_run_prints_a_curl_line_that_works(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("GRAPH_BASE_URL", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "GRAPH_CREDENTIAL"):
        env.pop(name, None)
    args = [sys.executable, "-m", "devhost", "--builtin-host", "--port", str(port), "--emulator-port", "0"]
    process = subprocess.Popen(args, cwd=APP_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            printed.append(line)
            if line.startswith("Serving"):
                break
        curls = [shlex.split(line)[-1] for line in printed if line.strip().startswith("curl")]
        assert curls, "".join(printed)
        for url in curls:
            assert re.match(rf"http://localhost:{port}/api/GetJoinUrl\?", url)
            answer = requests.get(url, timeout=10)
            assert answer.status_code == 200, answer.text
            assert answer.json()["joinWebUrl"].startswith("https://")
    finally:
        process.terminate()
        process.wait(10)
