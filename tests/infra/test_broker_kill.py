"""A SIGKILLed broker loses nothing and duplicates nothing an idempotent producer sent.

Half the messages are acknowledged before the kill; the other half are in flight when the
JVM dies, so the producer must retry them against the restarted broker. Idempotence (with
the producer state the broker recovers from its log) must turn those retries into exactly
one copy each, in per-key order.
"""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from infra.broker import LocalBroker
from infra.kafka_clients import consumer_config, ensure_topics, producer_config
from infra.probe import quiet_admin
from infra.topics import TopicSpec

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOTAL = 10_000
KEYS = 100
TOPIC = "kill-test"


def _message(i: int) -> tuple[str, bytes]:
    key = f"SKU-{i % KEYS:05d}"
    return key, json.dumps({"key": key, "seq": i // KEYS}).encode()


def _produce(producer: Producer, start: int, stop: int, failures: list[KafkaError]) -> None:
    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(err)

    for i in range(start, stop):
        key, value = _message(i)
        producer.produce(TOPIC, key=key, value=value, on_delivery=on_delivery)
        producer.poll(0)


def _read_all(bootstrap: str, deadline: float) -> list[tuple[str, int]]:
    consumer = Consumer(consumer_config(bootstrap, group_id="kill-test-reader"))
    try:
        consumer.subscribe([TOPIC])
        seen: list[tuple[str, int]] = []
        while len(seen) < TOTAL and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                assert msg.error() is None, msg.error()
                key, value = msg.key(), msg.value()
                assert key is not None and value is not None
                body = json.loads(value)
                assert key.decode() == body["key"]
                seen.append((body["key"], body["seq"]))
        return seen
    finally:
        consumer.close()


def _records_in_topic(bootstrap: str) -> int:
    consumer = Consumer(consumer_config(bootstrap, group_id="kill-test-watermarks"))
    try:
        md = quiet_admin(bootstrap).list_topics(TOPIC, timeout=10)
        total = 0
        for partition in md.topics[TOPIC].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, partition), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def test_sigkill_and_restart_keeps_every_message_exactly_once_in_key_order(
    dedicated_broker: LocalBroker,
) -> None:
    bootstrap = dedicated_broker.bootstrap
    ensure_topics(bootstrap, [TopicSpec(TOPIC, 6)])
    producer = Producer(producer_config(bootstrap, **{"message.timeout.ms": 180_000}))
    failures: list[KafkaError] = []

    _produce(producer, 0, TOTAL // 2, failures)
    assert producer.flush(60) == 0
    _produce(producer, TOTAL // 2, TOTAL, failures)  # in flight while the broker dies
    dedicated_broker.kill()
    assert dedicated_broker.pid() is None

    dedicated_broker.up()
    assert producer.flush(150) == 0, "messages still undelivered after the restart"
    assert failures == []

    seen = _read_all(bootstrap, time.monotonic() + 60)
    assert len(seen) == TOTAL
    assert len(set(seen)) == TOTAL, "a message was delivered twice"
    assert _records_in_topic(bootstrap) == TOTAL, "the log holds duplicates or gaps"
    per_key: dict[str, list[int]] = {}
    for key, seq in seen:
        per_key.setdefault(key, []).append(seq)
    assert len(per_key) == KEYS
    for key, seqs in per_key.items():
        assert seqs == list(range(TOTAL // KEYS)), f"{key} out of order"
