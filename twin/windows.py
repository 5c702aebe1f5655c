"""Event-time window aggregates and latency percentiles, as pure folds.

Per-SKU-per-site tumbling windows (default 15 min, aligned to a fixed epoch) of:
demand (SHIPPED qty), receipts (RECEIVED qty) and movements (number of events).

Two ways to use them:

* `window_builder` / `window_fold` / `window_merge` / `window_metric`: the plain functions a
  Bytewax ``fold_window`` (or any other engine) takes.
* `TumblingWindows`: the whole thing with its own watermark, for state kept inside a twin
  shard or the offline simulator. The watermark is the largest event time seen minus the
  allowed lateness; a window ``[start, end)`` closes when ``watermark >= end``. An event whose
  window has already closed is *late*: it is not folded into the closed window (its metric
  is already out), it is counted in `late_total`/`late_by_site`, and it is reported in the
  ``late_events`` of the window of the same SKU and site that is open at the watermark (the
  next one to close), so every late event shows up in exactly one emitted metric.

`LatencyAccumulator` keeps a log-bucket histogram (relative error about 1 %, a bounded
number of buckets whatever the count) and gives p50/p95/p99/max; accumulators merge.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from twin.events import EventType, InventoryEvent
from twin.wire import LatencyStats, WindowMetric

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BEGINNING = datetime.min.replace(tzinfo=UTC)
_END = datetime.max.replace(tzinfo=UTC)
_NO_TIME = timedelta(0)
_NO_WINDOW = -(2**62)  # "no window closed yet": below every real window index

_SHIPPED = EventType.SHIPPED
_RECEIVED = EventType.RECEIVED


@dataclass(frozen=True, slots=True)
class WindowConfig:
    """Tumbling windows: `size_s` long, starting at `align_to` + k * size, `lateness_s` grace."""

    size_s: float = 900.0
    lateness_s: float = 60.0
    align_to: datetime = EPOCH


class WindowAcc:
    """The running figures of one window."""

    __slots__ = ("demand", "late_events", "movements", "receipts")

    def __init__(self, demand: int = 0, receipts: int = 0, movements: int = 0, late: int = 0):
        self.demand = demand
        self.receipts = receipts
        self.movements = movements
        self.late_events = late

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WindowAcc):
            return NotImplemented
        return (self.demand, self.receipts, self.movements, self.late_events) == (
            other.demand,
            other.receipts,
            other.movements,
            other.late_events,
        )

    def __repr__(self) -> str:
        return (
            f"WindowAcc(demand={self.demand}, receipts={self.receipts}, "
            f"movements={self.movements}, late={self.late_events})"
        )


def window_builder() -> WindowAcc:
    return WindowAcc()


def window_fold(acc: WindowAcc, event: InventoryEvent) -> WindowAcc:
    """Add one event of this SKU at this site to its window."""
    etype = event.type
    if etype == _SHIPPED:
        acc.demand += int(event.qty)
    elif etype == _RECEIVED:
        acc.receipts += int(event.qty)
    acc.movements += 1
    return acc


def window_merge(a: WindowAcc, b: WindowAcc) -> WindowAcc:
    return WindowAcc(
        a.demand + b.demand,
        a.receipts + b.receipts,
        a.movements + b.movements,
        a.late_events + b.late_events,
    )


def window_metric(
    sku: str, site: str, start: datetime, end: datetime, acc: WindowAcc
) -> WindowMetric:
    return WindowMetric(
        sku=sku,
        site=site,
        window_start=start,
        window_end=end,
        demand=acc.demand,
        receipts=acc.receipts,
        movements=acc.movements,
        late_events=acc.late_events,
    )


def shifted(at: datetime, delta: timedelta) -> datetime:
    """`at + delta`, held at the first or last representable instant instead of raising
    `OverflowError`: a window end, watermark or close time computed from an event at the
    edge of the datetime range (year 1 or 9999) must not stop whoever folds it."""
    try:
        return at + delta
    except OverflowError:
        return _END if delta > _NO_TIME else _BEGINNING


def window_index(at: datetime, size: timedelta, align_to: datetime = EPOCH) -> int:
    """Which window (counted from the alignment epoch) an event time falls in."""
    return (at - align_to) // size


class TumblingWindows:
    """Per-(SKU, site) tumbling windows with one watermark (see the module docstring).

    Window ``k`` is ``[align_to + k*size, align_to + (k+1)*size)``. Windows with an index below
    `closed_below` are closed: that is the index of the window holding the watermark. The hot
    path avoids datetime arithmetic: it remembers the bounds of the last window it computed and
    the event time at which the watermark would close the next window.
    """

    __slots__ = (
        "_closed_below",
        "_cur_end",
        "_cur_index",
        "_cur_start",
        "_heap",
        "_lateness",
        "_max",
        "_next_close",
        "_open",
        "_size",
        "align_to",
        "config",
        "late_by_site",
        "late_total",
    )

    def __init__(self, config: WindowConfig | None = None) -> None:
        self.config = config if config is not None else WindowConfig()
        self._size = timedelta(seconds=self.config.size_s)
        self._lateness = timedelta(seconds=self.config.lateness_s)
        self.align_to = self.config.align_to
        # open windows by index, then by (sku, site); a heap of the indices for closing
        self._open: dict[int, dict[tuple[str, str], WindowAcc]] = {}
        self._heap: list[int] = []
        self._max = _BEGINNING  # the largest event time seen
        self._closed_below = _NO_WINDOW
        self._next_close = _BEGINNING  # an event time at or after it moves the watermark on
        self._cur_index = 0
        self._cur_start = self._cur_end = self.align_to  # empty: the first event computes it
        self.late_total = 0
        self.late_by_site: dict[str, int] = {}

    @property
    def max_at(self) -> datetime | None:
        return None if self._max == _BEGINNING else self._max

    @property
    def watermark(self) -> datetime | None:
        """The largest event time seen minus the allowed lateness (None before any event)."""
        return None if self._max == _BEGINNING else shifted(self._max, -self._lateness)

    @property
    def closed_below(self) -> int | None:
        return None if self._closed_below == _NO_WINDOW else self._closed_below

    def add(self, event: InventoryEvent, not_after: datetime | None = None) -> list[WindowMetric]:
        """Fold one event; returns the windows that its event time closed.

        An event later than `not_after` (e.g. the clock plus a tolerance) is folded but does not
        move the watermark: one bad future timestamp must not make every later event late.
        """
        at = event.occurred_at
        if self._cur_start <= at < self._cur_end:
            index = self._cur_index
        else:
            index = self._cur_index = (at - self.align_to) // self._size
            self._cur_start = shifted(self.align_to, index * self._size)
            self._cur_end = shifted(self._cur_start, self._size)
        key = (event.sku, event.site)
        if index < self._closed_below:
            self._late(event.site, key, self._closed_below)
            return []
        bucket = self._open.get(index)
        if bucket is None:
            bucket = self._open[index] = {}
            heapq.heappush(self._heap, index)
        acc = bucket.get(key)
        if acc is None:
            acc = bucket[key] = WindowAcc()
        etype = event.type
        if etype == _SHIPPED:
            acc.demand += int(event.qty)
        elif etype == _RECEIVED:
            acc.receipts += int(event.qty)
        acc.movements += 1
        if at > self._max:
            if not_after is not None and at > not_after:
                return []
            self._max = at
            if at >= self._next_close:
                return self.advance(shifted(at, -self._lateness))
        return []

    def _late(self, site: str, key: tuple[str, str], open_index: int) -> None:
        self.late_total += 1
        self.late_by_site[site] = self.late_by_site.get(site, 0) + 1
        # reported by the window now open at the watermark, the next of this key to close
        bucket = self._open.get(open_index)
        if bucket is None:
            bucket = self._open[open_index] = {}
            heapq.heappush(self._heap, open_index)
        acc = bucket.get(key)
        if acc is None:
            acc = bucket[key] = WindowAcc()
        acc.late_events += 1

    def advance(self, watermark: datetime) -> list[WindowMetric]:
        """Move the watermark to `watermark` (never back); returns the windows that closed."""
        below = (watermark - self.align_to) // self._size
        if below <= self._closed_below:
            return []
        self._closed_below = below
        self._next_close = shifted(shifted(self.align_to, (below + 1) * self._size), self._lateness)
        heap = self._heap
        closed: list[WindowMetric] = []
        while heap and heap[0] < below:
            closed.extend(self._emit(heapq.heappop(heap)))
        return closed

    def flush(self) -> list[WindowMetric]:
        """Close every open window (end of input)."""
        closed: list[WindowMetric] = []
        while self._heap:
            closed.extend(self._emit(heapq.heappop(self._heap)))
        return closed

    def _emit(self, index: int) -> list[WindowMetric]:
        start = shifted(self.align_to, index * self._size)
        end = shifted(start, self._size)
        bucket = self._open.pop(index)
        return [
            window_metric(sku, site, start, end, bucket[(sku, site)])
            for sku, site in sorted(bucket)
        ]

    def open_windows(self) -> int:
        return sum(len(b) for b in self._open.values())


class LatencyAccumulator:
    """Bounded-memory latency percentiles: a histogram with log-spaced buckets.

    Bucket ``i`` holds values in ``(gamma**(i-1), gamma**i]`` milliseconds with
    ``gamma = 1.02``, so a reported percentile is within about 1 % of the true value; values
    at or below ``min_ms`` (including negative latencies from clock skew) share one bucket.
    From 1 µs to a year that is at most ~1,700 buckets, whatever the number of samples.
    `max_ms` is exact.
    """

    __slots__ = ("buckets", "count", "max_ms", "zero")

    GAMMA = 1.02
    MIN_MS = 0.001
    _LOG_GAMMA = math.log(GAMMA)

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.zero = 0
        self.count = 0
        self.max_ms = 0.0

    def add(self, ms: float) -> None:
        self.count += 1
        if ms > self.max_ms:
            self.max_ms = ms
        if ms <= self.MIN_MS:
            self.zero += 1
            return
        i = math.ceil(math.log(ms) / self._LOG_GAMMA)
        self.buckets[i] = self.buckets.get(i, 0) + 1

    def add_between(self, earlier: datetime, later: datetime) -> None:
        """Add ``later - earlier`` (e.g. recorded_at - occurred_at)."""
        self.add((later - earlier).total_seconds() * 1000.0)

    def merge(self, other: LatencyAccumulator) -> LatencyAccumulator:
        """Add `other`'s samples into this one (in place) and return self."""
        for i, n in other.buckets.items():
            self.buckets[i] = self.buckets.get(i, 0) + n
        self.zero += other.zero
        self.count += other.count
        self.max_ms = max(self.max_ms, other.max_ms)
        return self

    def quantile(self, q: float) -> float:
        """The `q`-quantile in ms (0 when empty); the nearest-rank sample's bucket."""
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(q * self.count))  # nearest rank, 1-based
        seen = self.zero
        if rank <= seen:
            return 0.0
        for i in sorted(self.buckets):
            seen += self.buckets[i]
            if seen >= rank:
                # midpoint of (gamma^(i-1), gamma^i], never above the true maximum
                value = 2.0 * self.GAMMA**i / (self.GAMMA + 1.0)
                return min(value, self.max_ms)
        return self.max_ms

    def stats(self) -> LatencyStats:
        return LatencyStats(
            count=self.count,
            p50_ms=round(self.quantile(0.50), 3),
            p95_ms=round(self.quantile(0.95), 3),
            p99_ms=round(self.quantile(0.99), 3),
            max_ms=round(self.max_ms, 3),
        )
