"""Warm child: one long-lived process per contender, driven by bench/worker_process.py over stdin/stdout (JSON lines).

    python bench/worker.py function|requests|requests_floor|sdk

Each contender has a process of its own, so none pays for another's imports or garbage. Commands, one a line:
    {"op": "calls", "n": 200, "timed": true}   n calls in a row; answers the per-call microseconds when timed
    {"op": "burst", "threads": 16}             that many threads call at once (sync contenders only)
    {"op": "batch", "meetings": [...]}         one batch invocation, timed (GetJoinUrl only)
    {"op": "load", "threads": 60, "calls": 10} that many threads, each making that many calls (GetJoinUrl only);
                                               with "meetings": [...], each call is that batch; answers wall and
                                               CPU seconds, each call's seconds, resident memory before and at peak
    {"op": "quit"}
The emulator's addresses come from the environment as bench/environment.py sets it (GRAPH_BASE_URL, IDENTITY_ENDPOINT,
IDENTITY_HEADER, GRAPH_CREDENTIAL, BENCH_*). Run with the bench virtualenv's Python.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

ORGANIZER_ID = os.environ["BENCH_ORGANIZER_ID"]
MEETING_ID = os.environ["BENCH_MEETING_ID"]
GRAPH_BASE_URL = os.environ["GRAPH_BASE_URL"]


class Contender:
    """`calls(n, timed)`: n calls in a row, each checked; the per-call times in microseconds when timed."""

    def calls(self, n: int, timed: bool) -> list[float]:
        raise NotImplementedError

    def one(self) -> None:
        raise NotImplementedError


class SyncContender(Contender):
    def __init__(self, call: Callable[[], None]) -> None:
        self._call = call

    def calls(self, n: int, timed: bool) -> list[float]:
        call, clock, times = self._call, time.perf_counter_ns, []
        for _ in range(n):
            started = clock()
            call()
            times.append((clock() - started) / 1000)
        return times if timed else []

    def one(self) -> None:
        self._call()


class _WorkerLikeLogHandler(logging.Handler):
    """Formats each record into memory, as the Python worker's handler formats it for the host."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: deque[str] = deque(maxlen=1000)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def function_contender() -> Contender:
    """One invocation as the worker makes it: a func.HttpRequest built, main() called, a 200 response back.

    The root logger is at INFO, as in the worker, so the function's one log line per invocation is counted.
    """
    import azure.functions as func

    logging.getLogger().addHandler(_WorkerLikeLogHandler())
    logging.getLogger().setLevel(logging.INFO)

    sys.path.insert(0, os.environ["BENCH_APP_ROOT"])
    from devhost.host import load_function

    main, _ = load_function("GetJoinUrl")
    params = {"meetingId": MEETING_ID, "organizerId": ORGANIZER_ID}

    def invoke(method: str = "GET", body: bytes = b"") -> func.HttpResponse:
        request = func.HttpRequest(
            method=method,
            url="http://localhost:7071/api/GetJoinUrl",
            headers={},
            params=params if method == "GET" else {},
            route_params={},
            body=body,
        )
        response: func.HttpResponse = main(request)
        return response

    def call() -> None:
        response = invoke()
        if response.status_code != 200:
            raise RuntimeError(f"GetJoinUrl answered {response.status_code}: {response.get_body()[:300]!r}")

    return FunctionContender(call, invoke)


