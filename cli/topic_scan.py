"""Read a topic from a point to the end it had when the read began (the CLI's one-shot reads).

No consumer group membership and no commits: the partitions are assigned, so a command that
reads `masterdata.v1` or the DLQ leaves no trace on the broker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from infra.kafka_clients import consumer_config
from infra.probe import broker_reachable


class ScanError(Exception):
    """The topic cannot be read; the message says why."""


class TopicMissing(ScanError):
    def __init__(self, topic: str) -> None:
        super().__init__(f"topic {topic} does not exist (create it: `invtwin kafka topics`)")


def scan(
    bootstrap: str, topic: str, *, since_ms: int | None = None, timeout_s: float = 60.0
) -> Iterator[Any]:
    """The topic's messages (partition by partition interleaved as they come), from the first
    one at or after `since_ms` (a Kafka timestamp; None: the beginning) up to the end offsets
    of when the scan began. Raises `ScanError` (no broker, no topic), or `TimeoutError` after
    `timeout_s`."""
    if not broker_reachable(bootstrap, timeout=10.0):
        raise ScanError(f"no Kafka broker answers at {bootstrap} (start one: `invtwin kafka up`)")
    consumer = Consumer(
        consumer_config(
            bootstrap,
            f"invtwin-cli-{uuid.uuid4().hex[:10]}",
            **{"enable.auto.commit": False, "log_level": 0, "error_cb": lambda _err: None},
        )
    )
    try:
        meta = consumer.list_topics(topic, timeout=10)
        found = meta.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise TopicMissing(topic)
        ends: dict[int, int] = {}
        starts: list[TopicPartition] = []
        for p in sorted(found.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
                starts.append(TopicPartition(topic, p, low))
        if since_ms is not None and starts:
            wanted = [TopicPartition(topic, tp.partition, since_ms) for tp in starts]
            starts = [
                TopicPartition(
                    topic, tp.partition, tp.offset if tp.offset >= 0 else ends[tp.partition]
                )
                for tp in consumer.offsets_for_times(wanted, timeout=10)
            ]
        pending = {tp.partition for tp in starts if tp.offset < ends[tp.partition]}
        if not pending:
            return
        consumer.assign([tp for tp in starts if tp.partition in pending])
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: not read to its end in {timeout_s:.0f} s")
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                if msg.error() is not None:
                    raise KafkaException(msg.error())
                p, offset = msg.partition(), msg.offset()
                if p not in pending or p is None or offset is None:
                    continue
                if offset < ends[p]:
                    yield msg
                if offset >= ends[p] - 1:
                    pending.discard(p)
            # a compacted topic or a transaction marker can leave the last offsets empty
            for tp in consumer.position([TopicPartition(topic, p) for p in pending]):
                if tp.offset >= ends[tp.partition]:
                    pending.discard(tp.partition)
    finally:
        consumer.close()
