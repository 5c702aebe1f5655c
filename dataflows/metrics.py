"""Prometheus metrics of the flows: one registry per process, built at the composition root.

Counting is per batch, never per event: a step adds the sizes of what one consumed batch
became (a few counter increments per ~500 records), and a shard counts its outcome codes
with `bytes.count` over the codes the core returns. Consumer lag costs nothing on the hot
path: it is read when Prometheus scrapes, from each source partition's position and
librdkafka's cached high watermark (`ConsumerLag`).

Names (Prometheus adds `_total` to counters):
    invtwin_normalize_records_in{feed}               raw records read, per feed (api|batch|3pl)
    invtwin_normalize_events_out{feed}               canonical events written
    invtwin_normalize_dead_letters{feed,error_code}  dead letters written
    invtwin_twin_records_in                          records read from inventory.events.v1
    invtwin_twin_events_applied                      events applied (changed or not)
    invtwin_twin_duplicates                          events recognised as already applied
    invtwin_twin_dead_letters{reason}                records and events dead-lettered
    invtwin_twin_positions_written                   position records written
    invtwin_twin_shard_snapshot_seconds              time to snapshot one shard (histogram)
    invtwin_twin_transfer_units{state}               units over the process's SKUs on
                                                     transfers: shipped, received, in_transit
    invtwin_twin_invariant_violations{check}         0 while the twin holds together:
                                                     transfer_stock_conserved (units shipped
                                                     minus received, less those in transit)
    invtwin_twin_negative_buckets{bucket}            SKU-sites with a negative bucket (a
                                                     fact of the feeds, e.g. sales before a
                                                     receipt, not a fault of the twin)
    invtwin_flow_consumer_lag{flow,topic,partition}  high watermark minus next offset to read
    invtwin_flow_sink_flush_seconds{flow,topic}      waits for the broker's acknowledgements:
                                                     the twin's once per epoch and sink, the
                                                     normalize flow's once per write
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Literal, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dataflows.shard_dead_letters import FAILED
from twin.shard import CONFLICT, DUPLICATE, EXPIRED, REJECTED

FlowName = Literal["normalize", "twin"]

# The shard's outcome codes that are dead-lettered, by the reason label they count under.
_SHARD_REASONS = (
    (EXPIRED, "outside_horizon"),
    (CONFLICT, "event_id_conflict"),
    (REJECTED, "rejected"),
    (FAILED, "processing_failed"),
)


class LagReader(Protocol):
    """A source partition that can say how far behind it is (`kafka_io._BatchPartition`)."""

    def lag(self) -> int | None: ...


class ConsumerLag(Collector):
    """`invtwin_flow_consumer_lag`: read at scrape time from every watched source partition."""

    def __init__(self, flow: str) -> None:
        self.flow = flow
        self._parts: dict[tuple[str, int], LagReader] = {}
        self._lock = threading.Lock()  # workers register while a scrape may be reading

    def watch(self, topic: str, partition: int, reader: LagReader) -> None:
        # a partition rebuilt (after a resume) replaces the old reader of the same coordinates
        with self._lock:
            self._parts[(topic, partition)] = reader

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "invtwin_flow_consumer_lag",
            "Records on the partition not yet read by this process (high watermark minus "
            "the next offset to read)",
            labels=["flow", "topic", "partition"],
        )
        with self._lock:
            parts = sorted(self._parts.items())
        for (topic, partition), reader in parts:
            lag = reader.lag()
            if lag is not None:
                family.add_metric([self.flow, topic, str(partition)], lag)
        yield family


class ShardFigures:
    """What one shard reports of its state at each metrics interval (`ShardLogic`): the
    units it saw shipped and received on transfers, the units its sites hold in transit,
    and how many of its SKU-sites hold a negative figure, per bucket."""

    __slots__ = ("in_transit", "negative", "received", "shipped")

    def __init__(
        self, shipped: int, received: int, in_transit: int, negative: dict[str, int]
    ) -> None:
        self.shipped = shipped
        self.received = received
        self.in_transit = in_transit
        self.negative = negative


class TwinInvariants(Collector):
    """The invariant checks of the twin, summed over the process's shards at scrape time.

    Each shard computes its figures on its own worker thread (it owns its state) and hands
    them over whole; a scrape only adds up the latest ones. Conservation across transfers
    holds per SKU, and every SKU lives in one shard, so per-shard sums are exact."""

    def __init__(self) -> None:
        self._by_shard: dict[int, ShardFigures] = {}
        self._lock = threading.Lock()
        self._next = 0

    def slot(self) -> int:
        """A shard's own place among the reports."""
        with self._lock:
            self._next += 1
            return self._next

    def report(self, slot: int, figures: ShardFigures) -> None:
        with self._lock:
            self._by_shard[slot] = figures

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            reports = list(self._by_shard.values())
        shipped = sum(f.shipped for f in reports)
        received = sum(f.received for f in reports)
        in_transit = sum(f.in_transit for f in reports)
        units = GaugeMetricFamily(
            "invtwin_twin_transfer_units",
            "Units on transfers over the process's SKUs: shipped, received, in transit",
            labels=["state"],
        )
        for state, value in (("shipped", shipped), ("received", received)):
            units.add_metric([state], value)
        units.add_metric(["in_transit"], in_transit)
        yield units
        violations = GaugeMetricFamily(
            "invtwin_twin_invariant_violations",
            "Invariant checks of the twin that fail (0 when it holds together); "
            "transfer_stock_conserved: units shipped minus received, less units in transit",
            labels=["check"],
        )
        imbalance = sum(abs(f.shipped - f.received - f.in_transit) for f in reports)
        violations.add_metric(["transfer_stock_conserved"], imbalance)
        yield violations
        negative = GaugeMetricFamily(
            "invtwin_twin_negative_buckets",
            "SKU-sites with a negative figure in the bucket (the feeds' facts, not a fault)",
            labels=["bucket"],
        )
        totals: dict[str, int] = dict.fromkeys(BUCKETS, 0)
        for f in reports:
            for bucket, n in f.negative.items():
                totals[bucket] = totals.get(bucket, 0) + n
        for bucket, n in totals.items():
            negative.add_metric([bucket], n)
        yield negative


