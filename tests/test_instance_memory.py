"""Memory of one instance at the HTTP concurrency infra deploys: that many batches of 100 links in flight at once.

Measured as growth of this process's resident memory (VmRSS) between the function at rest and the moment every
`$batch` call of every invocation is held in the emulator together, not as time. `make bench` measures the whole
process the same way in a process of its own (bench/README.md, "One instance").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from devhost.emulator import GraphEmulator
from shared.graph_batch import BATCH_CONCURRENCY
from shared.join_links import BATCH_MAX_ITEMS

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
    call: Callable[..., Answer], configure: Callable[..., None], emulator: GraphEmulator
) -> None:
    configure(PYTHON_THREADPOOL_THREAD_COUNT=str(CONCURRENCY), GRAPH_TIMEOUT_SECONDS="5", REQUEST_DEADLINE_SECONDS="10")
    meetings = [emulator.add_meeting(ORGANIZER_ID) for _ in range(BATCH_MAX_ITEMS)]
    body = {"meetings": [{"joinUrl": m.join_web_url} for m in meetings]}
    expected = [m.appointment_url for m in meetings]
    first = call("POST", body=body)  # token, pool and code paths warm; not counted
    assert [r.get("joinWebUrl") for r in first.body["results"]] == expected

    # Every $batch call of every invocation waits at the gate until all have come: each step of the batches (look
    # the links up, then ask for the join URLs) is then in flight at once, and memory is read at that moment.
    peaks: list[float] = []
    emulator.state.batch_gate = threading.Barrier(
        CONCURRENCY * BATCH_CONCURRENCY, action=lambda: peaks.append(resident_mb()), timeout=4
    )
    answers: list[Answer] = []
    at_rest = resident_mb()
    threads = [threading.Thread(target=lambda: answers.append(call("POST", body=body))) for _ in range(CONCURRENCY)]
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
