"""Sixteen bodies at once, each up to the function's body limit: how long until all are answered, and how much the
process grows meanwhile (target: all answered within 5 s, growth under 64 MB).

    .venv-3.11/bin/python bench/bodies.py [--app-root PATH]     # alone, with its own emulator
    make bench                                                  # as part of the whole run (bench/run.py)

Each shape runs in a fresh process of its own (`--child SHAPE`), which loads GetJoinUrl as the worker does, answers
one body of the shape first (code paths and caches warm; not counted), builds 16 bodies (they count: the worker
holds each body it receives), then releases 16 threads at once, each calling `main` with one. Growth is the peak
resident memory (VmHWM, reset through /proc/self/clear_refs once the bodies are built) above the resident memory
at rest, before they were.
`--app-root` measures another copy of the app, such as one exported from an earlier commit.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from verdicts import Verdict  # bench/, this script's folder

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CONCURRENCY = 16  # infra/main.bicep's httpPerInstanceConcurrency (tests/test_infra.py holds them equal)
TARGET_SECONDS = 5.0
TARGET_GROWTH_MB = 64.0
LIMIT = 1024 * 1024  # the function's body limit (shared/json_body.py's BODY_MAX_BYTES), fixed here so an older
# copy of the app measured with --app-root gets the same bodies
ORGANIZER = "3f9b2c1d-4e5a-4b6c-8d7e-9f0a1b2c3d4e"


def _fill(head: bytes, piece: bytes, tail: bytes, last: bytes = b"") -> bytes:
    """head, as many copies of piece as fit under the limit, then last and tail."""
    count = (LIMIT - len(head) - len(tail) - len(last)) // len(piece)
    return b"".join((head, piece * count, last, tail))


def _text(first: str) -> bytes:
    """One long string, after one character (or escape) that sets the width Python stores all of it in."""
    return _fill(b'{"meetingId": "x", "notes": "' + first.encode(), b"a", b'"}')


def _largest_batch() -> bytes:
    """The largest batch the function reads: 100 links of 2,048 characters, each with a 113-character organizer."""
    link = "https://teams.microsoft.com/l/meetup-join/"
    organizer = "a" * 64 + "@" + "b" * 40 + ".example"
    items = [{"joinUrl": link + f"{i:03}" + "x" * (2048 - len(link) - 3), "organizerId": organizer} for i in range(100)]
    return json.dumps({"meetings": items}, indent=2).encode()


def _webhook() -> bytes:
    """A call with a webhook's own fields beside the link: 75 bookings of 20 fields the function does not read,
    3,081 JSON values in all."""
    extras = [{f"field{n}": f"value {n}" for n in range(20)} for _ in range(75)]
    link = "https://teams.microsoft.com/meet/123456789"
    return json.dumps({"joinUrl": link, "organizerId": ORGANIZER, "bookings": extras}).encode()


# The hostile shapes, then the largest bodies a caller may rightly send.
SHAPES: dict[str, Callable[[], bytes]] = {
    "nested 14 deep, beside a meeting": lambda: _fill(
        b'{"meetingId": "x", "x": [', b"[[[[[[[[[[[[{}]]]]]]]]]]]],", b"]}", b"{}"
    ),
    "nested 14 deep, inside meetings": lambda: _fill(b'{"meetings": [', b"[[[[[[[[[[[[{}]]]]]]]]]]]],", b"]}", b"{}"),
    "350,000 {} in meetings": lambda: _fill(b'{"meetings": [', b"{},", b"]}", b"{}"),
    "short strings in a list": lambda: _fill(b'{"meetingId": "x", "x": [', b'"ab",', b"]}", b'"ab"'),
    "a 1 MiB number (accepted, never converted)": lambda: _fill(b'{"meetingId": "x", "n": 1.', b"1", b"e-999999999}"),
    "one emoji, then 1 MiB of text": lambda: _text("\U0001f600"),
    "one \\ud83d\\ude00 escape, then text": lambda: _text("\\ud83d\\ude00"),
    "one euro sign, then text": lambda: _text("\u20ac"),
    "1 MiB of Latin-1 text (accepted)": lambda: _text("\u00e9"),
    "largest batch (accepted)": _largest_batch,
    "webhook fields (accepted)": _webhook,
}


def resident_kb(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))


def child(shape: str) -> dict[str, Any]:
    """In a fresh process: 16 bodies of the shape at once; seconds until all were answered, growth in MB."""
    import azure.functions as func

    sys.path.insert(0, os.environ.get("BENCH_APP_ROOT", str(ROOT)))  # the worker puts the app root on sys.path
    from devhost.host import load_function

    main, _ = load_function("GetJoinUrl")
    build = SHAPES[shape]

    def call(body: bytes) -> int:
        request = func.HttpRequest(
            method="POST", url="http://localhost:7071/api/GetJoinUrl", headers={}, params={}, body=body
        )
        return int(main(request).status_code)

    def settle() -> None:
        """What earlier allocations left free goes back to the system: only what is held counts."""
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)

    first = call(build())
    settle()
    at_rest = resident_kb()
    bodies = [build() for _ in range(CONCURRENCY)]
    settle()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # VmHWM from here on
    gate = threading.Barrier(CONCURRENCY)
    statuses: list[int] = []
    ends: list[float] = []

    def run(body: bytes) -> None:
        gate.wait()
        statuses.append(call(body))
        ends.append(time.perf_counter())

    pool = [threading.Thread(target=run, args=(bodies.pop(),)) for _ in range(CONCURRENCY)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return {
        "status": first,
        "statuses": sorted(set(statuses)),
        "seconds": max(ends) - started,
        "growth_mb": (max(resident_kb("VmHWM"), resident_kb()) - at_rest) / 1024,
        "body_bytes": len(build()),
        "at_rest_mb": at_rest / 1024,
    }


def measure(env: dict[str, str], python: str = sys.executable) -> dict[str, Any]:
    """Every shape, each in a fresh process with `env` (the app settings, BENCH_APP_ROOT), one after another."""
    print(
        f"\nBodies: {CONCURRENCY} at once, each up to {LIMIT:,} bytes, one fresh process per shape "
        f"(targets: all answered within {TARGET_SECONDS:.0f} s, growth under {TARGET_GROWTH_MB:.0f} MB)...",
        flush=True,
    )
    figures: dict[str, Any] = {}
    print(f"  {'shape':<38}{'bytes':>11}{'status':>8}{'all answered':>14}{'growth':>10}")
    for shape in SHAPES:
        done = subprocess.run(
            [python, __file__, "--child", shape], env=env, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit(f"bench: the bodies child for {shape!r} failed")
        shown = figures[shape] = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"  {shape:<38}{shown['body_bytes']:>11,}{shown['status']:>8}{shown['seconds']:>12.2f} s"
            f"{shown['growth_mb']:>7.1f} MB"
        )
    slowest = max(f["seconds"] for f in figures.values())
    largest = max(f["growth_mb"] for f in figures.values())
    figures["worst"] = {"seconds": slowest, "growth_mb": largest}
    print(f"  Worst: all {CONCURRENCY} answered in {slowest:.2f} s; grew by {largest:.1f} MB.")
    return figures


def verdicts(results: dict[str, Any]) -> dict[str, Verdict]:
    worst = results["bodies"]["worst"]
    return {
        "bodies_time": {
            "value": round(worst["seconds"], 2),
            "target": f"< {TARGET_SECONDS:.0f} s for {CONCURRENCY} bodies",
            "met": worst["seconds"] < TARGET_SECONDS,
        },
        "bodies_memory": {
            "value": round(worst["growth_mb"], 1),
            "target": f"< {TARGET_GROWTH_MB:.0f} MB growth",
            "met": worst["growth_mb"] < TARGET_GROWTH_MB,
        },
    }


def alone(app_root: Path) -> int:
    """Without bench/run.py: an emulator of Graph and the identity endpoint of its own, this interpreter."""
    sys.path.insert(0, str(ROOT))
    from verdicts import print_verdicts  # bench/, this script's folder

    from devhost.emulator import GraphEmulator

    emulator = GraphEmulator().start()
    try:
        emulator.add_meeting(ORGANIZER)
        env = {**os.environ, **emulator.settings(), "BENCH_APP_ROOT": str(app_root.resolve())}
        for name in ("DEFAULT_ORGANIZER_ID", "ALLOWED_ORGANIZER_IDS", "AZURE_CLIENT_ID"):
            env.pop(name, None)
        met = verdicts({"bodies": measure(env)})
    finally:
        emulator.stop()
    print_verdicts(met)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-root", type=Path, default=ROOT, help="the app to measure (default: this repo)")
    parser.add_argument("--child", choices=SHAPES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
    else:
        raise SystemExit(alone(args.app_root))
