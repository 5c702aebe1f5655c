"""The log of records a flow step failed on (each one is dead-lettered as well).

A bug that one record shape triggers is triggered by every record of that shape: logging a
traceback for each would flood the log as librdkafka once did during outages. The first failure
of each kind (the step and the exception type) is logged with its traceback, then at most one
line per `reminder_s` with how many more there were; the dead letters keep every record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class FailureLog:
    def __init__(
        self,
        logger: logging.Logger,
        reminder_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.reminder_s = reminder_s
        self._clock = clock
        self._lock = threading.Lock()  # a step's closure may serve several workers
        self._kinds: dict[str, tuple[float, int]] = {}  # kind -> (last logged at, held back)

    def failed(self, exc: BaseException, step: str, where: str = "") -> None:
        """`exc` was raised on one record in `step`; `where` says which record."""
        kind = f"{step}: {type(exc).__name__}"
        what = f"{step} failed on {where}" if where else f"{step} failed"
        now = self._clock()
        with self._lock:
            last = self._kinds.get(kind)
            if last is not None and now - last[0] < self.reminder_s:
                self._kinds[kind] = (last[0], last[1] + 1)
                return
            self._kinds[kind] = (now, 0)
        if last is None:
            self.logger.error("%s; dead-lettered", what, exc_info=exc)
        else:
            self.logger.error(
                "%s: %s: %s; dead-lettered (%d more like it in the last %.0f s)",
                what,
                type(exc).__name__,
                exc,
                last[1],
                now - last[0],
            )
