"""What a million join URLs cost, modelled from one instance's measured figures with Flex Consumption's billing.

The model compares the instance infra deploys with the template's earlier defaults; the rates are Microsoft's
published ones (bench/README.md, "Billing model"), so a change of rate or region is a change of constants here.
"""

from __future__ import annotations

import statistics
from typing import Any

from concurrency import BATCH_ITEMS
from instance import INSTANCE_CONCURRENCY, INSTANCE_CORES, INSTANCE_MEMORY_MB
from verdicts import Verdict

# The template's earlier defaults: 2,048 MB and Python's HTTP concurrency of 1.
OLD_MEMORY_MB, OLD_CONCURRENCY = 2048, 1
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
    return float((per_call + RATE_PER_EXECUTION) * 1_000_000 / figures["urls_per_call"])


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
    print_cost_table(table, instance)
    return table


def print_cost_table(table: dict[str, Any], instance: dict[str, Any]) -> None:
    n = INSTANCE_CONCURRENCY
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


def dollars(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 else f"${value:.3f}"


def verdicts(results: dict[str, Any]) -> dict[str, Verdict]:
    out: dict[str, Verdict] = {}
    for key, minimum in COST_TARGETS.items():
        ratio = results["cost"][key.removeprefix("cost_")]["ratio"]
        out[key] = {"value": round(ratio, 1), "target": f">= {minimum:.0f}x cheaper", "met": ratio >= minimum}
    return out
