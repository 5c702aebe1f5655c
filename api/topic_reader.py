"""A Kafka consumer in a thread that feeds something the event loop owns.

confluent-kafka's client is blocking, so each reader runs it in a thread of its own, turns
each consumed batch into plain data there, and hands the batch to the event loop, where its
target (the view, the idempotency index) is changed: targets are only ever touched from the
loop, so they need no locks. A reader is *ready* once it has consumed up to the end offsets
that existed when it started, so `/readyz` says this replica knows what was written before it.

A reader has a consumer group of its own per replica (every replica reads everything) and
commits nothing: where it starts is its own choice (`_assignment`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from confluent_kafka import Consumer, KafkaException, TopicPartition

from infra.kafka_clients import consumer_config

Target = TypeVar("Target")
# the end offset to reach, per (topic, partition), before the reader is ready
Targets = dict[tuple[str, int], int]


class TopicReader(Generic[Target]):
    """The thread, the retry on broker errors, the catching up; subclasses say what to read
    (`_assignment`), what a batch becomes (`_batch`) and how it reaches the target (`_deliver`)."""

    def __init__(self, bootstrap: str, *, name: str, log: logging.Logger) -> None:
        self.bootstrap = bootstrap
        self.name = name
        self.log = log
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, target: Target, loop: asyncio.AbstractEventLoop) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(target, loop), name=self.name, daemon=True
        )
        self._thread.start()

    def ready(self) -> bool:
        return self._ready.is_set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- what a subclass says ---------------------------------------------------------------

    def _assignment(self, consumer: Consumer) -> tuple[list[TopicPartition], Targets]:
        """Partitions to read with their start offsets, and the end offsets to catch up to."""
        raise NotImplementedError

    def _batch(self, msgs: Sequence[Any]) -> list[Any]:
        """What a consumed batch becomes (decoded here, in the reader's thread)."""
        raise NotImplementedError

    @staticmethod
    def _deliver(target: Target, batch: list[Any]) -> None:
        """Apply a batch to the target (on the event loop)."""
        raise NotImplementedError

    # -- the consumer thread ----------------------------------------------------------------

    def _run(self, target: Target, loop: asyncio.AbstractEventLoop) -> None:
        while not self._stop.is_set():
            try:
                self._consume(target, loop)
                return
            except KafkaException as exc:
                self.log.warning(f"{self.name} failed, retrying", extra={"error": str(exc)})
                self._stop.wait(2.0)

    def _consume(self, target: Target, loop: asyncio.AbstractEventLoop) -> None:
        config = consumer_config(
            self.bootstrap,
            f"invtwin-api-{self.name}-{uuid.uuid4().hex[:10]}",
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
                batch = self._batch(msgs)
                if batch:
                    loop.call_soon_threadsafe(self._deliver, target, batch)
                if not self._ready.is_set() and caught_up(consumer, targets):
                    # scheduled after the batch above: ready means its records are applied
                    loop.call_soon_threadsafe(self._mark_ready)
        finally:
            consumer.close()

    def _mark_ready(self) -> None:
        if not self._ready.is_set():
            self._ready.set()
            self.log.info(f"{self.name} caught up")


def caught_up(consumer: Consumer, targets: Targets) -> bool:
    """True once the consumer's position reached every start-time end offset.

    Positions, not record offsets: the last offsets of a compacted topic may be gone, and a
    transactional marker may hold the last one.
    """
    if targets:
        for tp in consumer.position([TopicPartition(t, p) for t, p in targets]):
            if tp.offset >= targets[(tp.topic, tp.partition)]:
                del targets[(tp.topic, tp.partition)]
    return not targets
