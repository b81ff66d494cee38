"""Targets met or missed: each measurement judges its own figures, and the run prints and saves the verdicts together.

A measurement module offers a `verdicts(results)` function (a `Judge`); bench/run.py lists the judges in the order
their lines print, each under the results key it needs, so a new measurement adds its target in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypedDict


class Verdict(TypedDict):
    """One target's line: the figure measured (as saved in the results file), the target in words, met or not."""

    value: Any
    target: str
    met: bool


Judge = Callable[[dict[str, Any]], dict[str, Verdict]]


def judge(results: dict[str, Any], judges: Sequence[tuple[str, Judge]]) -> dict[str, Verdict]:
    """Every judge whose results key the run measured, in order: a run with fewer parts gives fewer lines."""
    out: dict[str, Verdict] = {}
    for key, verdicts in judges:
        if key in results:
            out.update(verdicts(results))
    return out


def print_verdicts(targets: dict[str, Verdict]) -> None:
    print("\nTargets:")
    for name, verdict in targets.items():
        print(f"  {'met   ' if verdict['met'] else 'MISSED'} {name:<17} {verdict['value']!s:<10} ({verdict['target']})")
