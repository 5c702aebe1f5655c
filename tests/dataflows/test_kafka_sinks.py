"""The twin flow's Kafka sink waits for delivery once per epoch, in its snapshot."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dataflows.kafka_io import BatchKafkaSink, DeliveryFailed, EpochKafkaSink
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


def _unreachable() -> dict[str, object]:
    # nothing listens on port 1: librdkafka retries, then fails the records after 0.5 s
    return producer_config("127.0.0.1:1", **{"message.timeout.ms": 500, "log_level": 0})


def test_a_record_never_delivered_stops_the_epoch_at_its_snapshot() -> None:
    sink = EpochKafkaSink(_unreachable(), "twin.positions.v1", partitions=2)
    part = sink.build_part("write", sink.list_parts()[0], None)
    part.write_batch([[(b"k", b"v1"), (b"k", b"v2")]])
    with pytest.raises(
        DeliveryFailed, match=r"2 records not delivered \(first: twin\.positions\.v1: "
    ):
        part.snapshot()
    part.snapshot()  # reported once: nothing is left to deliver


def test_a_batch_sink_write_fails_when_its_records_are_not_delivered() -> None:
    part = BatchKafkaSink(_unreachable(), "inventory.events.v1").build("write", 0, 1)
    with pytest.raises(DeliveryFailed, match=r"^1 record not delivered"):
        part.write_batch([[(None, b"v")]])
