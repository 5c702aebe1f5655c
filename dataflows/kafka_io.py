"""Kafka sources and sinks of the flows, built from the project's client configuration.

Flow builders take sources and sinks as parameters (tests pass Bytewax testing ones); these
factories are what production passes. Sources never raise on consumer errors: errors come
into the flow as `KafkaError` items and end up in the dead-letter topic like any bad record.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from bytewax.connectors.kafka import (
    KafkaError,
    KafkaSinkMessage,
    KafkaSource,
    KafkaSourceMessage,
    _KafkaSourcePartition,
)
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import OFFSET_BEGINNING, Producer
from confluent_kafka import KafkaError as ConfluentKafkaError

from dataflows.settings import FlowSettings
from infra.kafka_clients import producer_config


class SinkRecord(NamedTuple):
    """A record to produce: the `key`/`value` of `KafkaSinkMessage`, as a cheap tuple."""

    key: bytes | None
    value: bytes


SinkMessage = SinkRecord | KafkaSinkMessage[bytes, bytes]


class RawRecord(NamedTuple):
    """One consumed Kafka record: the attributes of `KafkaSourceMessage` the flows use.

    A tuple is several times cheaper to build than Bytewax's frozen dataclass, and at tens
    of thousands of records per second that was the largest cost of the source (profiled).
    """

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int


class _LeanPartition(_KafkaSourcePartition):
    """Bytewax 0.21.1's Kafka partition reader, emitting `RawRecord`s.

    Same offsets, EOF and error handling as the original (`next_batch` is copied from it,
    with the record construction changed); errors still arrive as `KafkaError` items.
    """

    def next_batch(self) -> list[Any]:
        if self._eof:
            raise StopIteration()
        msgs = self._consumer.consume(self._batch_size, 0.001)
        batch: list[Any] = []
        last_offset = None
        for msg in msgs:
            error = msg.error()
            if error is not None:
                if error.code() == ConfluentKafkaError._PARTITION_EOF:
                    self._eof = True
                    break
                batch.append(
                    KafkaError(
                        error,
                        KafkaSourceMessage(
                            key=msg.key(),
                            value=msg.value(),
                            topic=msg.topic(),
                            offset=msg.offset(),
                            partition=msg.partition(),
                        ),
                    )
                )
            else:
                batch.append(
                    RawRecord(msg.key(), msg.value(), msg.topic(), msg.partition(), msg.offset())
                )
            last_offset = msg.offset()
        if last_offset is not None:
            self._offset = last_offset + 1
        return batch


class LeanKafkaSource(KafkaSource):
    """`KafkaSource` whose records are `RawRecord` tuples (errors stay `KafkaError`)."""

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _LeanPartition:
        part = super().build_part(step_id, for_part, resume_state)
        part.__class__ = _LeanPartition
        return part  # type: ignore[return-value]


def kafka_source(settings: FlowSettings, topics: list[str]) -> KafkaSource:
    """Read `topics` from the beginning; offsets are kept by Bytewax recovery, not a group."""
    return LeanKafkaSource(
        settings.brokers(),
        topics,
        tail=not settings.flow_stop_at_end,
        starting_offset=OFFSET_BEGINNING,
        add_config={
            # Larger fetches: the flow is throughput-bound on Python, not on the network.
            "fetch.min.bytes": "1",
            "fetch.wait.max.ms": "20",
            "queued.min.messages": "20000",
            "log_level": "3",
        },
        batch_size=settings.flow_consume_batch,
        raise_on_errors=False,
    )


class _LeanSinkPartition(StatelessSinkPartition[Any]):
    def __init__(self, producer: Producer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    def write_batch(self, items: list[Any]) -> None:
        produce = self._producer.produce
        for item in items:
            while True:
                try:
                    produce(self._topic, value=item.value, key=item.key)
                    break
                except BufferError:
                    self._producer.poll(0.01)
        # Like Bytewax's KafkaSink: a batch is delivered before the epoch can be committed,
        # so a crash never loses output that recovery believes written (at-least-once).
        self._producer.flush()

    def close(self) -> None:
        self._producer.flush()


class LeanKafkaSink(DynamicSink[Any]):
    """Bytewax's `KafkaSink` for `SinkRecord` (or `KafkaSinkMessage`) items, one topic."""

    def __init__(self, config: dict[str, Any], topic: str) -> None:
        self._config = config
        self._topic = topic

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _LeanSinkPartition:
        return _LeanSinkPartition(Producer(self._config), self._topic)


def kafka_sink(settings: FlowSettings, topic: str) -> LeanKafkaSink:
    """An idempotent `acks=all` producer sink (the project-wide producer configuration)."""
    overrides = {"enable.idempotence": True, "acks": "all"}
    return LeanKafkaSink(producer_config(settings.kafka_bootstrap, **overrides), topic)
