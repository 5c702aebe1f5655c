"""Kafka sources and sinks of the flows, built from the project's client configuration.

Flow builders take sources and sinks as parameters (tests pass Bytewax testing ones); these
factories are what production passes. Sources never raise on consumer errors: errors come
into the flow as `KafkaError` items and end up in the dead-letter topic like any bad record.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from bytewax.connectors.kafka import (
    KafkaError,
    KafkaSource,
    KafkaSourceMessage,
    _KafkaSourcePartition,
)
from bytewax.outputs import (
    DynamicSink,
    FixedPartitionedSink,
    StatefulSinkPartition,
    StatelessSinkPartition,
)
from confluent_kafka import OFFSET_BEGINNING, Producer, TopicPartition
from confluent_kafka import KafkaError as ConfluentKafkaError

from dataflows.settings import FlowSettings
from infra.kafka_clients import ClientLogLimiter, producer_config
from infra.kafka_security import security_config

if TYPE_CHECKING:
    from dataflows.metrics import ConsumerLag

# How long an idle source partition waits before polling again: the added latency when a
# topic goes from quiet to busy.
IDLE_POLL_BACKOFF = timedelta(milliseconds=5)

# Told how long each wait for the broker's acknowledgements took (a histogram's `observe`).
FlushTimer = Callable[[float], None]


class SinkRecord(NamedTuple):
    """A record to produce: the `key`/`value` of `KafkaSinkMessage`, as a cheap tuple.

    Hot paths build plain `(key, value)` tuples (a NamedTuple's constructor costs several
    times more); both unpack the same way, so sinks accept either.
    """

    key: bytes | None
    value: bytes


SinkMessage = SinkRecord | tuple[bytes | None, bytes]
# What the flows hand their sinks: every record a step produced for one input batch, so
# Bytewax moves one item per batch instead of one per record.
SinkBatch = list[SinkMessage]


class RawRecord(NamedTuple):
    """One consumed Kafka record: the attributes of `KafkaSourceMessage` the flows use.

    Built only where a record's coordinates are needed (a dead letter); the hot path reads
    confluent-kafka's own message objects.
    """

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int

    @classmethod
    def of(cls, msg: Any) -> RawRecord:
        """From a confluent-kafka `Message`, a `KafkaSourceMessage` or a `RawRecord`."""
        if isinstance(msg, RawRecord | KafkaSourceMessage):
            return RawRecord(msg.key, msg.value, msg.topic, msg.partition, msg.offset)
        return RawRecord(msg.key(), msg.value(), msg.topic(), msg.partition(), msg.offset())


def value_of(msg: Any) -> bytes:
    """The value of a consumed record, whichever of the three shapes it has."""
    value = msg.value
    if callable(value):  # a confluent-kafka Message: accessors, not attributes
        value = value()
    return value or b""


class _BatchPartition(_KafkaSourcePartition):
    """Bytewax 0.21.1's Kafka partition reader, emitting each consumed batch as ONE item.

    The item is the list of confluent-kafka `Message`s as `consume` returned them (errors
    replaced by `KafkaError` items, as Bytewax does). Per-item costs of Bytewax and of
    building a record object per message were the largest share of the flows' time
    (profiled), and every step downstream works per batch anyway. Same offsets, EOF and
    error handling as the original `next_batch`, which this is copied from, except that an
    error without an offset does not move the resume position.
    """

    # Set when a poll found nothing: Bytewax then parks this partition instead of calling it
    # again at once. Idle flows spun at ~11% of a core each without it (measured).
    _awake: datetime | None = None

    def next_batch(self) -> list[Any]:
        if self._eof:
            raise StopIteration()
        # never block: an empty partition waited 1 ms per poll, and a flow polls every one of
        # its partitions in turn (18 for normalize), which was most of its latency (measured)
        msgs = self._consumer.consume(self._batch_size, 0)
        if not msgs:
            self._awake = datetime.now(UTC) + IDLE_POLL_BACKOFF
            return []
        self._awake = None
        batch: list[Any] = msgs
        for i, msg in enumerate(msgs):
            error = msg.error()
            if error is None:
                continue
            if error.code() == ConfluentKafkaError._PARTITION_EOF:
                self._eof = True
                batch = batch[:i]
                break
            batch[i] = KafkaError(
                error,
                KafkaSourceMessage(
                    key=msg.key(),
                    value=msg.value(),
                    topic=msg.topic(),
                    offset=msg.offset(),
                    partition=msg.partition(),
                ),
            )
        if not batch:
            return []
        last = batch[-1]
        offset = last.msg.offset if isinstance(last, KafkaError) else last.offset()
        # A consumer error may carry no offset (-1001). Taken as a position it would resume a
        # restarted flow at -1000, librdkafka's "stored offset": with no group that is the
        # reset policy, i.e. the end of the partition, skipping everything in between.
        if offset >= 0:
            self._offset = offset + 1
        return [batch]

    def next_awake(self) -> datetime | None:
        return self._awake

    def lag(self) -> int | None:
        """Records not read yet: librdkafka's cached high watermark (updated by every fetch
        response, no request made) minus the next offset to read; None when not known yet
        or the partition is closed. Called from the metrics thread, at scrape time."""
        try:
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self._topic, self._part_idx), cached=True
            )
        except Exception:  # closed (end of a bounded run) or no answer yet
            return None
        if high < 0:
            return None
        # before the first record the position is "the beginning": the low watermark, or 0
        # while librdkafka has not learnt it (an upper bound on the lag then)
        offset = self._offset
        position = offset if offset is not None and offset >= 0 else max(low, 0)
        return max(high - position, 0)


class BatchKafkaSource(KafkaSource):
    """`KafkaSource` whose items are whole consumed batches (lists of messages); `lag`, when
    given, is told about every partition built, to export its consumer lag."""

    lag: ConsumerLag | None = None

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _BatchPartition:
        part = super().build_part(step_id, for_part, resume_state)
        part.__class__ = _BatchPartition
        assert isinstance(part, _BatchPartition)
        if self.lag is not None:
            self.lag.watch(part._topic, part._part_idx, part)
        return part


def each_message(item: Any) -> list[Any]:
    """The messages of a source item: a batch from `BatchKafkaSource`, or the single message
    Bytewax's testing source (or its own `KafkaSource`) delivers."""
    return item if item.__class__ is list else [item]


