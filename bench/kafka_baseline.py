"""Raw confluent-kafka produce and consume rates against the broker: the baseline.

Every other benchmark compares itself with these figures measured in the same run:

    from bench.kafka_baseline import measure_baseline   # run as `python -m bench.<name>`
    baseline = measure_baseline(bootstrap, messages=100_000)

Messages are ~220-byte canonical-event JSON, keyed by SKU, over 6 partitions, produced with
the project's producer settings (`infra.kafka_clients.producer_config`: idempotent,
acks=all, lz4, linger 5 ms) and read back by one consumer assigned to all partitions (no
group rebalance inside the timing). Figures are medians of `runs` runs.

    .venv/bin/python -m bench.kafka_baseline [--messages 200000] [--runs 3]

Writes bench/results/kafka_baseline.json and prints it as the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import confluent_kafka
from confluent_kafka import Consumer, Producer, TopicPartition

from bench.publish import publish
from infra.broker import LocalBroker
from infra.kafka_clients import consumer_config, delete_topics, ensure_topics, producer_config
from infra.probe import broker_reachable
from infra.settings import KAFKA_VERSION, BrokerSettings
from infra.topics import TopicSpec

PARTITIONS = 6
_TYPES = ("RECEIVED", "PUT_AWAY", "RESERVED", "PICKED", "SHIPPED", "ADJUSTED")


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sample_messages(count: int) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs shaped like canonical events, about 220 bytes each."""
    start = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    out = []
    for i in range(count):
        sku = f"SKU-{i % 5000:05d}"
        site = f"WH-{i % 12 + 1:02d}"
        occurred = start + timedelta(milliseconds=37 * i)
        event = {
            "event_id": f"{site}-{i:09d}",
            "type": _TYPES[i % len(_TYPES)],
            "sku": sku,
            "site": site,
            "qty": i % 97 + 1,
            "uom": "EA",
            "occurred_at": _rfc3339(occurred),
            "recorded_at": _rfc3339(occurred + timedelta(seconds=2)),
            "source": f"wms-api:{site}",
            "ref": f"SO-{(i * 7919) % 1_000_000:06d}",
        }
        out.append((sku.encode(), json.dumps(event, separators=(",", ":")).encode()))
    return out


def _produce_rate(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> float:
    producer = Producer(producer_config(bootstrap))
    # Warm up outside the timing: connections, metadata and the idempotent producer id.
    for key, value in messages[:1000]:
        producer.produce(topic, value=value, key=key)
    producer.flush(30)
    started = time.perf_counter()
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:  # local queue full: let deliveries drain
                producer.poll(0.01)
        producer.poll(0)
    remaining = producer.flush(120)
    elapsed = time.perf_counter() - started
    if remaining:
        raise RuntimeError(f"{remaining} messages not delivered")
    return len(messages) / elapsed


def _consume_rate(bootstrap: str, topic: str, expected: int) -> float:
    group = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        consumer_config(bootstrap, group, **{"enable.auto.commit": False, "log_level": 0})
    )
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        received = 0
        started = time.perf_counter()
        deadline = time.monotonic() + 120
        while received < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10_000, timeout=0.5):
                if msg.error() is None:
                    received += 1
        elapsed = time.perf_counter() - started
    finally:
        consumer.close()
    if received < expected:
        raise RuntimeError(f"consumed {received} of {expected} messages")
    return received / elapsed


def measure_baseline(bootstrap: str, messages: int = 100_000, runs: int = 3) -> dict[str, Any]:
    """Median produce and consume rates (messages/s) over `runs` fresh topics."""
    batch = sample_messages(messages)
    produce: list[float] = []
    consume: list[float] = []
    expected = messages + 1000  # the producer's warm-up messages are in the topic too
    for _ in range(runs):
        topic = f"bench.baseline.t{uuid.uuid4().hex[:12]}"
        ensure_topics(bootstrap, [TopicSpec(topic, PARTITIONS)])
        try:
            produce.append(_produce_rate(bootstrap, topic, batch))
            consume.append(_consume_rate(bootstrap, topic, expected))
        finally:
            delete_topics(bootstrap, [topic])
    return {
        "produce_per_s": round(statistics.median(produce)),
        "consume_per_s": round(statistics.median(consume)),
        "produce_runs_per_s": [round(r) for r in produce],
        "consume_runs_per_s": [round(r) for r in consume],
        "messages": messages,
        "runs": runs,
        "message_bytes_avg": round(sum(len(v) for _, v in batch) / len(batch)),
        "partitions": PARTITIONS,
        "producer": "idempotent, acks=all, lz4, linger.ms=5 (infra.kafka_clients)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bootstrap", default=None)
    args = parser.parse_args()

    settings = BrokerSettings()
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    broker: LocalBroker | None = None
    local = LocalBroker(settings)
    if not broker_reachable(bootstrap):
        broker = local
        bootstrap = broker.up().bootstrap
    # The version is known only for the project's own broker.
    own = local.pid() is not None and local.bootstrap == bootstrap
    try:
        result = measure_baseline(bootstrap, args.messages, args.runs)
    finally:
        if broker is not None:
            broker.down()
    result.update(
        {
            "bootstrap": bootstrap,
            "kafka_version": KAFKA_VERSION if own else "unknown (not the project's broker)",
            "confluent_kafka": confluent_kafka.__version__,
            "librdkafka": confluent_kafka.libversion()[0],
        }
    )
    publish("kafka_baseline", result)


if __name__ == "__main__":
    main()
