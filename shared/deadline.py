"""The invocation's time budget: every wait and socket timeout is cut to what is left of it."""

from __future__ import annotations

from .clock import SYSTEM_CLOCK, Clock

RESERVE_SECONDS = 0.25  # kept back after a wait, for the request that follows it


class Deadline:
    def __init__(self, seconds: float, clock: Clock = SYSTEM_CLOCK) -> None:
        self._monotonic = clock.monotonic
        self.started = self._monotonic()
        self.expires = self.started + seconds

    def remaining(self) -> float:
        return self.expires - self._monotonic()

    def elapsed(self) -> float:
        return self._monotonic() - self.started

    def fits(self, wait: float) -> bool:
        """Whether waiting `wait` seconds still leaves time for a request afterwards."""
        return wait + RESERVE_SECONDS < self.remaining()
