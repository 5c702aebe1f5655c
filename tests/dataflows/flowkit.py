"""Helpers for the flow tests: Kafka-shaped testing input, running on N workers, decoding."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from bytewax.connectors.kafka import KafkaSinkMessage, KafkaSourceMessage
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, cluster_main, run_main

from twin.wire import Position, position_decoder


def kafka_messages(topic: str, values: Iterable[bytes | object]) -> list[object]:
    """Testing input shaped like `KafkaSource` output; non-bytes items (PAUSE, EOF) pass."""
    out: list[object] = []
    offset = 0
    for value in values:
        if isinstance(value, bytes):
            out.append(
                KafkaSourceMessage(key=None, value=value, topic=topic, partition=0, offset=offset)
            )
            offset += 1
        else:
            out.append(value)
    return out


def source(items: list[object], batch_size: int = 64) -> TestingSource:
    return TestingSource(items, batch_size=batch_size)


def run(flow: Dataflow, workers: int, **kwargs: object) -> None:
    """Run to completion on one worker (run_main) or `workers` threads of one process."""
    if workers == 1:
        run_main(flow, **kwargs)  # type: ignore[arg-type]
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers, **kwargs)  # type: ignore[arg-type]


def latest_positions(messages: list[KafkaSinkMessage]) -> dict[str, Position]:
    """Highest version per SKU, as a consumer of the compacted positions topic keeps it."""
    latest: dict[str, Position] = {}
    for msg in messages:
        pos = position_decoder.decode(msg.value)
        assert msg.key == pos.sku.encode()
        seen = latest.get(pos.sku)
        if seen is None or pos.version > seen.version:
            latest[pos.sku] = pos
    return latest


EPOCH = timedelta(milliseconds=200)
