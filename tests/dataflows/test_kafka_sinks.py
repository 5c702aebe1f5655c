"""The twin flow's Kafka sink waits for delivery once per epoch, in its snapshot."""

from __future__ import annotations

from collections.abc import Callable

from dataflows.kafka_io import EpochKafkaSink
from infra.kafka_clients import producer_config
from tests.dataflows.kafkakit import read_all


def test_after_a_snapshot_the_broker_has_every_record_written_before_it(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("sink")
    # librdkafka would hold these records for a minute: only the snapshot's flush sends them
    config = producer_config(kafka_bootstrap, **{"linger.ms": 60_000})
    sink = EpochKafkaSink(config, topic, partitions=4)
    parts = [sink.build_part("write", name, None) for name in sink.list_parts()[:2]]
    for n, part in enumerate(parts):
        part.write_batch([[(f"k{n}-{i}".encode(), f"v{n}-{i}".encode()) for i in range(50)]])
        part.write_batch([[(None, f"tail{n}".encode())]])

    parts[0].snapshot()  # the partitions of a process share one producer: one flush for all

    values = sorted(msg.value().decode() for msg in read_all(kafka_bootstrap, topic, timeout=20))
    expected = sorted([f"v{n}-{i}" for n in range(2) for i in range(50)] + ["tail0", "tail1"])
    assert values == expected
    for part in parts:
        part.close()
