"""The flows' second input: `masterdata.v1` changes applied live to the process's master data.

One `MasterDataFeed` per flow process owns the process's `MasterIndex` (the catalogue in
columns, shared by its normalizer or rule book) and one consumer of the compacted topic,
assigned every partition from the beginning, with no consumer group: every process reads the
whole topic, since every process holds the whole catalogue.

Ordering, what a stream allows:
- at start (`catch_up`, before the flow runs), the topic is read to the end offsets it had
  then and every change applied: an event is never judged against master data older than
  what the topic held when the process started;
- afterwards the feed is polled by `MasterDataSource` (each worker's partition, every
  `poll_interval`) and changes are applied in topic order (per partition; a key, one entity,
  always lands on the same partition, so one entity's changes apply in the order published).
  Between two polls an event can overtake a change published just before it; the normalize
  flow closes that gap for the events it would dead-letter for missing master data
  (`catch_up` again, then a second try), and the twin flow's shards catch up to the offsets a
  change came with before they re-judge the SKU-sites it touched (`SkuSitesChanged`).
A change the index cannot take (`apply` raises) is logged and skipped, never stops a flow.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.inputs import DynamicSource, StatelessSourcePartition
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from dataflows.settings import FlowSettings
from infra import topics
from infra.kafka_clients import ClientLogLimiter, consumer_config
from infra.log_limit import KindLimit
from twin.masterdata import MasterIndex

_log = logging.getLogger(__name__)
_RETRY_ASSIGN_S = 5.0
START_TIMEOUT_S = 120.0  # reading the whole topic at start (a catalogue's worth of records)

# Applies one record (key, value; value None = deleted) to the index, in place; the keys it
# applied (`twin.masterdata_changes.apply_record`: [] while it waits for its parent, more
# than its own when it was the parent a waiting change needed).
ApplyChange = Callable[[MasterIndex, bytes, bytes | None], list[str]]
# Told after each applied run of changes, with their keys (e.g. the rule book's refresh).
ChangeListener = Callable[[list[str]], None]


@dataclass(frozen=True, slots=True)
class SkuSitesChanged:
    """SKU-sites whose policy changed, for the shard that holds them (twin flow), with the
    offsets (per partition, the next one to read) the feed must have reached before they are
    judged again."""

    sku_sites: list[tuple[str, str]]
    through: dict[int, int] = field(default_factory=dict)


class FeedComplaints:
    """Failures of the feed, logged as what they mean here (a change skipped, a poll that
    will be tried again): the first of each kind, then one reminder per 30 s."""

    def __init__(self) -> None:
        self._limit = KindLimit(30.0)

    def failed(self, exc: BaseException, step: str, where: str = "") -> None:
        admitted = self._limit.admit(f"{step}: {type(exc).__name__}")
        if admitted is None:
            return
        more = (
            f" ({admitted.held} more like it in the last {admitted.since_s:.0f} s)"
            if admitted.held
            else ""
        )
        _log.error(
            "%s failed%s: %s: %s%s",
            step,
            f" on {where}" if where else "",
            type(exc).__name__,
            exc,
            more,
            exc_info=exc if admitted.first else None,
        )


class MasterDataFeed:
    """The process's master data and the reader of `masterdata.v1` that keeps it current.

    Thread-safe: the workers of a process share one feed; the first one to poll applies what
    arrived, the others find nothing new. `consumer` builds the consumer (tests inject one).
    """

    def __init__(
        self,
        index: MasterIndex,
        topic: str,
        consumer: Callable[[], Consumer],
        apply: ApplyChange,
        *,
        batch: int = 1000,
    ) -> None:
        self.index = index
        self.topic = topic
        self._new_consumer = consumer
        self._consumer: Consumer | None = None
        self._apply = apply
        self._batch = batch
        self._lock = threading.RLock()
        self._next: dict[int, int] = {}  # partition -> next offset to apply
        self._assign_after = 0.0  # monotonic time of the next look for the topic
        self._listeners: list[ChangeListener] = []
        self.failures = FeedComplaints()
        self.applied = 0  # changes applied since start (metrics, tests)

    def on_change(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    @property
    def positions(self) -> dict[int, int]:
        """Per partition, the next offset to apply (what has been applied so far)."""
        with self._lock:
            return dict(self._next)

    # ------------------------------------------------------------------ reading
    def _assigned(self) -> Consumer:
        """The consumer, assigned every partition of the topic from the beginning; while
        the topic does not exist, asked again at most every `_RETRY_ASSIGN_S`."""
        if self._consumer is None:
            self._consumer = self._new_consumer()
        if not self._next and time.monotonic() >= self._assign_after:
            self._assign_after = time.monotonic() + _RETRY_ASSIGN_S
            meta = self._consumer.list_topics(self.topic, timeout=10.0).topics.get(self.topic)
            parts = sorted(meta.partitions) if meta is not None and not meta.error else []
            if parts:
                self._consumer.assign(
                    [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in parts]
                )
                self._next = dict.fromkeys(parts, 0)
        return self._consumer

    def end_offsets(self, timeout_s: float = 10.0) -> dict[int, int]:
        """The topic's end offset per partition now (the offset the next record will get)."""
        with self._lock:
            consumer = self._assigned()
            ends = {}
            for partition in self._next:
                _low, high = consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=timeout_s
                )
                ends[partition] = high
            return ends

    def catch_up(self, timeout_s: float = 60.0) -> list[str]:
        """Apply everything the topic holds now (to its end offsets as of this call)."""
        return self.catch_up_to(self.end_offsets(min(timeout_s, 10.0)), timeout_s)

    def catch_up_to(self, through: dict[int, int], timeout_s: float = 60.0) -> list[str]:
        """Apply changes until every partition's next offset reaches `through`'s; the keys
        applied. `TimeoutError` if the broker does not deliver them in `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        keys: list[str] = []
        with self._lock:
            while any(self._next.get(p, 0) < end for p, end in through.items()):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{self.topic}: not read up to {through} in {timeout_s:.0f} s "
                        f"(at {self._next})"
                    )
                keys += self._consume(timeout_s=0.2)
        return keys

    def poll(self) -> list[str]:
        """Apply what has arrived, without waiting; the keys applied."""
        with self._lock:
            return self._consume(timeout_s=0.0)

    def _consume(self, timeout_s: float) -> list[str]:
        consumer = self._assigned()
        if not self._next:  # the topic does not exist (yet): nothing to apply
            return []
        messages = consumer.consume(self._batch, timeout=timeout_s)
        keys: list[str] = []
        for msg in messages:
            if msg.error() is not None:
                self.failures.failed(
                    RuntimeError(str(msg.error())), "reading master-data changes", self.topic
                )
                continue
            raw_key = msg.key() or b""
            try:
                applied = self._apply(self.index, raw_key, msg.value())
                keys += applied
                self.applied += len(applied)
            except Exception as exc:  # a change the index cannot take: skipped, said once
                where = f"{self.topic}:{msg.partition()}@{msg.offset()}"
                self.failures.failed(exc, f"applying master-data change {raw_key!r}", where)
            self._next[msg.partition()] = msg.offset() + 1
        if keys:
            for listener in self._listeners:
                listener(keys)
        return keys

    def close(self) -> None:
        with self._lock:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None


def sku_sites_of(keys: Iterable[str]) -> list[tuple[str, str]]:
    """The SKU-sites whose policy the change keys name (`item_sites:SKU@SITE`)."""
    found: list[tuple[str, str]] = []
    for key in keys:
        entity, _, ident = key.partition(":")
        if entity == "item_sites":
            sku, _, site = ident.rpartition("@")
            if sku and site:
                found.append((sku, site))
    return found


class _FeedPartition(StatelessSourcePartition[Any]):
    def __init__(self, feed: MasterDataFeed, interval: timedelta, emit: bool, tail: bool) -> None:
        self._feed = feed
        self._interval = interval
        self._emit = emit
        self._tail = tail
        self._awake = datetime.now(UTC)

    def next_batch(self) -> list[Any]:
        if not self._tail:  # a bounded run: what the feed read at start is all there is
            raise StopIteration
        self._awake = datetime.now(UTC) + self._interval
        try:
            keys = self._feed.poll()
        except Exception as exc:  # the broker is away: the flow goes on, the feed asks again
            self._feed.failures.failed(exc, "polling master-data changes", self._feed.topic)
            return []
        if not keys or not self._emit:
            return []
        sku_sites = sku_sites_of(keys)
        return [SkuSitesChanged(sku_sites, self._feed.positions)] if sku_sites else []

    def next_awake(self) -> datetime | None:
        return self._awake

    def close(self) -> None:
        self._feed.close()


class MasterDataSource(DynamicSource[Any]):
    """Polls the process's `MasterDataFeed` on every worker (whoever polls first applies).

    With `emit_sku_sites` it yields one `SkuSitesChanged` per applied run of changes that
    touched item-sites (the twin flow routes them to their shards); without, nothing: the
    normalize flow only needs its index current.
    """

    def __init__(
        self,
        feed: MasterDataFeed,
        poll_interval: timedelta = timedelta(milliseconds=200),
        *,
        emit_sku_sites: bool = False,
        tail: bool = True,
    ) -> None:
        self.feed = feed
        self.poll_interval = poll_interval
        self.emit_sku_sites = emit_sku_sites
        self.tail = tail  # False: the input ends at once (bounded runs end with their input)

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _FeedPartition:
        return _FeedPartition(self.feed, self.poll_interval, self.emit_sku_sites, self.tail)


def masterdata_feed(
    settings: FlowSettings,
    index: MasterIndex,
    flow_name: str,
    logs: ClientLogLimiter | None = None,
) -> MasterDataFeed:
    """The process's feed of `masterdata.v1` (the settings' brokers and topic suffix),
    applying records with `twin.masterdata_changes`. Not yet caught up: see `start_feed`."""
    from twin.masterdata_changes import apply_record  # the record format's one owner

    config = consumer_config(
        settings.kafka_bootstrap,
        # no group membership (partitions are assigned) and no commits: every process
        # reads the whole topic from the beginning
        f"invtwin-{flow_name}-masterdata",
        **{"enable.auto.commit": False},
        **(logs.config() if logs is not None else {}),
    )
    return MasterDataFeed(
        index, settings.topic(topics.MASTERDATA), lambda: Consumer(config), apply_record
    )


def start_feed(feed: MasterDataFeed, timeout_s: float = START_TIMEOUT_S) -> MasterDataFeed:
    """Apply what the topic holds before the flow runs. A broker that cannot deliver it in
    `timeout_s` is logged, and the flow starts with what it has (the feed goes on later)."""
    started = time.monotonic()
    try:
        feed.catch_up(timeout_s)
    except Exception as exc:
        _log.warning("master-data changes not all read at start: %s", exc)
    _log.info(
        "master data: %d change(s) from %s applied at start in %.1f s",
        feed.applied,
        feed.topic,
        time.monotonic() - started,
    )
    return feed
