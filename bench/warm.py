"""Warm cost: what one call costs each contender once its token is cached and its connection open.

One long-lived process per contender, so none pays for another's imports or garbage, taking turns in rounds whose
order rotates; the ratios are of medians, with the range of the per-round ratios shown for noise.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from verdicts import Verdict
from worker_process import WorkerProcess

WARM_TARGETS = {
    "warm_vs_requests": 1.00,  # GetJoinUrl warm / raw requests warm, at most
    "warm_vs_sdk": 0.75,  # GetJoinUrl warm / SDK warm, at most
}
WARM_KINDS = ("function", "requests", "sdk", "requests_floor")
WARM_LABELS = {
    "function": "GetJoinUrl invocation (HttpRequest -> main -> response)",
    "requests": "raw requests: reused Session().get + .json(), token ready",
    "sdk": "msgraph-sdk: request chain built + awaited, warm client",
    "requests_floor": "(floor) the same raw call with trust_env=False",
}


def measure_warm(env: dict[str, str], rounds: int, calls: int) -> dict[str, Any]:
    print(f"\nWarm: {rounds} interleaved rounds of {calls} calls per contender, one process each...", flush=True)
    times, round_medians = warm_rounds(env, rounds, calls)
    warm: dict[str, Any] = {kind: per_call(times[kind]) for kind in WARM_KINDS}
    fn, raw, sdk, floor = (warm[kind]["median_us"] for kind in WARM_KINDS)
    warm["ratio_vs_requests"] = fn / raw
    warm["ratio_vs_sdk"] = fn / sdk
    warm["ratio_vs_floor"] = fn / floor
    warm["round_ratio_range_vs_requests"] = ratio_range(round_medians["function"], round_medians["requests"])
    warm["round_ratio_range_vs_sdk"] = ratio_range(round_medians["function"], round_medians["sdk"])
    warm["rounds"], warm["calls_per_round"] = rounds, calls
    print_warm(warm)
    return warm


def warm_rounds(env: dict[str, str], rounds: int, calls: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Every call's microseconds per contender, and each round's median per contender."""
    workers = {kind: WorkerProcess(kind, env) for kind in WARM_KINDS}
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
    return times, round_medians


def print_warm(warm: dict[str, Any]) -> None:
    print(f"  {'per call, median over all rounds':<60}{'median us':>10}{'p10 us':>9}{'p90 us':>9}")
    for kind in WARM_KINDS:
        w = warm[kind]
        print(f"  {WARM_LABELS[kind]:<60}{w['median_us']:>10.0f}{w['p10_us']:>9.0f}{w['p90_us']:>9.0f}")
    low, high = warm["round_ratio_range_vs_requests"]
    print(
        f"  Warm ratio GetJoinUrl / raw requests: {warm['ratio_vs_requests']:.3f}x "
        f"(per-round {low:.2f}-{high:.2f}; target <= {WARM_TARGETS['warm_vs_requests']:.2f}x)"
    )
    low, high = warm["round_ratio_range_vs_sdk"]
    print(
        f"  Warm ratio GetJoinUrl / msgraph-sdk: {warm['ratio_vs_sdk']:.3f}x "
        f"(per-round {low:.2f}-{high:.2f}; target <= {WARM_TARGETS['warm_vs_sdk']:.2f}x)"
    )
    print(f"  (GetJoinUrl / the trust_env=False floor: {warm['ratio_vs_floor']:.3f}x, informational)")
    print("  Reading of 'raw requests': one requests.Session() made once and reused with its defaults (trust_env on,")
    print("  no proxy variables set, as on Azure), a token fetched beforehand, status checked, JSON 'value' read.")
    print("  GetJoinUrl's figure includes its INFO log line (root logger at INFO, as in the worker).")


def per_call(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"median_us": statistics.median(ordered), "p10_us": pick(0.10), "p90_us": pick(0.90), "n": len(ordered)}


def ratio_range(ours: Sequence[float], theirs: Sequence[float]) -> list[float]:
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return [min(ratios), max(ratios)]


def verdicts(results: dict[str, Any]) -> dict[str, Verdict]:
    out: dict[str, Verdict] = {}
    for key, name in (("warm_vs_requests", "ratio_vs_requests"), ("warm_vs_sdk", "ratio_vs_sdk")):
        value = results["warm"][name]
        target = WARM_TARGETS[key]
        out[key] = {"value": round(value, 3), "target": f"<= {target}x", "met": value <= target}
    return out
