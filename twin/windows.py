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
from datetime import UTC, datetime

from twin.events import EventType, InventoryEvent
from twin.wire import LatencyStats, WindowMetric

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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


def window_index(ts: float, size_s: float, align_ts: float) -> int:
    """Which window (counted from the alignment epoch) an event time falls in."""
    return math.floor((ts - align_ts) / size_s)


class TumblingWindows:
    """Per-(SKU, site) tumbling windows with one watermark (see the module docstring)."""

    __slots__ = (
        "_align_ts",
        "_heap",
        "_open",
        "config",
        "late_by_site",
        "late_total",
        "max_ts",
        "watermark",
    )

    def __init__(self, config: WindowConfig | None = None) -> None:
        self.config = config if config is not None else WindowConfig()
        self._align_ts = self.config.align_to.timestamp()
        # open windows by index, then by (sku, site); a heap of the indices for closing
        self._open: dict[int, dict[tuple[str, str], WindowAcc]] = {}
        self._heap: list[int] = []
        self.max_ts = -math.inf
        self.watermark = -math.inf
        self.late_total = 0
        self.late_by_site: dict[str, int] = {}

    def _acc(self, index: int, key: tuple[str, str]) -> WindowAcc:
        bucket = self._open.get(index)
        if bucket is None:
            bucket = self._open[index] = {}
            heapq.heappush(self._heap, index)
        acc = bucket.get(key)
        if acc is None:
            acc = bucket[key] = WindowAcc()
        return acc

    def add(self, event: InventoryEvent, ts: float | None = None) -> list[WindowMetric]:
        """Fold one event (occurred at `ts` POSIX s if given); returns windows it closed."""
        if ts is None:
            ts = event.occurred_at.timestamp()
        size = self.config.size_s
        index = math.floor((ts - self._align_ts) / size)
        key = (event.sku, event.site)
        if self._align_ts + (index + 1) * size <= self.watermark:
            self.late_total += 1
            self.late_by_site[event.site] = self.late_by_site.get(event.site, 0) + 1
            open_index = math.floor((self.watermark - self._align_ts) / size)
            self._acc(open_index, key).late_events += 1
            return []
        window_fold(self._acc(index, key), event)
        if ts > self.max_ts:
            self.max_ts = ts
            return self.advance(ts - self.config.lateness_s)
        return []

    def advance(self, watermark: float) -> list[WindowMetric]:
        """Move the watermark forward (never back) and return the windows that closed."""
        if watermark <= self.watermark:
            return []
        self.watermark = watermark
        size = self.config.size_s
        align = self._align_ts
        closed: list[WindowMetric] = []
        heap = self._heap
        while heap and align + (heap[0] + 1) * size <= watermark:
            index = heapq.heappop(heap)
            closed.extend(self._emit(index))
        return closed

    def flush(self) -> list[WindowMetric]:
        """Close every open window (end of input)."""
        closed: list[WindowMetric] = []
        while self._heap:
            closed.extend(self._emit(heapq.heappop(self._heap)))
        return closed

    def _emit(self, index: int) -> list[WindowMetric]:
        size = self.config.size_s
        start = datetime.fromtimestamp(self._align_ts + index * size, tz=UTC)
        end = datetime.fromtimestamp(self._align_ts + (index + 1) * size, tz=UTC)
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
