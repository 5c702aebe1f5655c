"""Feeds of the materialized view: the Kafka consumer of the twin topics, and a fake one.

`KafkaFeed` runs a confluent-kafka consumer in a thread (the client is blocking), decodes
records there, and hands each batch to the event loop, where the view is mutated: the
view is only ever touched from the loop, so it needs no locks. It reads the compacted
positions topic and the alerts topic from the beginning (every replica builds a full view),
and only the tail of the metrics topic (the latest site metrics). It is *ready* once it has
consumed up to the end offsets that existed when it started.

`FakeFeed` is what tests push records into.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from api.view import TwinView
from infra.kafka_clients import consumer_config
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


class KafkaFeed:
    """Consumes `twin.positions.v1`, `twin.alerts.v1` and `twin.metrics.v1` into the view."""

    def __init__(
        self,
        bootstrap: str,
        topics: dict[str, str],
        *,
        metrics_tail: int = 500,
        on_records: Callable[[str, int], None] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.kinds = {
            topics[TWIN_POSITIONS]: "positions",
            topics[TWIN_ALERTS]: "alerts",
            topics[TWIN_METRICS]: "metrics",
        }
        self.metrics_tail = metrics_tail
        self.on_records = on_records
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.bad_records = 0

    def start(self, view: TwinView, loop: asyncio.AbstractEventLoop) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(view, loop), name="twin-view-feed", daemon=True
        )
        self._thread.start()

    def ready(self) -> bool:
        return self._ready.is_set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- the consumer thread --------------------------------------------------------------

    def _run(self, view: TwinView, loop: asyncio.AbstractEventLoop) -> None:
        while not self._stop.is_set():
            try:
                self._consume(view, loop)
                return
            except KafkaException as exc:
                log.warning("view feed failed, retrying", extra={"error": str(exc)})
                self._stop.wait(2.0)

    def _consume(self, view: TwinView, loop: asyncio.AbstractEventLoop) -> None:
        # A group of its own per replica: every replica reads everything; no commits needed.
        config = consumer_config(
            self.bootstrap,
            f"invtwin-api-view-{uuid.uuid4().hex[:10]}",
            **{
                "enable.auto.commit": False,
                "topic.metadata.refresh.interval.ms": 5000,
                "logger": logging.getLogger("api.kafka.consumer"),
            },
        )
        consumer = Consumer(config)
        try:
            assignment, targets = self._assignment(consumer)
            consumer.assign(assignment)
            while not self._stop.is_set():
                msgs = consumer.consume(num_messages=1000, timeout=0.2)
                batch = self._decode_batch(msgs)
                if batch:
                    loop.call_soon_threadsafe(_apply_batch, view, batch)
                if not self._ready.is_set() and self._caught_up(consumer, targets):
                    # Scheduled after the batch: ready means the records are in the view.
                    loop.call_soon_threadsafe(self._mark_ready)
        finally:
            consumer.close()

    def _assignment(
        self, consumer: Consumer
    ) -> tuple[list[TopicPartition], dict[tuple[str, int], int]]:
        """Partitions to read with their start offsets, and the end offsets to catch up to."""
        metadata = consumer.list_topics(timeout=10)
        assignment: list[TopicPartition] = []
        targets: dict[tuple[str, int], int] = {}
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

    def _caught_up(self, consumer: Consumer, targets: dict[tuple[str, int], int]) -> bool:
        """True once the consumer's position reached every start-time end offset.

        Positions, not message offsets: the last offsets of a compacted topic may be gone.
        """
        if targets:
            positions = consumer.position([TopicPartition(t, p) for t, p in targets])
            for tp in positions:
                if tp.offset >= targets[(tp.topic, tp.partition)]:
                    del targets[(tp.topic, tp.partition)]
        return not targets

    def _mark_ready(self) -> None:
        if not self._ready.is_set():
            self._ready.set()
            log.info("view caught up with the twin topics")

    def _decode_batch(self, msgs: Sequence[Any]) -> list[Record]:
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


def _apply_batch(view: TwinView, batch: list[Record]) -> None:
    for record in batch:
        view.apply(record)
