"""shared/invocation.py, deadline.py and clock.py: each invocation's client-request-id and Accept-Language, and its
deadline on the process's clock: the system's in production, the virtual one in tests (tests/virtual_clock.py)."""

from __future__ import annotations

import time
import uuid

import pytest

from devhost.emulator.state import Fault
from shared import app
from shared.clock import SYSTEM_CLOCK
from shared.deadline import RESERVE_SECONDS, Deadline
from shared.invocation import Invocation
from tests.conftest import ORGANIZER_ID, by_id
from tests.virtual_clock import VirtualClock

# --- the IDs and language it carries ---------------------------------------------------------------------------------


def test_accept_language_and_client_request_id_pass_through(get_join_url, meeting, emulator):
    request_id = str(uuid.uuid4())
    answer = get_join_url(
        params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID},
        headers={"client-request-id": request_id, "Accept-Language": "fr-FR"},
    )
    assert answer.headers["client-request-id"] == request_id
    sent = emulator.graph_calls()[0].headers
    assert sent["client-request-id"] == request_id
    assert sent["Accept-Language"] == "fr-FR"


def test_a_client_request_id_is_made_when_none_or_junk_is_given(get_join_url, meeting, emulator):
    answer = get_join_url(
        params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID},
        headers={"client-request-id": "not a guid\r\nX-Evil: 1"},
    )
    made = answer.headers["client-request-id"]
    assert uuid.UUID(made) and made == emulator.graph_calls()[0].headers["client-request-id"]


# --- the deadline, on the process's clock ----------------------------------------------------------------------------


def test_production_reads_and_waits_on_the_time_modules_own_functions():
    """No wrapper between a deadline and time.monotonic: the seam costs the hot path nothing."""
    assert (SYSTEM_CLOCK.monotonic, SYSTEM_CLOCK.time, SYSTEM_CLOCK.sleep) == (time.monotonic, time.time, time.sleep)
    assert Invocation.start("GetJoinUrl", {}, 25.0).deadline.remaining() > 24


def test_a_deadline_runs_on_the_clock_it_is_given_and_keeps_time_for_a_request_after_a_wait(clock):
    deadline = Deadline(3.0, clock)
    clock.sleep(1.0)  # returns at once, and the clock has moved on
    assert deadline.elapsed() == pytest.approx(1.0, abs=0.5) and deadline.remaining() == pytest.approx(2.0, abs=0.5)
    assert deadline.fits(2.0 - RESERVE_SECONDS - 0.5) and not deadline.fits(2.0 - RESERVE_SECONDS + 0.5)
    clock.advance(5.0)
    assert deadline.remaining() < 0
    assert clock.waits == [1.0]  # advancing is not a wait


def test_every_invocation_runs_on_the_clock_the_process_holds(get_join_url, meeting, emulator, clock):
    """The test's virtual clock is the process's (app.use_clock), so GetJoinUrl's wait before a retry is recorded, and
    putting in a clock forgets the Graph client built on the one before."""
    assert app.clock() is clock
    emulator.state.graph_faults.append(Fault(status=503, retry_after="2"))
    assert get_join_url(params=by_id(meeting)).status == 200
    assert clock.waits == [2.0]
    built = app.components()
    app.use_clock(VirtualClock())
    assert app.components() is not built
