"""Cold start: fresh processes from their first import to the first answer, GetJoinUrl against msgraph-sdk.

Each contender is a script of its own (bench/cold_*.py) that prints one JSON line; the contenders run interleaved,
in a rotating order, so a busy spell on the shared machine falls on every side alike.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from environment import BENCH, VENV_PYTHON
from verdicts import Verdict

COLD_TARGET = 0.36  # GetJoinUrl cold / SDK cold, at most
MB = 1024.0


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
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def measure_cold(env: dict[str, str], runs: int) -> dict[str, Any]:
    print(f"\nCold: {runs} fresh processes per contender, interleaved (one warm-up each first)...", flush=True)
    for kind in COLD_KINDS:
        run_cold(kind, env)
    samples: dict[str, list[dict[str, float]]] = {kind.name: [] for kind in COLD_KINDS}
    for run in range(runs):
        order = COLD_KINDS[run % len(COLD_KINDS) :] + COLD_KINDS[: run % len(COLD_KINDS)]
        for kind in order:
            samples[kind.name].append(run_cold(kind, env))
    cold = cold_figures(samples)
    cold["runs"] = runs
    print_cold(cold)
    return cold


def cold_figures(samples: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Each contender's median of every field and its range of totals, then the ratios to the SDK."""
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
    return cold


def print_cold(cold: dict[str, Any]) -> None:
    fn, sdk, sdk_w, deps = cold["function"], cold["sdk"], cold["sdk_in_worker"], cold["dependencies"]
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
        rss = f"{figures['maxrss_kb'] / MB:.1f} MB"
        print(f"  {label:<56}{figures['total_ms']:>9.1f}  {split:<22}{spread:<15}{rss:>9}")
    print(
        f"  GetJoinUrl's process had {fn['rss_at_start_kb'] / MB:.1f} MB resident when its clock started "
        f"(interpreter + azure.functions); it added {(fn['maxrss_kb'] - fn['rss_at_start_kb']) / MB:.1f} MB."
    )
    print(f"  Cold ratio GetJoinUrl / msgraph-sdk: {cold['ratio']:.3f}x (target <= {COLD_TARGET:.2f}x)")
    print(f"  (against the SDK in a worker-like interpreter: {cold['ratio_vs_sdk_in_worker']:.3f}x, informational)")
    print(
        f"  (importing GetJoinUrl's two dependencies alone: {cold['dependencies_ratio']:.3f}x of the SDK; GetJoinUrl's "
        f"whole cold path is {fn['total_ms'] - deps['total_ms']:+.1f} ms from that)"
    )


def verdicts(results: dict[str, Any]) -> dict[str, Verdict]:
    cold = results["cold"]["ratio"]
    return {"cold": {"value": round(cold, 3), "target": f"<= {COLD_TARGET}x SDK", "met": cold <= COLD_TARGET}}
