"""One rate limit for log lines that come in floods: the first of each kind, then reminders.

A failure that repeats (a broker down for every client's every retry, one bad record shape
for every record of it) would write the same line hundreds of times a second. `KindLimit`
lets the first line of each kind through, then at most one per `reminder_s`, telling the
caller how many like it it held back in between.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Admitted:
    """A line let through: `held` like it were held back over the last `since_s` seconds
    (both 0 for the first of its kind)."""

    first: bool
    held: int
    since_s: float


class KindLimit:
    def __init__(self, reminder_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.reminder_s = reminder_s
        self._clock = clock
        self._lock = threading.Lock()  # callers log from several workers' threads
        self._kinds: dict[str, tuple[float, int]] = {}  # kind -> (last let through, held back)

    def admit(self, kind: str) -> Admitted | None:
        """Whether a line of `kind` may be logged now (None: held back and counted)."""
        now = self._clock()
        with self._lock:
            last = self._kinds.get(kind)
            if last is not None and now - last[0] < self.reminder_s:
                self._kinds[kind] = (last[0], last[1] + 1)
                return None
            self._kinds[kind] = (now, 0)
        if last is None:
            return Admitted(first=True, held=0, since_s=0.0)
        return Admitted(first=False, held=last[1], since_s=now - last[0])
