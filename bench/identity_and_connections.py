"""Identity-endpoint calls and Graph connections, counted by the emulators: what a process reuses between calls.

Exact counts, not ratios, so they do not move with the shared machine's noise: one token per token lifetime (one
identity call even for a cold burst), and one pooled Graph connection for invocations that come one after another.
"""

from __future__ import annotations

from typing import Any

from verdicts import Verdict
from worker_process import WorkerProcess

from devhost.emulator import GraphEmulator

SEQUENTIAL = 200  # invocations after the first, in one process and one token lifetime
BURST_THREADS = 16


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
    print(
        f"\nIdentity and connections: fresh GetJoinUrl processes, {SEQUENTIAL + 1} sequential invocations, "
        f"then a cold burst of {BURST_THREADS} threads...",
        flush=True,
    )
    worker = WorkerProcess("function", env)
    try:
        before = counts(identity, graph)
        worker.ask(op="calls", n=1, timed=False)
        first = delta(counts(identity, graph), before)
        worker.ask(op="calls", n=SEQUENTIAL, timed=False)
        total = delta(counts(identity, graph), before)
    finally:
        worker.close()
    worker = WorkerProcess("function", env)
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
        "sequential_invocations": SEQUENTIAL + 1,
        "sequential_identity_calls": total["identity_requests"],
        "burst_threads": BURST_THREADS,
        "burst_identity_calls": burst["identity_requests"],
    }
    connection_figures = {
        "sequential_invocations": SEQUENTIAL + 1,
        "sequential_graph_requests": total["graph_requests"],
        "sequential_graph_connections": total["graph_connections"],
        "first_invocation_graph_connections": first["graph_connections"],
        "burst_graph_connections": burst["graph_connections"],
    }
    print_counts(total, burst)
    return identity_figures, connection_figures


def print_counts(total: dict[str, int], burst: dict[str, int]) -> None:
    print(
        f"  Identity-endpoint calls, {SEQUENTIAL + 1} sequential invocations in one token lifetime: "
        f"{total['identity_requests']} (target 1)"
    )
    print(f"  Identity-endpoint calls, cold burst of {BURST_THREADS} threads: {burst['identity_requests']} (target 1)")
    print(
        f"  Graph connections, {SEQUENTIAL + 1} sequential invocations: {total['graph_connections']} "
        f"for {total['graph_requests']} Graph requests (target 1)"
    )
    print(
        f"  (the burst's {BURST_THREADS} concurrent calls opened {burst['graph_connections']} Graph connections, "
        "one per request in flight, all pooled)"
    )


def verdicts(results: dict[str, Any]) -> dict[str, Verdict]:
    ident, conn = results["identity"], results["connections"]
    return {
        "identity": {
            "value": [ident["sequential_identity_calls"], ident["burst_identity_calls"]],
            "target": "1 per token lifetime; 1 for a cold burst",
            "met": ident["sequential_identity_calls"] == 1 and ident["burst_identity_calls"] == 1,
        },
        "connections": {
            "value": conn["sequential_graph_connections"],
            "target": "1 pooled connection for sequential invocations",
            "met": conn["sequential_graph_connections"] == 1,
        },
    }