def _logs(limiter: ClientLogLimiter | None) -> dict[str, Any]:
    return limiter.config() if limiter is not None else {}


def kafka_source(
    settings: FlowSettings,
    topics: list[str],
    logs: ClientLogLimiter | None = None,
    lag: ConsumerLag | None = None,
) -> KafkaSource:
    """Read `topics` from the beginning, one item per consumed batch; offsets are kept by
    Bytewax recovery, not a consumer group. `logs`: the process's limit on client logs;
    `lag`: where the partitions' consumer lag is exported (`dataflows.metrics`)."""
    source = BatchKafkaSource(
        settings.brokers(),
        topics,
        tail=not settings.flow_stop_at_end,
        starting_offset=OFFSET_BEGINNING,
        add_config={
            # The broker answers a fetch as soon as one byte is there (no added latency);
            # on a quiet topic it holds the fetch up to 500 ms instead of being asked again
            # every few ms by each partition's consumer (a 20 ms wait doubled idle CPU).
            "fetch.min.bytes": "1",
            "fetch.wait.max.ms": "500",
            # Larger local queues: the flow is throughput-bound on Python, not the network.
            "queued.min.messages": "20000",
            "log_level": "3",
            # a secured cluster's settings (TWIN_KAFKA_SECURITY_PROTOCOL, ...), like every
            # client the `infra.kafka_clients` factories build
            **security_config(),
            **_logs(logs),
        },
        batch_size=settings.flow_consume_batch,
        raise_on_errors=False,
    )
    source.lag = lag
    return source


class DeliveryFailed(RuntimeError):
    """Records the broker never acknowledged: the epoch that wrote them must not commit."""


class _Deliveries:
    """A producer that remembers the records it failed to deliver, for whoever waits on it.

    librdkafka retries a record until `message.timeout.ms`, then reports the failure and
    drops it; nothing would notice, and recovery would commit an epoch whose output is lost.
    Reports come for failures only (`delivery.report.only.error`): delivered records cost
    nothing here.
    """

    def __init__(self, config: dict[str, Any], timer: FlushTimer | None = None) -> None:
        self.failed: list[str] = []
        self.timer = timer
        self.producer = Producer(
            {**config, "delivery.report.only.error": True, "on_delivery": self._report}
        )

    def _report(self, err: ConfluentKafkaError | None, msg: Any) -> None:
        if err is not None:
            self.failed.append(f"{msg.topic()}: {err.str()}")

    def flush(self) -> None:
        """Wait for every record sent so far; `DeliveryFailed` if any did not arrive."""
        started = time.perf_counter()
        undelivered = self.producer.flush()
        if self.timer is not None:
            self.timer(time.perf_counter() - started)
        if self.failed or undelivered:
            failed, self.failed = self.failed, []
            count = len(failed) + undelivered
            raise DeliveryFailed(
                f"{count} record{'s' if count != 1 else ''} not delivered (first: "
                f"{failed[0] if failed else 'still queued'}); stopping before the epoch commits: "
                "restarted, the flow resumes from its last snapshot and writes them again"
            )


