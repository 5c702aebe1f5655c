"""Governed ingest, the parts with no I/O: per-token rate limits.

Idempotency lives in `api.event_identity` (what makes two events the same), `api.event_index`
(the ids already written) and `api.idempotency_log` (that index rebuilt from Kafka).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """A token bucket: `rate` tokens per second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = burst, now

    def take(self, now: float, cost: float = 1.0) -> float:
        """0.0 when allowed, else the seconds to wait before `cost` tokens are available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate


class RateLimiter:
    """One token bucket per principal (of requests, or of events)."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, TokenBucket] = {}

    def check(self, principal: str, cost: float = 1.0) -> float:
        """0.0 when allowed, else the seconds to wait; a cost over the burst is charged as the
        burst (it could never be paid otherwise)."""
        now = self.clock()
        bucket = self._buckets.get(principal)
        if bucket is None:
            bucket = self._buckets[principal] = TokenBucket(self.rate, self.burst, now)
        return bucket.take(now, min(cost, self.burst))