# The buckets of a site's position (`twin.wire.SitePosition`) checked for negative figures.
BUCKETS = ("on_hand", "receiving", "reserved", "picked", "quarantined", "in_transit")


class FlowMetrics:
    """What every flow process exports: its registry and the lag of its sources."""

    def __init__(self, flow: FlowName) -> None:
        self.flow = flow
        self.registry = CollectorRegistry()
        self.lag = ConsumerLag(flow)
        self.registry.register(self.lag)
        self.sink_flush_seconds = Histogram(
            "invtwin_flow_sink_flush_seconds",
            "Waits for the broker to acknowledge what a sink wrote",
            ["flow", "topic"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0),
            registry=self.registry,
        )

    def flush_timer(self, topic: str) -> Callable[[float], None]:
        """What the sink writing `topic` reports its waits to (`kafka_io.FlushTimer`)."""
        return self.sink_flush_seconds.labels(flow=self.flow, topic=topic).observe


class FeedCounters:
    """The normalize counters of one feed, resolved once (a label lookup per call costs)."""

    def __init__(self, metrics: NormalizeMetrics, feed: str) -> None:
        self._feed = feed
        self._dead = metrics.dead_letters
        self._in = metrics.records_in.labels(feed=feed)
        self._out = metrics.events_out.labels(feed=feed)

    def batch(self, records: int, events: int, dead_codes: Iterable[str] = ()) -> None:
        """One consumed batch: its records, the events they became, its dead letters' codes."""
        self._in.inc(records)
        if events:
            self._out.inc(events)
        for code in dead_codes:
            self._dead.labels(feed=self._feed, error_code=code).inc()


class NormalizeMetrics(FlowMetrics):
    def __init__(self) -> None:
        super().__init__("normalize")
        r = self.registry
        self.records_in = Counter(
            "invtwin_normalize_records_in", "Raw feed records read", ["feed"], registry=r
        )
        self.events_out = Counter(
            "invtwin_normalize_events_out", "Canonical events written", ["feed"], registry=r
        )
        self.dead_letters = Counter(
            "invtwin_normalize_dead_letters",
            "Dead letters written, by feed and error code",
            ["feed", "error_code"],
            registry=r,
        )

    def feed(self, feed: str) -> FeedCounters:
        return FeedCounters(self, feed)


class TwinMetrics(FlowMetrics):
    def __init__(self) -> None:
        super().__init__("twin")
        r = self.registry
        self.records_in = Counter(
            "invtwin_twin_records_in", "Records read from the events topic", registry=r
        )
        self.events_applied = Counter(
            "invtwin_twin_events_applied",
            "Events applied to the twin (whether or not they changed a position)",
            registry=r,
        )
        self.duplicates = Counter(
            "invtwin_twin_duplicates", "Events recognised as applied before", registry=r
        )
        self.dead_letters = Counter(
            "invtwin_twin_dead_letters", "Records and events dead-lettered", ["reason"], registry=r
        )
        self.positions_written = Counter(
            "invtwin_twin_positions_written", "Position records written", registry=r
        )
        self.shard_snapshot_seconds = Histogram(
            "invtwin_twin_shard_snapshot_seconds",
            "Time to snapshot one shard's state at the end of an epoch",
            buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0),
            registry=r,
        )
        self.invariants = TwinInvariants()
        r.register(self.invariants)
        self._by_reason = [
            (code, self.dead_letters.labels(reason=why)) for code, why in _SHARD_REASONS
        ]

    def outcomes(self, codes: bytes | bytearray) -> None:
        """Count one shard call's outcome codes (one byte per event, `twin.shard`)."""
        total = len(codes)
        duplicates = codes.count(DUPLICATE)
        dead = 0
        for code, counter in self._by_reason:
            n = codes.count(code)
            if n:
                counter.inc(n)
                dead += n
        if duplicates:
            self.duplicates.inc(duplicates)
        self.events_applied.inc(total - duplicates - dead)

    def unreadable(self, reasons: Iterable[str]) -> None:
        """Records the decode step dead-lettered (not canonical events, consumer errors)."""
        for reason in reasons:
            self.dead_letters.labels(reason=reason).inc()


def flow_metrics(flow: FlowName) -> NormalizeMetrics | TwinMetrics:
    return NormalizeMetrics() if flow == "normalize" else TwinMetrics()
