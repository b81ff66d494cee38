"""Batches and load: the `$batch` calls of a batch go out side by side, and the connection pool holds under load.

A batch's wall time is counted in Graph round trips (Graph answering after a set latency), so the figure does not
depend on the machine's speed; the load run counts errors, an exact figure, at twice the calls the pool holds.
"""

from __future__ import annotations

import statistics
from typing import Any

from environment import ORGANIZER_ID, graph_answering_in
from verdicts import Verdict
from worker_process import WorkerProcess

from devhost.emulator import GraphEmulator
from shared.graph_batch import BATCH_CONCURRENCY, connections_needed

BATCH_TARGETS = {
    "batch_ids": 1.3,  # wall time of a batch of 100 meeting IDs, in Graph round trips, at most
    "batch_links": 2.6,  # the same for 100 Teams links (a lookup, then the join URL)
}
BATCH_LATENCY = 0.2  # seconds every Graph answer waits in the batch runs, as a round trip to Graph would
BATCH_ITEMS = 100
BATCH_RUNS = 5
LOAD_LATENCY = 0.05  # seconds every Graph answer waits in the load run
LOAD_WORKER_THREADS = 6  # PYTHON_THREADPOOL_THREAD_COUNT for the load run: the worker's default on 2 CPUs
LOAD_CALLS = 10  # single calls per thread in the load run


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
        "links": [{"joinUrl": m.teams_link} for m in distinct],
    }
    worker = WorkerProcess("function", env)
    figures: dict[str, Any] = {"latency_seconds": BATCH_LATENCY, "items": BATCH_ITEMS}
    try:
        with graph_answering_in(graph, BATCH_LATENCY):
            worker.ask(op="calls", n=1, timed=False)  # token cached, connection open
            for kind, meetings in kinds.items():
                runs = [batch_seconds(worker, kind, meetings) for _ in range(BATCH_RUNS)]
                median = statistics.median(runs)
                figures[kind] = {"median_seconds": median, "round_trips": median / BATCH_LATENCY, "runs": runs}
    finally:
        worker.close()
    print_batches(figures)
    return figures


def batch_seconds(worker: WorkerProcess, kind: str, meetings: list[dict[str, str]] | None) -> float:
    """One invocation's wall time: a single call when `meetings` is None, else a batch that must not fail an item."""
    if meetings is None:
        return float(worker.ask(op="calls", n=1, timed=True)["times_us"][0] / 1e6)
    answer = worker.ask(op="batch", meetings=meetings)
    if answer["failed_items"]:
        raise SystemExit(f"bench: {answer['failed_items']} items of a batch of {kind} failed")
    return float(answer["seconds"])


def print_batches(figures: dict[str, Any]) -> None:
    labels = {
        "single": "one meeting by ID (a single call)",
        "ids": f"{BATCH_ITEMS} meeting IDs (floor: 1 round trip)",
        "links": f"{BATCH_ITEMS} Teams links (floor: 2 round trips)",
    }
    print(f"  {'one invocation, median':<48}{'wall ms':>9}{'round trips':>13}")
    for kind, label in labels.items():
        print(f"  {label:<48}{figures[kind]['median_seconds'] * 1000:>9.0f}{figures[kind]['round_trips']:>13.2f}")
    print(
        f"  Targets: {BATCH_ITEMS} IDs <= {BATCH_TARGETS['batch_ids']} round trips, {BATCH_ITEMS} links <= "
        f"{BATCH_TARGETS['batch_links']} (the $batch calls of each step go out side by side)."
    )


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
    worker = WorkerProcess("function", {**env, "PYTHON_THREADPOOL_THREAD_COUNT": str(LOAD_WORKER_THREADS)})
    try:
        with graph_answering_in(graph, LOAD_LATENCY):
            worker.ask(op="calls", n=1, timed=False)
            answer = worker.ask(op="load", threads=threads, calls=LOAD_CALLS)
    finally:
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


def batch_verdicts(results: dict[str, Any]) -> dict[str, Verdict]:
    out: dict[str, Verdict] = {}
    for key, kind in (("batch_ids", "ids"), ("batch_links", "links")):
        value = results["batch"][kind]["round_trips"]
        target = f"<= {BATCH_TARGETS[key]} round trips"
        out[key] = {"value": round(value, 2), "target": target, "met": value <= BATCH_TARGETS[key]}
    return out


def load_verdicts(results: dict[str, Any]) -> dict[str, Verdict]:
    errors = results["load"]["errors"]
    return {"load_errors": {"value": errors, "target": "0 errors at twice the pool", "met": errors == 0}}
