"""The log of records a flow step failed on (each one is dead-lettered as well).

A bug that one record shape triggers is triggered by every record of that shape: logging a
traceback for each would flood the log as librdkafka once did during outages. The first failure
of each kind (the step and the exception type) is logged with its traceback, then at most one
line per `reminder_s` with how many more there were; the dead letters keep every record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from infra.log_limit import KindLimit


class FailureLog:
    def __init__(
        self,
        logger: logging.Logger,
        reminder_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.reminder_s = reminder_s
        self._limit = KindLimit(reminder_s, clock)  # a step's closure may serve several workers

    def failed(self, exc: BaseException, step: str, where: str = "") -> None:
        """`exc` was raised on one record in `step`; `where` says which record."""
        what = f"{step} failed on {where}" if where else f"{step} failed"
        admitted = self._limit.admit(f"{step}: {type(exc).__name__}")
        if admitted is None:
            return
        if admitted.first:
            self.logger.error("%s; dead-lettered", what, exc_info=exc)
        else:
            self.logger.error(
                "%s: %s: %s; dead-lettered (%d more like it in the last %.0f s)",
                what,
                type(exc).__name__,
                exc,
                admitted.held,
                admitted.since_s,
            )
