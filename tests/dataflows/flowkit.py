"""Helpers for the flow tests: Kafka-shaped testing input, running on N workers, decoding."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from bytewax.connectors.kafka import KafkaSourceMessage
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import TestingSource, cluster_main, run_main

from dataflows.kafka_io import SinkBatch, SinkRecord
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
    """A testing source whose items are shaped like `BatchKafkaSource`'s: consecutive
    messages grouped into lists of up to `batch_size` (PAUSE/ABORT/EOF markers stay apart)."""
    grouped: list[object] = []
    run: list[object] = []
    for item in items:
        if isinstance(item, KafkaSourceMessage):
            run.append(item)
            if len(run) == batch_size:
                grouped.append(run)
                run = []
            continue
        if run:
            grouped.append(run)
            run = []
        grouped.append(item)
    if run:
        grouped.append(run)
    return TestingSource(grouped)


class _RecordPartition(StatelessSinkPartition[SinkBatch]):
    def __init__(self, out: list[SinkRecord]) -> None:
        self.out = out

    def write_batch(self, items: list[SinkBatch]) -> None:
        for batch in items:
            self.out.extend(SinkRecord(key, value) for key, value in batch)


class RecordSink(DynamicSink[SinkBatch]):
    """Collects what a flow writes (lists of `(key, value)`) as `SinkRecord`s in `out`,
    one per record, like a consumer of the topic would see them."""

    def __init__(self, out: list[SinkRecord]) -> None:
        self.out = out

    def build(self, step_id: str, worker_index: int, worker_count: int) -> Any:
        return _RecordPartition(self.out)


def run(flow: Dataflow, workers: int, **kwargs: object) -> None:
    """Run to completion on one worker (run_main) or `workers` threads of one process."""
    if workers == 1:
        run_main(flow, **kwargs)  # type: ignore[arg-type]
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers, **kwargs)  # type: ignore[arg-type]


def latest_positions(messages: list[SinkRecord]) -> dict[str, Position]:
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
