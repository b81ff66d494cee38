"""The clock tests put in shared/app.py: real time plus every wait it skipped.

Its `sleep` returns at once, moves the clock on by the wait and records it in `waits`, so a test asserts the waits
exactly ("waited 30 s, then answered 200") instead of waiting them; `advance` moves time on as if it had passed
(a token growing old). Real time still runs underneath, so a socket that times out against a hanging or trickling
emulator counts against a deadline as it would in production. Waits taken on several threads at once add up, as if
taken one after the other: a deadline looks at least as spent as it would be, never less.
"""

from __future__ import annotations

import threading
import time

from shared.clock import Clock


class VirtualClock(Clock):
    def __init__(self) -> None:
        self.waits: list[float] = []
        self._skipped = 0.0
        self._lock = threading.Lock()
        super().__init__(self._monotonic, self._wall, self._sleep)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._skipped += seconds

    def _monotonic(self) -> float:
        return time.monotonic() + self._skipped

    def _wall(self) -> float:
        return time.time() + self._skipped

    def _sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
            self._skipped += max(seconds, 0.0)
