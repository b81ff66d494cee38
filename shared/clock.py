"""Where the function reads the time and waits: one clock per process (shared/app.py), so that tests move time on
instead of waiting for it.

`monotonic` measures deadlines, `time` (seconds since the epoch) is compared with token expiry, and `sleep` is the
wait before a retry. Each is a plain attribute holding a function, and SYSTEM_CLOCK's are the time module's own: a
reading costs what `time.monotonic()` costs, and production runs as it would without the seam.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    __slots__ = ("monotonic", "sleep", "time")

    def __init__(
        self,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.monotonic = monotonic
        self.time = wall
        self.sleep = sleep


SYSTEM_CLOCK = Clock()
