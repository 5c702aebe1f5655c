"""The API's memory of event ids already written to its ingest topic: id -> business fingerprint.

It is filled from two sides, both on the event loop: the ingest route, once the broker
acknowledged an event it produced, and `api.idempotency_log`, which reads the ingest topic
(this replica's writes, other replicas' and other producers') from a bounded look-back. So a
retry after an API restart, or one that lands on another replica, is still recognised.

Bounds: entries older than `window_s` (by the time they were written) are forgotten, and past
`max_ids` the oldest go first. Times are kept per bucket of `bucket_s` seconds, not per id, so
an entry costs its dict slot, its id string and an int (measured: ~160 bytes with
37-character derived ids, so ~160 MB for a million ids; a lookup is a dict get).

`claim` also tracks events being produced right now: a concurrent request with the same id
waits for that produce instead of writing the event a second time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    start: float
    ids: deque[str] = field(default_factory=deque)  # in the order they were written


@dataclass(frozen=True)
class Claim:
    """What `claim` found for one event id.

    `new`: nobody wrote or is writing it, and it is now claimed by the caller (who must
    `settle` it). `conflict`: the id is written, or being written, with another fingerprint.
    Otherwise it is a duplicate: written already (`pending is None`) or being written (await
    `pending`).
    """

    new: bool = False
    conflict: bool = False
    pending: asyncio.Future[None] | None = None


class EventIdIndex:
    """Event ids seen on the ingest topic, bounded by time and count."""

    def __init__(
        self,
        window_s: float,
        max_ids: int,
        *,
        bucket_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window_s = window_s
        self.max_ids = max_ids
        self.bucket_s = bucket_s
        self.clock = clock
        self._fingerprints: dict[str, int] = {}
        self._buckets: deque[_Bucket] = deque()
        self._in_flight: dict[str, tuple[int, asyncio.Future[None]]] = {}
        self.conflicts_seen = 0  # ids read back from the topic with another fingerprint

    def __len__(self) -> int:
        return len(self._fingerprints)

    def fingerprint(self, event_id: str) -> int | None:
        return self._fingerprints.get(event_id)

    def remember(self, event_id: str, fingerprint: int, written_at: float | None = None) -> bool:
        """Record that `event_id` was written with `fingerprint`; False if it was known with
        another one (the first one is kept: the twin dead-letters the later record)."""
        known = self._fingerprints.get(event_id)
        if known is not None:
            if known != fingerprint:
                self.conflicts_seen += 1
                return False
            return True
        now = self.clock()
        at = now if written_at is None else written_at
        if at < now - self.window_s:
            return True  # already past the window: nothing to remember
        self._fingerprints[event_id] = fingerprint
        self._bucket_for(at).ids.append(event_id)
        self._trim(now)
        return True

    def conflicts(self, event_id: str, fingerprint: int) -> bool:
        """True when `event_id` is written, or being written, with another fingerprint."""
        known = self._fingerprints.get(event_id)
        if known is None:
            in_flight = self._in_flight.get(event_id)
            known = in_flight[0] if in_flight is not None else None
        return known is not None and known != fingerprint

    def claim(self, event_id: str, fingerprint: int) -> Claim:
        """See `Claim`. Synchronous: checks and claims without a yield in between."""
        known = self._fingerprints.get(event_id)
        if known is not None:
            return Claim(conflict=known != fingerprint)
        in_flight = self._in_flight.get(event_id)
        if in_flight is not None:
            claimed_fp, pending = in_flight
            if claimed_fp != fingerprint:
                return Claim(conflict=True)
            return Claim(pending=pending)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._in_flight[event_id] = (fingerprint, future)
        return Claim(new=True)

    def settle(self, event_id: str, error: BaseException | None) -> None:
        """End a claim: remembered when written (`error is None`), released otherwise so a
        retry may write it; requests waiting on it get the same outcome."""
        fingerprint, future = self._in_flight.pop(event_id)
        if error is None:
            self.remember(event_id, fingerprint)
            future.set_result(None)
        else:
            future.set_exception(error)
            future.exception()  # retrieved: waiters re-raise it, nobody else must

    # -- bounds --------------------------------------------------------------------------

    def _bucket_for(self, at: float) -> _Bucket:
        # Writes come in roughly in time order; an older one joins the newest bucket, which
        # only keeps it a little longer than its window.
        if self._buckets and at < self._buckets[-1].start + self.bucket_s:
            return self._buckets[-1]
        bucket = _Bucket(at - at % self.bucket_s)
        self._buckets.append(bucket)
        return bucket

    def _trim(self, now: float) -> None:
        horizon = now - self.window_s - self.bucket_s
        buckets = self._buckets
        while buckets and (buckets[0].start < horizon or len(self._fingerprints) > self.max_ids):
            oldest = buckets[0]
            while oldest.ids and (oldest.start < horizon or len(self._fingerprints) > self.max_ids):
                self._fingerprints.pop(oldest.ids.popleft(), None)
            if not oldest.ids:
                buckets.popleft()
