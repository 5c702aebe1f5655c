"""Governed ingest, the parts with no I/O: idempotency records and per-token rate limits.

Idempotency follows the IETF `Idempotency-Key` draft: the first request with a key is
processed; a later one with the same key and the same body gets the first response again;
the same key with a different body is refused (422). Concurrent requests with one key share
one in-flight computation (a future), so the event is produced once. Only successful
(202) responses are remembered: a 503 may be retried with the same key.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from api.problems import IdempotencyKeyReused


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes


@dataclass
class _Entry:
    fingerprint: str
    response: StoredResponse | None
    future: asyncio.Future[StoredResponse] | None
    expires_at: float


def body_fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def event_id_for_key(key: str) -> str:
    """The canonical event id of a single event posted with an Idempotency-Key."""
    return key


class IdempotencyStore:
    """Remembered responses per (principal, key), bounded by count and TTL."""

    def __init__(self, ttl_s: float, max_keys: int, clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self.clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    async def run_once(
        self,
        scope: str,
        key: str,
        body: bytes,
        compute: Callable[[], Awaitable[StoredResponse]],
    ) -> StoredResponse:
        """Run `compute` once per (scope, key, body); replay or refuse otherwise."""
        now = self.clock()
        fingerprint = body_fingerprint(body)
        slot = (scope, key)
        entry = self._entries.get(slot)
        if entry is not None and entry.expires_at < now and entry.future is None:
            del self._entries[slot]
            entry = None
        if entry is not None:
            if entry.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was already used with a different request body"
                )
            if entry.response is not None:
                return entry.response
            assert entry.future is not None
            return await asyncio.shield(entry.future)
        future: asyncio.Future[StoredResponse] = asyncio.get_running_loop().create_future()
        entry = _Entry(fingerprint, None, future, now + self.ttl_s)
        self._entries[slot] = entry
        try:
            response = await compute()
        except BaseException as exc:
            # Nothing is remembered on failure: the client may retry with the same key.
            self._entries.pop(slot, None)
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        entry.response, entry.future = response, None
        future.set_result(response)
        self._trim()
        return response

    def _trim(self) -> None:
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)


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
    """One token bucket per principal."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, TokenBucket] = {}

    def check(self, principal: str) -> float:
        now = self.clock()
        bucket = self._buckets.get(principal)
        if bucket is None:
            bucket = self._buckets[principal] = TokenBucket(self.rate, self.burst, now)
        return bucket.take(now)
