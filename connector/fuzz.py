"""`make fuzz`: schemathesis, from connector/apiDefinition.swagger.json, against the server `make run` starts.

- Installs schemathesis (and the runtime requirements) into its own virtualenv, .fuzz-venv, when missing or stale.
- Starts `python -m devhost --builtin-host` on free loopback ports, with the Graph emulator and DEFAULT_ORGANIZER_ID
  set, so a well-formed random meeting ID gets 404 MeetingNotFound rather than 400 for a missing organizer.
- Runs schemathesis with these checks: no 5xx (not_a_server_error), answers match the definition
  (response_schema_conformance), invalid input is refused (negative_data_rejection, with the expected statuses in
  schemathesis.toml; batch items one by one: batch_items_fail_alone in fuzz_checks.py).
- Bounded: FUZZ_MAX_EXAMPLES (default 50) cases per operation and phase, and RUN_TIMEOUT seconds in all.
  Exits non-zero on any failure. The server's log is in .fuzz-venv/devhost.log.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

CONNECTOR = Path(__file__).resolve().parent
ROOT = CONNECTOR.parent
VENV = ROOT / ".fuzz-venv"
SCHEMATHESIS = "schemathesis==4.32.5"
CHECKS = "not_a_server_error,response_schema_conformance,negative_data_rejection,batch_items_fail_alone"
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "50"))
STARTUP_TIMEOUT = 60.0
RUN_TIMEOUT = 900.0

sys.path.insert(0, str(ROOT))
from devhost.examples import DEMO_ORGANIZER_ID  # noqa: E402


def main() -> int:
    schemathesis = ensure_venv()
    with dev_server() as port:
        code = run_schemathesis(schemathesis, port)
    print(f"make fuzz: {'passed' if code == 0 else f'FAILED (schemathesis exit {code})'}", flush=True)
    return code


def ensure_venv() -> Path:
    """.fuzz-venv with the pinned schemathesis and requirements.txt; reinstalled when either changes."""
    requirements = ROOT / "requirements.txt"
    wanted = f"{SCHEMATHESIS}\n{hashlib.sha256(requirements.read_bytes()).hexdigest()}\n"
    stamp = VENV / ".installed"
    schemathesis = VENV / "bin" / "schemathesis"
    if schemathesis.exists() and stamp.exists() and stamp.read_text() == wanted:
        return schemathesis
    print(f"Installing {SCHEMATHESIS} into {VENV.name} ...", flush=True)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, SCHEMATHESIS, "-r", str(requirements)], check=True)
    stamp.write_text(wanted)
    return schemathesis


@contextmanager
def dev_server() -> Iterator[int]:
    """`make run`'s server on free ports; yields its port once it prints "Serving", and stops it afterwards."""
    port, emulator_port = free_ports(2)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DEFAULT_ORGANIZER_ID": DEMO_ORGANIZER_ID}
    env["ALLOWED_ORGANIZER_IDS"] = ""  # whatever local.settings.json says: no 403 OrganizerNotAllowed here
    command = [sys.executable, "-m", "devhost", "--builtin-host", "--port", str(port)]
    command += ["--emulator-port", str(emulator_port)]
    log_path = VENV / "devhost.log"
    with ExitStack() as stack:
        log = stack.enter_context(log_path.open("w", encoding="utf-8"))
        server = stack.enter_context(
            subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
            )
        )
        ready = threading.Event()
        reader = threading.Thread(target=pump, args=(server.stdout, log, ready), daemon=True)
        reader.start()
        stack.callback(reader.join, 10)  # after stop(): the log takes the server's last lines before it closes
        stack.callback(stop, server)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not ready.wait(0.1):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"The dev host did not start within {STARTUP_TIMEOUT:g} s: see {log_path}")
        print(f"Dev host serving on http://127.0.0.1:{port}/api (log: {log_path})", flush=True)
        yield port


def run_schemathesis(schemathesis: Path, port: int) -> int:
    command = [
        str(schemathesis),
        "--config-file",
        str(CONNECTOR / "schemathesis.toml"),
        "run",
        str(CONNECTOR / "apiDefinition.swagger.json"),
        "--url",
        f"http://127.0.0.1:{port}/api",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--header",
        "x-functions-key: local-fuzz",  # the dev host, like Core Tools, does not check keys
        "--request-timeout",
        "30",
        # A generation health check, not a finding: negative query values are drawn, then filtered against the
        # patterns and allowEmptyValue, and now and then too many are dropped.
        "--suppress-health-check",
        "filter_too_much",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(CONNECTOR / "fuzz_checks.py")}
    try:
        # cwd: schemathesis's own files (its example database, reports) stay inside .fuzz-venv
        return subprocess.run(command, cwd=VENV, env=env, timeout=RUN_TIMEOUT).returncode
    except subprocess.TimeoutExpired:
        print(f"schemathesis did not finish within {RUN_TIMEOUT:g} s", flush=True)
        return 1


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all sockets held open until every port is chosen)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def pump(stream: IO[str], log: IO[str], ready: threading.Event) -> None:
    for line in stream:
        log.write(line)
        log.flush()
        if line.startswith("Serving "):
            ready.set()


def stop(server: subprocess.Popen[str]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