class FunctionContender(SyncContender):
    """GetJoinUrl, which also takes a batch and a load of concurrent single calls."""

    def __init__(self, call: Callable[[], None], invoke: Callable[..., Any]) -> None:
        super().__init__(call)
        self.invoke = invoke

    def batch(self, meetings: list[dict[str, str]]) -> dict[str, Any]:
        """One batch invocation, timed: seconds, and how many items did not get a join URL."""
        body = json.dumps({"meetings": meetings}).encode()
        started = time.perf_counter()
        response = self.invoke("POST", body)
        seconds = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"GetJoinUrl answered {response.status_code}: {response.get_body()[:300]!r}")
        results = json.loads(response.get_body())["results"]
        return {"seconds": seconds, "failed_items": sum("joinWebUrl" not in result for result in results)}

    def load(self, threads: int, calls: int, meetings: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """`threads` threads released at once, each making `calls` invocations (single GETs, or the batch given):
        statuses, items without a join URL, wall and CPU seconds, each call's seconds, and this process's resident
        memory before the threads start and at its peak (the process's lifetime peak: use a fresh process)."""
        method, body = ("POST", json.dumps({"meetings": meetings}).encode()) if meetings else ("GET", b"")
        gate = threading.Barrier(threads)
        statuses: list[int] = []
        durations: list[float] = []
        failed: list[int] = []
        lock = threading.Lock()

        def run() -> None:
            gate.wait()
            for _ in range(calls):
                started = time.perf_counter()
                response = self.invoke(method, body)
                seconds = time.perf_counter() - started
                missing = 0
                if meetings and response.status_code == 200:
                    missing = sum("joinWebUrl" not in r for r in json.loads(response.get_body())["results"])
                with lock:
                    statuses.append(response.status_code)
                    durations.append(seconds)
                    failed.append(missing)

        pool = [threading.Thread(target=run) for _ in range(threads)]
        rss_before_kb = resident_kb()
        cpu_started, started = time.process_time(), time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started  # every thread of this process, user + system
        counts: dict[str, int] = {}
        for status in statuses:
            counts[str(status)] = counts.get(str(status), 0) + 1
        return {
            "seconds": seconds,
            "statuses": counts,
            "failed_items": sum(failed),
            "cpu_seconds": cpu_seconds,
            "durations": durations,
            "rss_before_kb": rss_before_kb,
            # The kernel syncs its per-thread counters lazily: the peak is never read below a current figure.
            "maxrss_kb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, rss_before_kb, resident_kb()),
        }


def resident_kb() -> int:
    """This process's resident memory now (VmRSS, Linux); its peak so far where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def requests_contender(trust_env: bool = True) -> Contender:
    """The bare call a developer would write: one Session reused (defaults kept), a ready token, `value` read.

    With trust_env=False (informational: the floor), requests skips reading proxy, CA and netrc settings
    from the environment on every call.
    """
    from urllib.parse import quote

    import requests

    url = (
        f"{GRAPH_BASE_URL}/v1.0/users/{quote(ORGANIZER_ID, safe='')}/onlineMeetings/{quote(MEETING_ID, safe='')}"
        "/getVirtualAppointmentJoinWebUrl"
    )
    headers = {"Authorization": "Bearer " + os.environ["BENCH_TOKEN"]}
    session = requests.Session()
    session.trust_env = trust_env

    def call() -> None:
        response = session.get(url, headers=headers)
        response.raise_for_status()
        if not response.json()["value"].startswith("https://"):
            raise RuntimeError("no join URL")

    return SyncContender(call)


class SdkContender(Contender):
    """The official msgraph-sdk: GraphServiceClient over ManagedIdentityCredential, built once, called warm.

    Each call builds the request chain from the IDs (as code serving different meetings does) and awaits it
    inside one running event loop, so loop start-up is never counted against the SDK.
    """

    def __init__(self) -> None:
        import asyncio
        from urllib.parse import urlsplit

        from azure.identity import ManagedIdentityCredential
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )
        from msgraph.graph_request_adapter import GraphRequestAdapter
        from msgraph.graph_service_client import GraphServiceClient

        host = urlsplit(GRAPH_BASE_URL).hostname
        if not host:
            raise RuntimeError(f"GRAPH_BASE_URL has no host: {GRAPH_BASE_URL}")
        auth = AzureIdentityAuthenticationProvider(
            ManagedIdentityCredential(), scopes=[f"{GRAPH_BASE_URL}/.default"], allowed_hosts=[host]
        )
        adapter = GraphRequestAdapter(auth)
        adapter.base_url = f"{GRAPH_BASE_URL}/v1.0"
        self.client = GraphServiceClient(request_adapter=adapter)
        self.loop = asyncio.new_event_loop()

    async def _call(self) -> None:
        meeting = self.client.users.by_user_id(ORGANIZER_ID).online_meetings.by_online_meeting_id(MEETING_ID)
        answer = await meeting.get_virtual_appointment_join_web_url.get()
        if answer is None or not (answer.value or "").startswith("https://"):
            raise RuntimeError("no join URL")

    async def _calls(self, n: int) -> list[float]:
        clock, times = time.perf_counter_ns, []
        for _ in range(n):
            started = clock()
            await self._call()
            times.append((clock() - started) / 1000)
        return times

    def calls(self, n: int, timed: bool) -> list[float]:
        times = self.loop.run_until_complete(self._calls(n))
        return times if timed else []

    def one(self) -> None:
        self.loop.run_until_complete(self._call())


def burst(contender: Contender, threads: int) -> list[str]:
    """All threads released at once on a cold process: what a burst of first invocations does."""
    gate = threading.Barrier(threads)
    outcomes: list[str] = []

    def run() -> None:
        gate.wait()
        try:
            contender.one()
            outcomes.append("ok")
        except Exception as exc:
            outcomes.append(f"{type(exc).__name__}: {str(exc)[:200]}")

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return outcomes


CONTENDERS: dict[str, Callable[[], Contender]] = {
    "function": function_contender,
    "requests": requests_contender,
    "requests_floor": lambda: requests_contender(trust_env=False),
    "sdk": SdkContender,
}


def main() -> None:
    contender = CONTENDERS[sys.argv[1]]()
    out = sys.stdout
    out.write(json.dumps({"ready": sys.argv[1]}) + "\n")
    out.flush()
    for line in sys.stdin:
        command: dict[str, Any] = json.loads(line)
        op = command["op"]
        if op == "quit":
            break
        try:
            if op == "calls":
                answer: dict[str, Any] = {"times_us": contender.calls(command["n"], command.get("timed", True))}
            elif op == "burst":
                answer = {"outcomes": burst(contender, command["threads"])}
            elif op == "batch" and isinstance(contender, FunctionContender):
                answer = contender.batch(command["meetings"])
            elif op == "load" and isinstance(contender, FunctionContender):
                answer = contender.load(command["threads"], command["calls"], command.get("meetings"))
            else:
                answer = {"error": f"unknown op {op!r}"}
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
