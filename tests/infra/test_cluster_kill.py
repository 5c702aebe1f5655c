"""On a three-node cluster, a SIGKILLed partition leader costs no acknowledged message and
duplicates none.

The topic is replicated three times with two in sync. Half the messages are acknowledged
before the kill; the other half are in flight when the leader of partition 0 dies, so the
idempotent producer must retry them against the newly elected leader (the two surviving
nodes still make the in-sync minimum). The killed node then restarts and rejoins. Every
acknowledged message must be read exactly once, in per-key order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka.admin import ConfigResource

from infra.cluster import LocalCluster
from infra.kafka_clients import consumer_config, ensure_topics, producer_config
from infra.probe import quiet_admin
from infra.topics import TopicSpec
from tests.infra.test_broker_kill import KEYS, TOTAL, _message

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPIC = "cluster-kill-test"


def _produce(
    producer: Producer, start: int, stop: int, acked: list[int], failures: list[KafkaError]
) -> None:
    def on_delivery(index: int) -> Callable[[KafkaError | None, Message], None]:
        def report(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(err)
            else:
                acked.append(index)

        return report

    for i in range(start, stop):
        key, value = _message(i)
        producer.produce(TOPIC, key=key, value=value, on_delivery=on_delivery(i))
        producer.poll(0)


def _leader_of_partition_zero(bootstrap: str) -> int:
    md = quiet_admin(bootstrap).list_topics(TOPIC, timeout=10)
    partition = md.topics[TOPIC].partitions[0]
    assert len(partition.replicas) == 3
    return int(partition.leader)


def _min_insync_replicas(bootstrap: str) -> str:
    resource = ConfigResource(ConfigResource.Type.TOPIC, TOPIC)
    admin = quiet_admin(bootstrap)
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    return str(configs["min.insync.replicas"].value)


def _read_all(bootstrap: str, expected: int, deadline: float) -> list[tuple[str, int]]:
    consumer = Consumer(consumer_config(bootstrap, group_id="cluster-kill-reader"))
    try:
        consumer.subscribe([TOPIC])
        seen: list[tuple[str, int]] = []
        while len(seen) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                assert msg.error() is None, msg.error()
                value = msg.value()
                assert value is not None
                body = json.loads(value)
                seen.append((body["key"], body["seq"]))
        # Anything beyond the expected count would be a duplicate: give it a moment to show.
        for msg in consumer.consume(num_messages=1000, timeout=1.0):
            value = msg.value()
            if msg.error() is None and value is not None:
                body = json.loads(value)
                seen.append((body["key"], body["seq"]))
        return seen
    finally:
        consumer.close()


def test_killing_a_partition_leader_keeps_every_acknowledged_message_exactly_once(
    dedicated_cluster: LocalCluster,
) -> None:
    bootstrap = dedicated_cluster.bootstrap
    assert ensure_topics(bootstrap, [TopicSpec(TOPIC, 6)]) == {TOPIC}
    assert _min_insync_replicas(bootstrap) == "2"
    producer = Producer(producer_config(bootstrap, **{"message.timeout.ms": 60_000}))
    acked: list[int] = []
    failures: list[KafkaError] = []

    _produce(producer, 0, TOTAL // 2, acked, failures)
    assert producer.flush(60) == 0
    victim = dedicated_cluster.node(_leader_of_partition_zero(bootstrap))
    _produce(producer, TOTAL // 2, TOTAL, acked, failures)  # in flight while the leader dies
    victim.kill()
    assert victim.pid() is None

    assert producer.flush(60) == 0, "messages undelivered with two of three nodes alive"
    new_leader = _leader_of_partition_zero(bootstrap)
    assert new_leader != victim.layout.node_id
    victim.up()
    assert dedicated_cluster.broker_count() == 3
    assert failures == []
    assert sorted(acked) == list(range(TOTAL))

    seen = _read_all(bootstrap, TOTAL, time.monotonic() + 60)
    assert len(seen) == TOTAL, "an acknowledged message is missing or was delivered twice"
    assert len(set(seen)) == TOTAL, "a message was delivered twice"
    per_key: dict[str, list[int]] = {}
    for key, seq in seen:
        per_key.setdefault(key, []).append(seq)
    assert len(per_key) == KEYS
    for key, seqs in per_key.items():
        assert seqs == list(range(TOTAL // KEYS)), f"{key} out of order"