def _produce_all(producer: Producer, topic: str, items: list[SinkBatch]) -> None:
    produce = producer.produce
    for batch in items:
        for key, value in batch:
            while True:
                try:
                    produce(topic, value, key)
                    break
                except BufferError:  # the local queue is full: serve deliveries, retry
                    producer.poll(0.01)


class _BatchSinkPartition(StatelessSinkPartition[SinkBatch]):
    def __init__(self, deliveries: _Deliveries, topic: str) -> None:
        self._deliveries = deliveries
        self._topic = topic

    def write_batch(self, items: list[SinkBatch]) -> None:
        _produce_all(self._deliveries.producer, self._topic, items)
        # Like Bytewax's KafkaSink: a batch is delivered before the epoch can be committed,
        # so a crash never loses output that recovery believes written (at-least-once).
        self._deliveries.flush()

    def close(self) -> None:
        self._deliveries.flush()


class BatchKafkaSink(DynamicSink[SinkBatch]):
    """Bytewax's `KafkaSink` for lists of `(key, value)` records, one topic: every write
    waits until the broker has the records."""

    def __init__(self, config: dict[str, Any], topic: str, timer: FlushTimer | None = None) -> None:
        self._config = config
        self._topic = topic
        self._timer = timer

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _BatchSinkPartition:
        return _BatchSinkPartition(_Deliveries(self._config, self._timer), self._topic)


class _EpochFlushedPartition(StatefulSinkPartition[SinkBatch, None]):
    def __init__(self, deliveries: _Deliveries, topic: str) -> None:
        self._deliveries = deliveries
        self._topic = topic

    def write_batch(self, items: list[SinkBatch]) -> None:
        producer = self._deliveries.producer
        _produce_all(producer, self._topic, items)
        producer.poll(0)  # serve delivery reports; never wait here

    def snapshot(self) -> None:
        # Bytewax snapshots a partition after the last write of an epoch and commits the
        # epoch only once every snapshot of it is stored: waiting for delivery here (and
        # failing on a record that was not delivered) keeps the output at-least-once.
        self._deliveries.flush()

    def close(self) -> None:
        self._deliveries.flush()


class EpochKafkaSink(FixedPartitionedSink[SinkBatch, None]):
    """`BatchKafkaSink` that waits for delivery once per epoch instead of once per write.

    A flush waits a broker round trip (1-5 ms here); the twin flow's sinks wrote a few dozen
    times a second, so waiting on every write idled the flow about 7% of the time (profiled).
    Records are produced at once and librdkafka sends them within `linger.ms`, so latency is
    unchanged; only the wait for the acknowledgements moves to the end of the epoch.

    Bytewax routes `(key, batch)` items to `partitions` by the key (its own hash, stable
    across processes) and gives each partition to one worker. The partitions of one
    process share one producer, so a flush covers them all.
    """

    def __init__(
        self, config: dict[str, Any], topic: str, partitions: int, timer: FlushTimer | None = None
    ) -> None:
        self._config = config
        self._topic = topic
        self._timer = timer
        self._parts = [f"{topic}-{n}" for n in range(partitions)]
        self._deliveries: _Deliveries | None = None
        self._lock = threading.Lock()  # workers of one process are threads

    def list_parts(self) -> list[str]:
        return self._parts

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _EpochFlushedPartition:
        with self._lock:
            if self._deliveries is None:
                self._deliveries = _Deliveries(self._config, self._timer)
            return _EpochFlushedPartition(self._deliveries, self._topic)


def kafka_sink(
    settings: FlowSettings,
    topic: str,
    logs: ClientLogLimiter | None = None,
    timer: FlushTimer | None = None,
) -> BatchKafkaSink:
    """A sink with the project's idempotent `acks=all` producer (`producer_config`);
    `timer` is told how long each wait for acknowledgements took (`dataflows.metrics`)."""
    config = producer_config(settings.kafka_bootstrap, **_logs(logs))
    return BatchKafkaSink(config, topic, timer)


def epoch_kafka_sink(
    settings: FlowSettings,
    topic: str,
    partitions: int,
    logs: ClientLogLimiter | None = None,
    timer: FlushTimer | None = None,
) -> EpochKafkaSink:
    """The sink for a keyed stream: delivery awaited once per epoch (see `EpochKafkaSink`)."""
    config = producer_config(settings.kafka_bootstrap, **_logs(logs))
    return EpochKafkaSink(config, topic, partitions, timer)
