"""Feeds of the materialized view: the Kafka consumer of the twin topics, and a fake one.

`KafkaFeed` is a `TopicReader` (a consumer thread that hands decoded batches to the event
loop, ready once caught up): it reads the compacted positions topic and the alerts topic from
the beginning (every replica builds a full view), and only the tail of the metrics topic (the
latest site metrics).

`FakeFeed` is what tests push records into.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from api.topic_reader import Targets, TopicReader
from api.view import TwinView
from infra.topics import TWIN_ALERTS, TWIN_METRICS, TWIN_POSITIONS
from twin.wire import Alert, Metric, Position, alert_decoder, metric_decoder, position_decoder

log = logging.getLogger("api.feed")

Record = Position | Alert | Metric


class Feed(Protocol):
    """What the app needs from a feed: start into a view, readiness, stop."""

    def start(self, view: TwinView, loop: asyncio.AbstractEventLoop) -> None: ...

    def ready(self) -> bool: ...

    def stop(self) -> None: ...


class FakeFeed:
    """A feed tests drive by hand: `push(record, ...)` applies records on the loop."""

    def __init__(self, *, ready: bool = True) -> None:
        self._ready = ready
        self.view: TwinView | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, view: TwinView, loop: asyncio.AbstractEventLoop) -> None:
        self.view, self.loop = view, loop

    def ready(self) -> bool:
        return self._ready

    def set_ready(self, ready: bool) -> None:
        self._ready = ready

    def stop(self) -> None:
        self.view = None

    def push(self, *records: Record) -> None:
        """Apply records to the view, from any thread (waits until applied)."""
        if self.view is None or self.loop is None:
            raise RuntimeError("the app is not running (enter the TestClient first)")
        view = self.view

        def apply() -> None:
            for record in records:
                view.apply(record)

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            apply()
            return
        asyncio.run_coroutine_threadsafe(_call(apply), self.loop).result(timeout=5)


async def _call(fn: Callable[[], None]) -> None:
    fn()


def _decode(topic_kind: str, value: bytes) -> Record:
    if topic_kind == "positions":
        return position_decoder.decode(value)
    if topic_kind == "alerts":
        return alert_decoder.decode(value)
    return metric_decoder.decode(value)


class KafkaFeed(TopicReader[TwinView]):
    """Consumes `twin.positions.v1`, `twin.alerts.v1` and `twin.metrics.v1` into the view."""

    def __init__(
        self,
        bootstrap: str,
        topics: dict[str, str],
        *,
        metrics_tail: int = 500,
        on_records: Callable[[str, int], None] | None = None,
    ) -> None:
        super().__init__(bootstrap, name="view", log=log)
        self.kinds = {
            topics[TWIN_POSITIONS]: "positions",
            topics[TWIN_ALERTS]: "alerts",
            topics[TWIN_METRICS]: "metrics",
        }
        self.metrics_tail = metrics_tail
        self.on_records = on_records
        self.bad_records = 0

    def _assignment(self, consumer: Consumer) -> tuple[list[TopicPartition], Targets]:
        metadata = consumer.list_topics(timeout=10)
        assignment: list[TopicPartition] = []
        targets: Targets = {}
        for topic, kind in self.kinds.items():
            info = metadata.topics.get(topic)
            if info is None or info.error is not None:
                log.warning("twin topic missing; view starts without it", extra={"topic": topic})
                continue
            for partition in info.partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )
                start = OFFSET_BEGINNING
                if kind == "metrics":
                    start = max(low, high - self.metrics_tail)
                assignment.append(TopicPartition(topic, partition, start))
                if high > low:
                    targets[(topic, partition)] = high
        return assignment, targets

    def _batch(self, msgs: Sequence[Any]) -> list[Record]:
        batch: list[Record] = []
        counts: dict[str, int] = {}
        for msg in msgs:
            if msg.error() is not None:
                continue
            topic, offset = msg.topic(), msg.offset()
            kind = self.kinds.get(topic, topic)
            counts[kind] = counts.get(kind, 0) + 1
            value = msg.value()
            if value is None:  # a tombstone on the compacted topic: nothing to show
                continue
            try:
                batch.append(_decode(self.kinds[topic], value))
            except (msgspec.DecodeError, KeyError):
                self.bad_records += 1
                log.warning("undecodable twin record", extra={"topic": topic, "offset": offset})
        if self.on_records is not None:
            for kind, count in counts.items():
                self.on_records(kind, count)
        return batch

    @staticmethod
    def _deliver(target: TwinView, batch: list[Any]) -> None:
        for record in batch:
            target.apply(record)
