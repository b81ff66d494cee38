"""`make bench`: GetJoinUrl side by side with the official msgraph-sdk and a raw `requests` call, in one run.

Measures cold start, warm cost, identity-endpoint calls, Graph connections, batch wall time in Graph round trips
and errors at twice the connection pool against one local fake of Graph and the managed-identity endpoint
(devhost.emulator), then what one Flex Consumption instance does and what a million join URLs cost on it, and
prints every figure and ratio. See bench/README.md for what each one means.

    .venv-3.11/bin/python bench/run.py [--cold-runs 21] [--rounds 20] [--calls 200] [--app-root PATH] [--strict]
                                  [--skip-warm] [--concurrency-only] [--instance-only] [--bodies-only]
                                  [--wire gzip+chunked]

The contenders run in a virtualenv of their own, .bench-venv (requirements.txt + msgraph-sdk), made on first use;
msgraph-sdk never enters the function's requirements. `--app-root` measures another copy of the app (a scratch
worktree with a proposed change) against the same SDK figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

# devhost and shared, which the bench's modules import, sit in the repository root beside bench/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bodies
import cold
import concurrency
import cost
import identity_and_connections
import instance
import warm
from environment import BENCH, ROOT, VENV_PYTHON, ensure_venv, environment, print_header, start_emulators
from verdicts import Judge, judge, print_verdicts

from devhost.emulator.wire import WIRES

RESULTS = BENCH / "results" / "last.json"

# Each measurement's targets, in the order the verdicts print, under the results key each one needs: a measurement
# that sets results[key] in main() and offers a verdicts(results) adds one line here.
JUDGES: tuple[tuple[str, Judge], ...] = (
    ("batch", concurrency.batch_verdicts),
    ("load", concurrency.load_verdicts),
    ("instance", instance.verdicts),
    ("cost", cost.verdicts),
    ("cold", cold.verdicts),
    ("warm", warm.verdicts),
    ("identity", identity_and_connections.verdicts),
    ("bodies", bodies.verdicts),
)


def main() -> int:
    args = parse_args()
    if args.bodies_only:
        return bodies.alone(args.app_root)
    started = time.monotonic()
    app_root = args.app_root.resolve()
    ensure_venv()
    identity, graph, env = start_emulators(app_root, args.wire)
    results: dict[str, Any] = {"environment": environment(app_root, args.wire)}
    print_header(results["environment"])
    try:
        if not (args.concurrency_only or args.instance_only):
            results["cold"] = cold.measure_cold(env, args.cold_runs)
            if not args.skip_warm:
                results["warm"] = warm.measure_warm(env, args.rounds, args.calls)
            results["identity"], results["connections"] = identity_and_connections.measure_identity_and_connections(
                env, identity, graph
            )
            results["bodies"] = bodies.measure(env, str(VENV_PYTHON))
        if not args.instance_only:
            results["batch"] = concurrency.measure_batches(env, graph)
            results["load"] = concurrency.measure_load(env, graph)
        if not args.concurrency_only:
            results["instance"] = instance.measure_instance(env, graph)
            results["cost"] = cost.cost_table(results["instance"])
    finally:
        identity.stop()
        graph.stop()
    results["targets"] = judge(results, JUDGES)
    results["seconds"] = round(time.monotonic() - started, 1)
    print_verdicts(results["targets"])
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nWhole run: {results['seconds']} s. Figures saved to {RESULTS.relative_to(ROOT)}.")
    missed = [name for name, verdict in results["targets"].items() if not verdict["met"]]
    return 1 if args.strict and missed else 0


def parse_args() -> argparse.Namespace:
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
    parser.add_argument("--bodies-only", action="store_true", help="only 16 request bodies at once (bench/bodies.py)")
    parser.add_argument(
        "--wire", choices=WIRES, default=WIRES[0], help="how the emulators send answers (default: as Graph does)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(main())
