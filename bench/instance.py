"""One Flex Consumption instance, measured: throughput, CPU per call and memory of one process running the function.

The instance is the one infra/main.bicep deploys by default (tests/test_infra.py reads INSTANCE_MEMORY_MB and
INSTANCE_CONCURRENCY from this file and checks they match), so the cost model prices what actually ships.
"""

from __future__ import annotations

import statistics
from typing import Any

from concurrency import BATCH_ITEMS
from environment import ORGANIZER_ID, graph_answering_in
from verdicts import Verdict
from worker_process import WorkerProcess

from devhost.emulator import GraphEmulator

INSTANCE_MEMORY_MB = 512
INSTANCE_CONCURRENCY = 16  # perInstanceConcurrency; PYTHON_THREADPOOL_THREAD_COUNT is at least this
# CPU cores per instance size, "typical allocations" (Microsoft Learn, "Azure Functions Flex Consumption plan
# hosting", Instance memory, as of 2025-2026); the platform adds 272 MB for itself, not billed.
INSTANCE_CORES = {512: 0.25, 2048: 1.0, 4096: 2.0}
INSTANCE_LATENCY = 0.15  # seconds every Graph answer waits: a realistic round trip to Graph
INSTANCE_CALLS = {"single": {1: 30, INSTANCE_CONCURRENCY: 20}, "batch": {1: 6, INSTANCE_CONCURRENCY: 3}}


def measure_instance(env: dict[str, str], graph: GraphEmulator) -> dict[str, Any]:
    """One process running the function as the worker does, with 1 and INSTANCE_CONCURRENCY invocations at once,
    single calls and batches of 100 distinct Teams links, Graph answering in INSTANCE_LATENCY.

    Each line is a fresh process (its peak resident memory is its own), warmed by one round of the same load
    first (token cached, connections open), with PYTHON_THREADPOOL_THREAD_COUNT as infra sets it.
    """
    links = [{"joinUrl": graph.add_meeting(ORGANIZER_ID).teams_link} for _ in range(BATCH_ITEMS)]
    print(
        f"\nOne instance: Graph answering in {INSTANCE_LATENCY * 1000:.0f} ms; one fresh GetJoinUrl process per line, "
        f"PYTHON_THREADPOOL_THREAD_COUNT={INSTANCE_CONCURRENCY}; batches are {BATCH_ITEMS} distinct Teams links...",
        flush=True,
    )
    worker_env = {**env, "PYTHON_THREADPOOL_THREAD_COUNT": str(INSTANCE_CONCURRENCY)}
    figures: dict[str, Any] = {"latency_seconds": INSTANCE_LATENCY, "items": BATCH_ITEMS}
    with graph_answering_in(graph, INSTANCE_LATENCY):
        for kind, meetings in (("single", None), ("batch", links)):
            for threads, calls in INSTANCE_CALLS[kind].items():
                answer = instance_load(worker_env, threads, calls, meetings)
                figures[f"{kind}_{threads}"] = instance_figures(answer, threads, calls, BATCH_ITEMS if meetings else 1)
    print_instance(figures)
    peak = figures[f"batch_{INSTANCE_CONCURRENCY}"]["maxrss_mb"]
    figures["memory"] = {"peak_mb": peak, "limit_mb": INSTANCE_MEMORY_MB / 2, "met": peak < INSTANCE_MEMORY_MB / 2}
    print(
        f"  Memory: {INSTANCE_CONCURRENCY} batches of {BATCH_ITEMS} in flight peak at {peak:.1f} MB for the whole "
        f"process (target: under half the {INSTANCE_MEMORY_MB} MB instance, {INSTANCE_MEMORY_MB / 2:.0f} MB)"
    )
    return figures


def instance_load(
    worker_env: dict[str, str], threads: int, calls: int, meetings: list[dict[str, str]] | None
) -> dict[str, Any]:
    """One line's load in a fresh process, after one round of the same load that is not counted."""
    worker = WorkerProcess("function", worker_env)
    try:
        worker.ask(op="load", threads=threads, calls=1, meetings=meetings)  # warm-up, not counted
        return worker.ask(op="load", threads=threads, calls=calls, meetings=meetings)
    finally:
        worker.close()


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


def print_instance(figures: dict[str, Any]) -> None:
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


def verdicts(results: dict[str, Any]) -> dict[str, Verdict]:
    memory = results["instance"]["memory"]
    target = f"< {memory['limit_mb']:.0f} MB peak"
    return {"instance_memory": {"value": round(memory["peak_mb"], 1), "target": target, "met": memory["met"]}}
