"""Memory of one instance at the HTTP concurrency infra deploys: that many batches of 100 links in flight at once,
and that many request bodies of any shape up to the body limit.

Measured as growth of this process's resident memory (VmRSS) between the function at rest and the moment every
`$batch` call of every invocation is held in the emulator together, not as time. `make bench` measures the whole
process the same way in a process of its own (bench/README.md, "One instance").
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.bodies import SHAPES
from devhost.emulator import GraphEmulator
from shared.appointment_urls import BATCH_MAX_ITEMS
from shared.graph_batch import BATCH_CONCURRENCY

from .conftest import ORGANIZER_ID, Answer

CONCURRENCY = 16  # infra/main.bicep's httpPerInstanceConcurrency (tests/test_infra.py checks they match)
# Half of the 512 MB instance is the budget for the whole process; the function's process at rest takes about 50 MB
# (bench), and 16 batches in flight add about 15 MB here (the emulator's side included). The growth allowed keeps the
# process under a quarter of the instance.
GROWTH_BUDGET_MB = 64


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status: resident memory is read from Linux's /proc")


def test_concurrent_batches_of_100_links_grow_memory_far_less_than_half_an_instance(
    get_join_url: Callable[..., Answer], configure: Callable[..., None], emulator: GraphEmulator
) -> None:
    configure(PYTHON_THREADPOOL_THREAD_COUNT=str(CONCURRENCY), GRAPH_TIMEOUT_SECONDS="5", REQUEST_DEADLINE_SECONDS="10")
    meetings = [emulator.add_meeting(ORGANIZER_ID) for _ in range(BATCH_MAX_ITEMS)]
    body = {"meetings": [{"joinUrl": m.teams_link} for m in meetings]}
    expected = [m.appointment_url for m in meetings]
    first = get_join_url("POST", body=body)  # token, pool and code paths warm; not counted
    assert [r.get("joinWebUrl") for r in first.body["results"]] == expected

    # Every $batch call of every invocation waits at the gate until all have come: each step of the batches (look
    # the links up, then ask for the join URLs) is then in flight at once, and memory is read at that moment.
    peaks: list[float] = []
    emulator.state.batch_gate = threading.Barrier(
        CONCURRENCY * BATCH_CONCURRENCY, action=lambda: peaks.append(resident_mb()), timeout=4
    )
    answers: list[Answer] = []
    at_rest = resident_mb()
    threads = [
        threading.Thread(target=lambda: answers.append(get_join_url("POST", body=body))) for _ in range(CONCURRENCY)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == CONCURRENCY
    for answer in answers:
        assert [r.get("joinWebUrl") for r in answer.body["results"]] == expected
    assert len(peaks) == 2  # both steps had every call in flight together
    growth = max(peaks) - at_rest
    assert growth < GROWTH_BUDGET_MB, f"{CONCURRENCY} batches in flight added {growth:.1f} MB"


# --- bodies under the limit ----------------------------------------------------------------------------------------


def peak_mb() -> float:
    return (
        max(
            int(line.split()[1])
            for line in Path("/proc/self/status").read_text().splitlines()
            if line.startswith(("VmHWM:", "VmRSS:"))
        )
        / 1024
    )


def settle() -> None:
    """What earlier allocations (this test's or another's) left free goes back to the system: only what is held
    counts, at rest and at the peak."""
    gc.collect()
    trim()


def trim() -> None:
    """Memory already freed goes back to the system; nothing is collected (a full collection takes tens of ms)."""
    with contextlib.suppress(OSError, AttributeError):  # glibc's, on Linux
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def reset_peak() -> None:
    """VmHWM from now on (Linux 4.0 and later)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pytest.skip("the peak resident memory cannot be reset here (/proc/self/clear_refs)")


@pytest.mark.parametrize("shape", list(SHAPES))
def test_sixteen_bodies_of_any_shape_up_to_the_limit_grow_memory_less_than_a_quarter_of_an_instance(
    get_join_url: Callable[..., Answer], emulator: GraphEmulator, shape: str
) -> None:
    """The shapes bench/bodies.py times: the hostile ones are refused before they are parsed, the largest legit
    ones are read. The bodies themselves count, as the worker holds each one it receives."""
    build = SHAPES[shape]
    get_join_url("POST", raw_body=build())  # code paths warm; not counted
    settle()
    at_rest = resident_mb()
    bodies = [build() for _ in range(CONCURRENCY)]
    trim()  # bytes built in place leave no cycles to collect, only freed buffers
    reset_peak()
    gate = threading.Barrier(CONCURRENCY)
    answers: list[Answer] = []

    def send(body: bytes) -> None:
        gate.wait()
        answers.append(get_join_url("POST", raw_body=body))

    threads = [threading.Thread(target=send, args=(bodies.pop(),)) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    growth = peak_mb() - at_rest

    assert len(answers) == CONCURRENCY
    assert growth < GROWTH_BUDGET_MB, f"{CONCURRENCY} bodies ({shape}) added {growth:.1f} MB"
    codes = {answer.body.get("error", {}).get("code") for answer in answers}
    if "accepted" in shape:
        assert "RequestTooComplex" not in codes, codes
    else:
        assert codes == {"RequestTooComplex"}, codes  # refused before it was parsed
