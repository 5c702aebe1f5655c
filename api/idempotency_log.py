"""Idempotency records derived from Kafka: the ingest topic read back into an `EventIdIndex`.

Every replica reads `feeds.api.v1` (all partitions, a consumer group of its own, no commits)
from a bounded look-back: per partition, from the first record written within `window_s`,
but never more than `max_ids / partitions` records back. It keeps reading, so a write by
another replica (or another producer) is known here a moment later. Nothing is stored
anywhere else: a restarted replica rebuilds the same index from the same records.

What it costs: start-up reads at most `max_ids` records (~220 bytes each on the wire; measured
on a 2-core machine: 200k records read back in 2.6 s, so ~13 s for the default million), and
the index holds at most `max_ids` ids (~160 bytes each with
derived ids: ~160 MB for a million; `api.event_index`). It is *ready* once it reached the end
offsets that existed when it started, so `/readyz` turns 200 only when this replica knows
what was written before it.

`NoLog` is the stand-in when the app runs without Kafka (tests with a fake producer): the
route's own acknowledged writes are all the index knows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec
from confluent_kafka import Consumer, KafkaException, TopicPartition

from api.event_identity import business_fingerprint
from api.event_index import EventIdIndex
from api.topic_reader import Targets, TopicReader
from twin.events import AwareDatetime

log = logging.getLogger("api.idempotency")

_DECODE_FAILURES = (msgspec.DecodeError, msgspec.ValidationError, RecursionError, ValueError)


class IdempotencyLog(Protocol):
    """What the app needs: start feeding an index, readiness, stop."""

    def start(self, index: EventIdIndex, loop: asyncio.AbstractEventLoop) -> None: ...

    def ready(self) -> bool: ...

    def stop(self) -> None: ...


class NoLog:
    """No topic to read back: always ready, the index holds only this process's writes."""

    def start(self, index: EventIdIndex, loop: asyncio.AbstractEventLoop) -> None:
        pass

    def ready(self) -> bool:
        return True

    def stop(self) -> None:
        pass


class _Written(msgspec.Struct, frozen=True):
    """The fields of an ingest-topic record the fingerprint needs (others are ignored)."""

    event_id: str
    type: str
    sku: str
    site: str
    qty: int | float
    uom: str
    occurred_at: AwareDatetime
    to_site: str | None = None
    transfer_id: str | None = None


_one = msgspec.json.Decoder(_Written)
_many = msgspec.json.Decoder(list[msgspec.Raw])


def written_events(value: bytes) -> list[_Written]:
    """The events of one ingest-topic message (an object or an array); unreadable ones are
    skipped: the normalize flow dead-letters them, and they were never accepted here."""
    if value.lstrip()[:1] != b"[":
        try:
            return [_one.decode(value)]
        except _DECODE_FAILURES:
            return []
    try:
        raws = _many.decode(value)
    except _DECODE_FAILURES:
        return []
    out: list[_Written] = []
    for raw in raws:
        try:
            out.append(_one.decode(raw))
        except _DECODE_FAILURES:
            continue
    return out


Entry = tuple[str, int, float]  # event id, fingerprint, written at (epoch seconds)


class KafkaIdempotencyLog(TopicReader[EventIdIndex]):
    """Reads the ingest topic into the index (on the loop), from a bounded look-back."""

    def __init__(self, bootstrap: str, topic: str, *, window_s: float, max_ids: int) -> None:
        super().__init__(bootstrap, name="idempotency", log=log)
        self.topic = topic
        self.window_s = window_s
        self.max_ids = max_ids

    def _assignment(self, consumer: Consumer) -> tuple[list[TopicPartition], Targets]:
        # A short wait, retried by `_run`: `stop` is then never held up long by a broker
        # that does not answer.
        metadata = consumer.list_topics(self.topic, timeout=2)
        info = metadata.topics.get(self.topic)
        if info is None or info.error is not None:
            raise KafkaException(f"ingest topic {self.topic} is not available")
        partitions = sorted(info.partitions)
        since_ms = int((time.time() - self.window_s) * 1000)
        by_time = consumer.offsets_for_times(
            [TopicPartition(self.topic, p, since_ms) for p in partitions], timeout=10
        )
        per_partition = max(1, self.max_ids // max(1, len(partitions)))
        assignment: list[TopicPartition] = []
        targets: Targets = {}
        records = 0
        for tp in by_time:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(self.topic, tp.partition), timeout=10
            )
            start = high if tp.offset < 0 else tp.offset  # none that recent: from the end
            start = max(start, low, high - per_partition)
            assignment.append(TopicPartition(self.topic, tp.partition, start))
            if high > start:
                targets[(self.topic, tp.partition)] = high
                records += high - start
        log.info("idempotency log reading back", extra={"topic": self.topic, "records": records})
        return assignment, targets

    def _batch(self, msgs: Sequence[Any]) -> list[Entry]:
        return _entries(msgs)

    @staticmethod
    def _deliver(target: EventIdIndex, batch: list[Any]) -> None:
        for event_id, fingerprint, written_at in batch:
            target.remember(event_id, fingerprint, written_at)


def _entries(msgs: Sequence[Any]) -> list[Entry]:
    out: list[Entry] = []
    for msg in msgs:
        value = msg.error() is None and msg.value()
        if not value:
            continue
        _, stamp_ms = msg.timestamp()
        written_at = stamp_ms / 1000 if stamp_ms > 0 else time.time()
        for event in written_events(value):
            out.append((event.event_id, business_fingerprint(event), written_at))
    return out
