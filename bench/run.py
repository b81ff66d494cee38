"""`make bench`: GetJoinUrl side by side with the official msgraph-sdk and a raw `requests` call, in one run.

Measures issue 5's four targets and issue 11's (batch round trips, no errors at twice the connection pool)
against one local fake of Graph and the managed-identity endpoint (devhost.emulator), then what one Flex
Consumption instance does and what a million join URLs cost on it, and prints every figure and ratio. See
bench/README.md for what each one means.

    .venv-3.11/bin/python bench/run.py [--cold-runs 21] [--rounds 20] [--calls 200] [--app-root PATH] [--strict]
                                  [--skip-warm] [--concurrency-only] [--instance-only] [--bodies-only]
                                  [--wire gzip+chunked]

The contenders run in a virtualenv of their own, .bench-venv (requirements.txt + msgraph-sdk), made on first use;
msgraph-sdk never enters the function's requirements. `--app-root` measures another copy of the app (a scratch
worktree with a proposed change) against the same SDK figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = ROOT / ".bench-venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".bench-installed"
MSGRAPH_SDK = "msgraph-sdk==1.65.0"  # pinned so runs compare; bump deliberately
RESULTS = BENCH / "results" / "last.json"

ORGANIZER_ID = "3f9b2c1d-4e5a-4b6c-8d7e-9f0a1b2c3d4e"
ORGANIZER_UPN = "bench.organizer@contoso.example"
BURST_THREADS = 16

TARGETS = {
    "cold": 0.36,  # GetJoinUrl cold / SDK cold
    "warm_vs_requests": 1.00,  # GetJoinUrl warm / raw requests warm
    "warm_vs_sdk": 0.75,  # GetJoinUrl warm / SDK warm
    "batch_ids": 1.3,  # wall time of a batch of 100 meeting IDs, in Graph round trips
    "batch_links": 2.6,  # the same for 100 Teams links (a lookup, then the join URL)
}
BATCH_LATENCY = 0.2  # seconds every Graph answer waits in the batch runs, as a round trip to Graph would
BATCH_ITEMS = 100
BATCH_RUNS = 5
LOAD_LATENCY = 0.05  # seconds every Graph answer waits in the load run
LOAD_WORKER_THREADS = 6  # PYTHON_THREADPOOL_THREAD_COUNT for the load run: the worker's default on 2 CPUs
LOAD_CALLS = 10  # single calls per thread in the load run

# One Flex Consumption instance as infra/main.bicep sizes it by default (tests/test_infra.py checks they match),
# against the template's earlier defaults: 2,048 MB and Python's HTTP concurrency of 1.
INSTANCE_MEMORY_MB = 512
INSTANCE_CONCURRENCY = 16  # perInstanceConcurrency; PYTHON_THREADPOOL_THREAD_COUNT is at least this
OLD_MEMORY_MB, OLD_CONCURRENCY = 2048, 1
# CPU cores per instance size, "typical allocations" (Microsoft Learn, "Azure Functions Flex Consumption plan
# hosting", Instance memory, as of 2025-2026); the platform adds 272 MB for itself, not billed.
INSTANCE_CORES = {512: 0.25, 2048: 1.0, 4096: 2.0}
INSTANCE_LATENCY = 0.15  # seconds every Graph answer waits: a realistic round trip to Graph
INSTANCE_CALLS = {"single": {1: 30, INSTANCE_CONCURRENCY: 20}, "batch": {1: 6, INSTANCE_CONCURRENCY: 3}}
# Flex Consumption on demand, as Microsoft's cost-estimation example quotes them (Microsoft Learn, "Estimating
# consumption-based costs", Flex Consumption, read 2026-12-02): memory of each instance while it executes, and a
# charge per execution. The pricing page (azure.microsoft.com/pricing/details/functions) is the authority, per
# region and currency. The monthly free grant (on demand, per subscription) is left out: it lowers a small bill.
RATE_PER_GB_SECOND = 0.000026
RATE_PER_EXECUTION = 0.40 / 1_000_000
# "The minimum billable execution period ... is 1,000 ms. Past that, the billable activity period is rounded up to
# the nearest 100 ms." (Learn, Flex Consumption plan hosting, Billing.)
MIN_BILLED_SECONDS, BILLING_STEP_SECONDS = 1.0, 0.1
COST_TARGETS = {"cost_sporadic": 4.0, "cost_sustained": 30.0}  # old defaults' cost / new defaults' cost, at least

sys.path.insert(0, str(ROOT))
import bodies  # noqa: E402  # bench/bodies.py, beside this file

from devhost.emulator import WIRES, GraphEmulator  # noqa: E402
from shared.graph_batch import BATCH_CONCURRENCY, connections_needed  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-runs", type=int, default=21, help="fresh processes per cold contender")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved warm rounds")
    parser.add_argument("--calls", type=int, default=200, help="calls per contender per warm round")
    parser.add_argument("--app-root", type=Path, default=ROOT, help="the app to measure (default: this repo)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--skip-warm", action="store_true", help="no warm rounds")
    parser.add_argument(
        "--concurrency-only", action="store_true", help="only the batch round trips and the load at twice the pool"
    )
    parser.add_argument(
        "--instance-only", action="store_true", help="only one instance's throughput, CPU, memory and cost"
    )
    parser.add_argument(
        "--wire", choices=WIRES, default=WIRES[0], help="how the emulators send answers (default: as Graph does)"
    )
    parser.add_argument("--bodies-only", action="store_true", help="only 16 request bodies at once (bench/bodies.py)")
    args = parser.parse_args()
    if args.bodies_only:
        return bodies.alone(args.app_root)

    started = time.monotonic()
    ensure_venv()
    identity, graph, env = start_emulators(args.app_root.resolve(), args.wire)
    results: dict[str, Any] = {"environment": environment(args.app_root.resolve(), args.wire)}
    print_header(results["environment"])
    try:
        if not (args.concurrency_only or args.instance_only):
            results["cold"] = measure_cold(env, args.cold_runs)
            if not args.skip_warm:
                results["warm"] = measure_warm(env, args.rounds, args.calls)
            results["identity"], results["connections"] = measure_identity_and_connections(env, identity, graph)
            results["bodies"] = bodies.measure(env, str(VENV_PYTHON))
        if not args.instance_only:
            results["batch"] = measure_batches(env, graph)
            results["load"] = measure_load(env, graph)
        if not args.concurrency_only:
            results["instance"] = measure_instance(env, graph)
            results["cost"] = cost_table(results["instance"])
    finally:
        identity.stop()
        graph.stop()
    results["targets"] = verdicts(results)
    results["seconds"] = round(time.monotonic() - started, 1)
    print_verdicts(results)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nWhole run: {results['seconds']} s. Figures saved to {RESULTS.relative_to(ROOT)}.")
    missed = [name for name, verdict in results["targets"].items() if not verdict["met"]]
    return 1 if args.strict and missed else 0


# --- set-up -------------------------------------------------------------------------------------------------------


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
        BENCH_JOIN_URL=meeting.join_web_url,
        BENCH_ORGANIZER_ID=ORGANIZER_ID,
        BENCH_TOKEN=identity.issue_token(graph.base_url)["access_token"],
    )
    return identity, graph, env


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


# --- cold ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColdKind:
    name: str
    script: str
    extra_env: dict[str, str]


COLD_KINDS = (
    ColdKind("function", "cold_function.py", {}),
    ColdKind("sdk", "cold_sdk.py", {}),
    ColdKind("sdk_in_worker", "cold_sdk.py", {"BENCH_WORKER_LIKE": "1"}),
    ColdKind("dependencies", "cold_deps.py", {}),
)


def run_cold(kind: ColdKind, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [str(VENV_PYTHON), str(BENCH / kind.script)], env={**env, **kind.extra_env}, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"bench: the cold {kind.name} process failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_cold(env: dict[str, str], runs: int) -> dict[str, Any]:
    print(f"\nCold: {runs} fresh processes per contender, interleaved (one warm-up each first)...", flush=True)
    for kind in COLD_KINDS:
        run_cold(kind, env)
    samples: dict[str, list[dict[str, float]]] = {kind.name: [] for kind in COLD_KINDS}
    for run in range(runs):
        order = COLD_KINDS[run % len(COLD_KINDS) :] + COLD_KINDS[: run % len(COLD_KINDS)]
        for kind in order:
            samples[kind.name].append(run_cold(kind, env))
    cold: dict[str, Any] = {
        name: {field: statistics.median(s[field] for s in runs_) for field in runs_[0]}
        for name, runs_ in samples.items()
    }
    for name, runs_ in samples.items():
        totals = sorted(s["total_ms"] for s in runs_)
        cold[name]["min_total_ms"], cold[name]["max_total_ms"] = totals[0], totals[-1]
    fn, sdk, sdk_w, deps = cold["function"], cold["sdk"], cold["sdk_in_worker"], cold["dependencies"]
    cold["ratio"] = fn["total_ms"] / sdk["total_ms"]
    cold["ratio_vs_sdk_in_worker"] = fn["total_ms"] / sdk_w["total_ms"]
    cold["dependencies_ratio"] = deps["total_ms"] / sdk["total_ms"]
    cold["runs"] = runs
    mb = 1024.0
    rows = [
        (
            "GetJoinUrl: import (worker-style loader) + first call",
            fn,
            f"{fn['import_ms']:.1f} + {fn['first_call_ms']:.1f}",
        ),
        (
            "msgraph-sdk: imports + client built + first call",
            sdk,
            f"{sdk['import_ms']:.1f} + {sdk['build_ms']:.1f} + {sdk['first_call_ms']:.1f}",
        ),
        (
            "msgraph-sdk after azure.functions (informational)",
            sdk_w,
            f"{sdk_w['import_ms']:.1f} + {sdk_w['build_ms']:.1f} + {sdk_w['first_call_ms']:.1f}",
        ),
        ("(floor) import requests + azure.identity alone, no call", deps, "imports only"),
    ]
    print(f"  {'median to the first 200 answer':<56}{'total ms':>9}  {'split ms':<22}{'range ms':<15}{'peak RSS':>9}")
    for label, figures, split in rows:
        spread = f"{figures['min_total_ms']:.0f}-{figures['max_total_ms']:.0f}"
        rss = f"{figures['maxrss_kb'] / mb:.1f} MB"
        print(f"  {label:<56}{figures['total_ms']:>9.1f}  {split:<22}{spread:<15}{rss:>9}")
    print(
        f"  GetJoinUrl's process had {fn['rss_at_start_kb'] / mb:.1f} MB resident when its clock started "
        f"(interpreter + azure.functions); it added {(fn['maxrss_kb'] - fn['rss_at_start_kb']) / mb:.1f} MB."
    )
    print(f"  Cold ratio GetJoinUrl / msgraph-sdk: {cold['ratio']:.3f}x (target <= {TARGETS['cold']:.2f}x)")
    print(f"  (against the SDK in a worker-like interpreter: {cold['ratio_vs_sdk_in_worker']:.3f}x, informational)")
    print(
        f"  (importing GetJoinUrl's two dependencies alone: {cold['dependencies_ratio']:.3f}x of the SDK; GetJoinUrl's "
        f"whole cold path is {fn['total_ms'] - deps['total_ms']:+.1f} ms from that)"
    )
    return cold


# --- warm ---------------------------------------------------------------------------------------------------------


class Worker:
    """A long-lived contender process speaking bench/worker.py's JSON-lines protocol."""

    def __init__(self, kind: str, env: dict[str, str]) -> None:
        self.kind = kind
        self.process = subprocess.Popen(
            [str(VENV_PYTHON), str(BENCH / "worker.py"), kind],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._read()

    def _read(self) -> dict[str, Any]:
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            raise SystemExit(f"bench: the {self.kind} worker exited (code {self.process.wait()})")
        answer = json.loads(line)
        if "error" in answer:
            raise SystemExit(f"bench: the {self.kind} worker failed: {answer['error']}")
        return answer

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.ask_quit()
        self.process.wait(timeout=30)

    def ask_quit(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
        self.process.stdin.close()


WARM_KINDS = ("function", "requests", "sdk", "requests_floor")
WARM_LABELS = {
    "function": "GetJoinUrl invocation (HttpRequest -> main -> response)",
    "requests": "raw requests: reused Session().get + .json(), token ready",
    "sdk": "msgraph-sdk: request chain built + awaited, warm client",
    "requests_floor": "(floor) the same raw call with trust_env=False",
}


def measure_warm(env: dict[str, str], rounds: int, calls: int) -> dict[str, Any]:
    print(f"\nWarm: {rounds} interleaved rounds of {calls} calls per contender, one process each...", flush=True)
    workers = {kind: Worker(kind, env) for kind in WARM_KINDS}
    try:
        for worker in workers.values():
            worker.ask(op="calls", n=calls, timed=False)  # warm-up: token cached, connections open, code hot
        times: dict[str, list[float]] = {kind: [] for kind in WARM_KINDS}
        round_medians: dict[str, list[float]] = {kind: [] for kind in WARM_KINDS}
        for index in range(rounds):
            shift = index % len(WARM_KINDS)
            for kind in WARM_KINDS[shift:] + WARM_KINDS[:shift]:
                got = workers[kind].ask(op="calls", n=calls, timed=True)["times_us"]
                times[kind].extend(got)
                round_medians[kind].append(statistics.median(got))
    finally:
        for worker in workers.values():
            worker.close()
    warm: dict[str, Any] = {kind: per_call(times[kind]) for kind in WARM_KINDS}
    fn, raw, sdk, floor = (warm[kind]["median_us"] for kind in WARM_KINDS)
    warm["ratio_vs_requests"] = fn / raw
    warm["ratio_vs_sdk"] = fn / sdk
    warm["ratio_vs_floor"] = fn / floor
    warm["round_ratio_range_vs_requests"] = ratio_range(round_medians["function"], round_medians["requests"])
    warm["round_ratio_range_vs_sdk"] = ratio_range(round_medians["function"], round_medians["sdk"])
    warm["rounds"], warm["calls_per_round"] = rounds, calls
    print(f"  {'per call, median over all rounds':<60}{'median us':>10}{'p10 us':>9}{'p90 us':>9}")
    for kind in WARM_KINDS:
        w = warm[kind]
        print(f"  {WARM_LABELS[kind]:<60}{w['median_us']:>10.0f}{w['p10_us']:>9.0f}{w['p90_us']:>9.0f}")
    low, high = warm["round_ratio_range_vs_requests"]
    print(
        f"  Warm ratio GetJoinUrl / raw requests: {warm['ratio_vs_requests']:.3f}x "
        f"(per-round {low:.2f}-{high:.2f}; target <= {TARGETS['warm_vs_requests']:.2f}x)"
    )
    low, high = warm["round_ratio_range_vs_sdk"]
    print(
        f"  Warm ratio GetJoinUrl / msgraph-sdk: {warm['ratio_vs_sdk']:.3f}x "
        f"(per-round {low:.2f}-{high:.2f}; target <= {TARGETS['warm_vs_sdk']:.2f}x)"
    )
    print(f"  (GetJoinUrl / the trust_env=False floor: {warm['ratio_vs_floor']:.3f}x, informational)")
    print("  Reading of 'raw requests': one requests.Session() made once and reused with its defaults (trust_env on,")
    print("  no proxy variables set, as on Azure), a token fetched beforehand, status checked, JSON 'value' read.")
    print("  GetJoinUrl's figure includes its INFO log line (root logger at INFO, as in the worker).")
    return warm


def per_call(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick: Callable[[float], float] = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"median_us": statistics.median(ordered), "p10_us": pick(0.10), "p90_us": pick(0.90), "n": len(ordered)}


def ratio_range(ours: Sequence[float], theirs: Sequence[float]) -> list[float]:
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return [min(ratios), max(ratios)]


# --- identity and connections -------------------------------------------------------------------------------------


def counts(identity: GraphEmulator, graph: GraphEmulator) -> dict[str, int]:
    return {
        "identity_requests": identity.state.identity_request_count,
        "graph_requests": graph.state.graph_request_count,
        "graph_connections": graph.state.connections,
    }


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in after}


def measure_identity_and_connections(
    env: dict[str, str], identity: GraphEmulator, graph: GraphEmulator
) -> tuple[dict[str, Any], dict[str, Any]]:
    sequential = 200
    print(
        f"\nIdentity and connections: fresh GetJoinUrl processes, {sequential + 1} sequential invocations, "
        f"then a cold burst of {BURST_THREADS} threads...",
        flush=True,
    )
    worker = Worker("function", env)
    try:
        before = counts(identity, graph)
        worker.ask(op="calls", n=1, timed=False)
        first = delta(counts(identity, graph), before)
        worker.ask(op="calls", n=sequential, timed=False)
        total = delta(counts(identity, graph), before)
    finally:
        worker.close()
    worker = Worker("function", env)
    try:
        before = counts(identity, graph)
        outcomes = worker.ask(op="burst", threads=BURST_THREADS)["outcomes"]
        burst = delta(counts(identity, graph), before)
    finally:
        worker.close()
    failed = [outcome for outcome in outcomes if outcome != "ok"]
    if failed:
        raise SystemExit(f"bench: {len(failed)} burst invocations failed, e.g. {failed[0]}")
    identity_figures = {
        "sequential_invocations": sequential + 1,
        "sequential_identity_calls": total["identity_requests"],
        "burst_threads": BURST_THREADS,
        "burst_identity_calls": burst["identity_requests"],
    }
    connection_figures = {
        "sequential_invocations": sequential + 1,
        "sequential_graph_requests": total["graph_requests"],
        "sequential_graph_connections": total["graph_connections"],
        "first_invocation_graph_connections": first["graph_connections"],
        "burst_graph_connections": burst["graph_connections"],
    }
    print(
        f"  Identity-endpoint calls, {sequential + 1} sequential invocations in one token lifetime: "
        f"{total['identity_requests']} (target 1)"
    )
    print(f"  Identity-endpoint calls, cold burst of {BURST_THREADS} threads: {burst['identity_requests']} (target 1)")
    print(
        f"  Graph connections, {sequential + 1} sequential invocations: {total['graph_connections']} "
        f"for {total['graph_requests']} Graph requests (target 1)"
    )
    print(
        f"  (the burst's {BURST_THREADS} concurrent calls opened {burst['graph_connections']} Graph connections, "
        "one per request in flight, all pooled)"
    )
    return identity_figures, connection_figures


# --- batches and load ----------------------------------------------------------------------------------------------


def measure_batches(env: dict[str, str], graph: GraphEmulator) -> dict[str, Any]:
    """Wall time of one batch invocation of 100 items, in Graph round trips, with Graph answering in BATCH_LATENCY.

    The floor is one round trip per dependency level: 1 for meeting IDs, 2 for links (look up, then join URLs).
    A single call at the same latency is shown beside them: its round trip plus the function's own time.
    """
    print(
        f"\nBatches: Graph answers every request after {BATCH_LATENCY * 1000:.0f} ms; median of {BATCH_RUNS} batch "
        f"invocations of {BATCH_ITEMS} items each...",
        flush=True,
    )
    distinct = [graph.add_meeting(ORGANIZER_ID) for _ in range(BATCH_ITEMS)]  # a batch asks once for duplicates
    kinds = {
        "single": None,
        "ids": [{"meetingId": m.meeting_id, "organizerId": m.organizer_id} for m in distinct],
        "links": [{"joinUrl": m.join_web_url} for m in distinct],
    }
    worker = Worker("function", env)
    graph.state.graph_latency = BATCH_LATENCY
    figures: dict[str, Any] = {"latency_seconds": BATCH_LATENCY, "items": BATCH_ITEMS}
    try:
        worker.ask(op="calls", n=1, timed=False)  # token cached, connection open
        for kind, meetings in kinds.items():
            runs = []
            for _ in range(BATCH_RUNS):
                if meetings is None:
                    seconds, failed = worker.ask(op="calls", n=1, timed=True)["times_us"][0] / 1e6, 0
                else:
                    answer = worker.ask(op="batch", meetings=meetings)
                    seconds, failed = answer["seconds"], answer["failed_items"]
                if failed:
                    raise SystemExit(f"bench: {failed} items of a batch of {kind} failed")
                runs.append(seconds)
            median = statistics.median(runs)
            figures[kind] = {"median_seconds": median, "round_trips": median / BATCH_LATENCY, "runs": runs}
    finally:
        graph.state.graph_latency = 0.0
        worker.close()
    labels = {
        "single": "one meeting by ID (a single call)",
        "ids": f"{BATCH_ITEMS} meeting IDs (floor: 1 round trip)",
        "links": f"{BATCH_ITEMS} Teams links (floor: 2 round trips)",
    }
    print(f"  {'one invocation, median':<48}{'wall ms':>9}{'round trips':>13}")
    for kind, label in labels.items():
        print(f"  {label:<48}{figures[kind]['median_seconds'] * 1000:>9.0f}{figures[kind]['round_trips']:>13.2f}")
    print(
        f"  Targets: {BATCH_ITEMS} IDs <= {TARGETS['batch_ids']} round trips, {BATCH_ITEMS} links <= "
        f"{TARGETS['batch_links']} (the $batch calls of each step go out side by side)."
    )
    return figures


def measure_load(env: dict[str, str], graph: GraphEmulator) -> dict[str, Any]:
    """Twice as many concurrent invocations as the Graph connection pool holds, Graph answering in LOAD_LATENCY.

    Every call must answer 200 as it would alone. The ideal throughput is threads / latency (every thread always
    waiting on Graph); on a shared 2-core machine the function, the emulator and the bench share the CPUs, so the
    fraction of it reached is informational.
    """
    pool = connections_needed(LOAD_WORKER_THREADS)
    threads = 2 * pool
    print(
        f"\nLoad: {threads} threads (twice the pool of {pool} Graph connections: PYTHON_THREADPOOL_THREAD_COUNT="
        f"{LOAD_WORKER_THREADS} x {BATCH_CONCURRENCY}), {LOAD_CALLS} single calls each, Graph answering in "
        f"{LOAD_LATENCY * 1000:.0f} ms...",
        flush=True,
    )
    worker = Worker("function", {**env, "PYTHON_THREADPOOL_THREAD_COUNT": str(LOAD_WORKER_THREADS)})
    graph.state.graph_latency = LOAD_LATENCY
    try:
        worker.ask(op="calls", n=1, timed=False)
        answer = worker.ask(op="load", threads=threads, calls=LOAD_CALLS)
    finally:
        graph.state.graph_latency = 0.0
        worker.close()
    calls = threads * LOAD_CALLS
    errors = calls - answer["statuses"].get("200", 0)
    throughput = calls / answer["seconds"]
    ideal = threads / LOAD_LATENCY
    figures = {
        "pool": pool,
        "threads": threads,
        "calls": calls,
        "latency_seconds": LOAD_LATENCY,
        "statuses": answer["statuses"],
        "errors": errors,
        "seconds": answer["seconds"],
        "calls_per_second": throughput,
        "ideal_calls_per_second": ideal,
        "fraction_of_ideal": throughput / ideal,
    }
    print(f"  {calls} calls in {answer['seconds']:.2f} s: statuses {answer['statuses']}, {errors} errors (target 0)")
    print(
        f"  Throughput {throughput:.0f} calls/s against the ideal {threads} threads / {LOAD_LATENCY * 1000:.0f} ms = "
        f"{ideal:.0f} calls/s: {throughput / ideal:.2f} of it (informational: 2 shared cores run all three sides)"
    )
    return figures


# --- one instance, and what a million join URLs cost ----------------------------------------------------------


def measure_instance(env: dict[str, str], graph: GraphEmulator) -> dict[str, Any]:
    """One process running the function as the worker does, with 1 and INSTANCE_CONCURRENCY invocations at once,
    single calls and batches of 100 distinct Teams links, Graph answering in INSTANCE_LATENCY.

    Each line is a fresh process (its peak resident memory is its own), warmed by one round of the same load
    first (token cached, connections open), with PYTHON_THREADPOOL_THREAD_COUNT as infra sets it.
    """
    links = [{"joinUrl": graph.add_meeting(ORGANIZER_ID).join_web_url} for _ in range(BATCH_ITEMS)]
    print(
        f"\nOne instance: Graph answering in {INSTANCE_LATENCY * 1000:.0f} ms; one fresh GetJoinUrl process per line, "
        f"PYTHON_THREADPOOL_THREAD_COUNT={INSTANCE_CONCURRENCY}; batches are {BATCH_ITEMS} distinct Teams links...",
        flush=True,
    )
    worker_env = {**env, "PYTHON_THREADPOOL_THREAD_COUNT": str(INSTANCE_CONCURRENCY)}
    graph.state.graph_latency = INSTANCE_LATENCY
    figures: dict[str, Any] = {"latency_seconds": INSTANCE_LATENCY, "items": BATCH_ITEMS}
    try:
        for kind, meetings in (("single", None), ("batch", links)):
            for threads, calls in INSTANCE_CALLS[kind].items():
                worker = Worker("function", worker_env)
                try:
                    worker.ask(op="load", threads=threads, calls=1, meetings=meetings)  # warm-up, not counted
                    answer = worker.ask(op="load", threads=threads, calls=calls, meetings=meetings)
                finally:
                    worker.close()
                figures[f"{kind}_{threads}"] = instance_figures(answer, threads, calls, BATCH_ITEMS if meetings else 1)
    finally:
        graph.state.graph_latency = 0.0
    heads = f"{'calls/s':>9}{'CPU ms/call':>13}{'median ms':>11}{'peak RSS':>10}{'at start':>10}"
    print(f"  {'in flight at once':<28}{heads}")
    for kind, label in (("single", "single call"), ("batch", f"batch of {BATCH_ITEMS} links")):
        for threads in INSTANCE_CALLS[kind]:
            f = figures[f"{kind}_{threads}"]
            print(
                f"  {f'{threads} x {label}':<28}{f['calls_per_second']:>9.1f}{f['cpu_ms_per_call']:>13.2f}"
                f"{f['median_ms']:>11.0f}{f['maxrss_mb']:>7.1f} MB{f['rss_before_mb']:>7.1f} MB"
            )
    cores = INSTANCE_CORES[INSTANCE_MEMORY_MB]
    for kind in ("single", "batch"):
        f = figures[f"{kind}_{INSTANCE_CONCURRENCY}"]
        print(
            f"  {kind}: CPU-bound ceiling of a {INSTANCE_MEMORY_MB} MB instance ({cores} core): "
            f"{cores / (f['cpu_ms_per_call'] / 1000):.0f} calls/s; at {INSTANCE_CONCURRENCY} in flight it needs "
            f"{f['calls_per_second'] * f['cpu_ms_per_call'] / 1000:.2f} core for the rate measured here"
        )
    peak = figures[f"batch_{INSTANCE_CONCURRENCY}"]["maxrss_mb"]
    figures["memory"] = {"peak_mb": peak, "limit_mb": INSTANCE_MEMORY_MB / 2, "met": peak < INSTANCE_MEMORY_MB / 2}
    print(
        f"  Memory: {INSTANCE_CONCURRENCY} batches of {BATCH_ITEMS} in flight peak at {peak:.1f} MB for the whole "
        f"process (target: under half the {INSTANCE_MEMORY_MB} MB instance, {INSTANCE_MEMORY_MB / 2:.0f} MB)"
    )
    return figures


def instance_figures(answer: dict[str, Any], threads: int, calls: int, urls_per_call: int) -> dict[str, Any]:
    total = threads * calls
    errors = total - answer["statuses"].get("200", 0)
    if errors or answer["failed_items"]:
        raise SystemExit(f"bench: instance run failed: statuses {answer['statuses']}, {answer['failed_items']} items")
    return {
        "threads": threads,
        "calls": total,
        "urls_per_call": urls_per_call,
        "seconds": answer["seconds"],
        "calls_per_second": total / answer["seconds"],
        "cpu_ms_per_call": answer["cpu_seconds"] * 1000 / total,
        "median_ms": statistics.median(answer["durations"]) * 1000,
        "durations": answer["durations"],
        "maxrss_mb": answer["maxrss_kb"] / 1024,
        "rss_before_mb": answer["rss_before_kb"] / 1024,
    }


def billed_seconds(seconds: float) -> float:
    """One activity period as billed: at least MIN_BILLED_SECONDS, else rounded up to BILLING_STEP_SECONDS."""
    steps = -(-round(seconds / BILLING_STEP_SECONDS, 6) // 1)
    return max(MIN_BILLED_SECONDS, steps * BILLING_STEP_SECONDS)


def on_instance(figures: dict[str, Any], memory_mb: int) -> tuple[float, float]:
    """(seconds per call, calls per second) on an instance of that size: the CPU measured here is stretched to the
    instance's cores, and the rate measured here is capped at what those cores can run."""
    cores = INSTANCE_CORES[memory_mb]
    cpu = figures["cpu_ms_per_call"] / 1000
    stretch = cpu * max(0.0, 1 / cores - 1)
    seconds = statistics.mean(figures["durations"]) + stretch
    return seconds, min(figures["calls_per_second"], cores / cpu)


def cost_per_million_urls(figures: dict[str, Any], memory_mb: int, concurrency: int, sustained: bool) -> float:
    """Dollars per million join URLs, on demand (see bench/README.md, "Billing model").

    Calls one at a time (sporadic traffic, or any traffic at concurrency 1) each make an activity period of their
    own, billed at least MIN_BILLED_SECONDS. A sustained load at a higher concurrency keeps the instance executing
    without a pause: its memory is billed for the wall time, shared by every call it runs.
    """
    gb = memory_mb / 1024
    seconds, calls_per_second = on_instance(figures, memory_mb)
    if sustained and concurrency > 1:
        per_call = gb * RATE_PER_GB_SECOND / calls_per_second
    else:
        per_call = gb * RATE_PER_GB_SECOND * billed_seconds(seconds)
    return (per_call + RATE_PER_EXECUTION) * 1_000_000 / figures["urls_per_call"]


def cost_table(instance: dict[str, Any]) -> dict[str, Any]:
    n = INSTANCE_CONCURRENCY
    rows = {
        "sporadic": ("single calls, one at a time", "single", False),
        "sustained": (f"single calls, sustained ({n} at once)", "single", True),
        "batch_sporadic": (f"batches of {BATCH_ITEMS}, one at a time", "batch", False),
        "batch_sustained": (f"batches of {BATCH_ITEMS}, sustained ({n} at once)", "batch", True),
    }
    table: dict[str, Any] = {}
    for key, (label, kind, sustained) in rows.items():
        # The old defaults run one call per instance at a time, so they are measured with one in flight.
        old = cost_per_million_urls(instance[f"{kind}_1"], OLD_MEMORY_MB, OLD_CONCURRENCY, sustained)
        new_figures = instance[f"{kind}_{n if sustained else 1}"]
        new = cost_per_million_urls(new_figures, INSTANCE_MEMORY_MB, n, sustained)
        table[key] = {"label": label, "old": old, "new": new, "ratio": old / new}
    print(
        f"\nCost per million join URLs, on demand: ${RATE_PER_GB_SECOND:.6f}/GB-s, ${RATE_PER_EXECUTION * 1e6:.2f} per "
        f"million executions (Microsoft's published rates),"
    )
    print(
        f"  at least {MIN_BILLED_SECONDS:.0f} s per activity period, then rounded up to 100 ms; free grant left out. "
        "Modelled from the figures above (bench/README.md)."
    )
    old_head, new_head = f"{OLD_MEMORY_MB} MB, {OLD_CONCURRENCY} at once", f"{INSTANCE_MEMORY_MB} MB, {n} at once"
    print(f"  {'traffic':<40}{old_head:>20}{new_head:>20}{'cheaper':>10}")
    for row in table.values():
        print(f"  {row['label']:<40}{dollars(row['old']):>20}{dollars(row['new']):>20}{row['ratio']:>9.1f}x")
    sporadic = table["sporadic"]
    per_execution = RATE_PER_EXECUTION * 1_000_000
    memory_ratio = (sporadic["old"] - per_execution) / (sporadic["new"] - per_execution)
    print(
        f"  (Sporadic calls: memory time alone is {memory_ratio:.1f}x cheaper; the ${per_execution:.2f} per million "
        "executions is the same for both, and no instance is smaller than 512 MB.)"
    )
    single = instance["single_1"]
    old_seconds = on_instance(single, OLD_MEMORY_MB)[0]
    merged = (OLD_MEMORY_MB / 1024 * RATE_PER_GB_SECOND * old_seconds + RATE_PER_EXECUTION) * 1_000_000
    print(
        f"  (If the platform billed back-to-back calls at concurrency 1 as one activity period, the old sustained "
        f"line would be {dollars(merged)}: {merged / table['sustained']['new']:.0f}x the new one.)"
    )
    return table


def dollars(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 else f"${value:.3f}"


# --- verdicts -----------------------------------------------------------------------------------------------------


def verdicts(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = bodies.verdicts(results["bodies"]) if "bodies" in results else {}
    if "batch" in results:
        for key, kind in (("batch_ids", "ids"), ("batch_links", "links")):
            value = results["batch"][kind]["round_trips"]
            target = f"<= {TARGETS[key]} round trips"
            out[key] = {"value": round(value, 2), "target": target, "met": value <= TARGETS[key]}
    if "load" in results:
        errors = results["load"]["errors"]
        out["load_errors"] = {"value": errors, "target": "0 errors at twice the pool", "met": errors == 0}
    if "instance" in results:
        memory = results["instance"]["memory"]
        target = f"< {memory['limit_mb']:.0f} MB peak"
        out["instance_memory"] = {"value": round(memory["peak_mb"], 1), "target": target, "met": memory["met"]}
        for key, minimum in COST_TARGETS.items():
            ratio = results["cost"][key.removeprefix("cost_")]["ratio"]
            out[key] = {"value": round(ratio, 1), "target": f">= {minimum:.0f}x cheaper", "met": ratio >= minimum}
    if "cold" not in results:
        return out
    cold = results["cold"]["ratio"]
    out["cold"] = {"value": round(cold, 3), "target": f"<= {TARGETS['cold']}x SDK", "met": cold <= TARGETS["cold"]}
    if "warm" in results:
        for key, name in (("warm_vs_requests", "ratio_vs_requests"), ("warm_vs_sdk", "ratio_vs_sdk")):
            value = results["warm"][name]
            out[key] = {"value": round(value, 3), "target": f"<= {TARGETS[key]}x", "met": value <= TARGETS[key]}
    ident, conn = results["identity"], results["connections"]
    out["identity"] = {
        "value": [ident["sequential_identity_calls"], ident["burst_identity_calls"]],
        "target": "1 per token lifetime; 1 for a cold burst",
        "met": ident["sequential_identity_calls"] == 1 and ident["burst_identity_calls"] == 1,
    }
    out["connections"] = {
        "value": conn["sequential_graph_connections"],
        "target": "1 pooled connection for sequential invocations",
        "met": conn["sequential_graph_connections"] == 1,
    }
    return out


def print_verdicts(results: dict[str, Any]) -> None:
    print("\nTargets:")
    for name, verdict in results["targets"].items():
        print(f"  {'met   ' if verdict['met'] else 'MISSED'} {name:<17} {verdict['value']!s:<10} ({verdict['target']})")


if __name__ == "__main__":
    raise SystemExit(main())
