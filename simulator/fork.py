"""Fork from now: the running twin's positions, read at recorded offsets, as a run's opening.

A scenario with `from: live` does not generate its opening stock: `fork_live` reads the
positions topic from its start up to the end offsets it recorded first (a compacted topic
keyed by SKU, so the last record of a key is the SKU's position), and the run opens with
exactly those buckets on the network of the running twin's master data. The offsets go into
the report, so anyone can tell which state of the twin a run started from. The run itself
is offline: nothing is written to the live topics.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, TopicPartition

from infra.kafka_clients import consumer_config
from infra.topics import TWIN_POSITIONS
from simulator.spec import LiveOpening, Scenario
from simulator.truth import BUCKETS
from twin.wire import position_decoder


class ForkError(RuntimeError):
    """The live twin could not be read at a consistent point."""


def read_positions(bootstrap: str, topic: str, *, timeout_s: float = 60.0) -> LiveOpening:
    """Every SKU's latest position on `topic` up to the end offsets recorded at the start."""
    consumer = Consumer(
        consumer_config(
            bootstrap, f"sim-fork-{uuid.uuid4().hex[:8]}", **{"enable.auto.commit": False}
        )
    )
    deadline = time.monotonic() + timeout_s
    try:
        ends = _end_offsets(consumer, topic, deadline)
        positions: dict[str, dict[str, list[int]]] = {}
        latest: dict[str, datetime | None] = {}  # each SKU's newest event, as of its record
        pending = {p for p, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in sorted(pending)])
        while pending:
            if time.monotonic() > deadline:
                raise ForkError(f"{topic}: not read to the recorded offsets in {timeout_s:.0f} s")
            for msg in consumer.consume(1000, timeout=0.2):
                if msg.error() is not None:
                    continue
                p, offset = msg.partition(), msg.offset()
                if p is None or offset is None or p not in pending or offset >= ends[p][1]:
                    continue  # written after the snapshot point
                raw = msg.value()
                if raw is None:  # a deleted SKU
                    positions.pop((msg.key() or b"").decode(), None)
                    latest.pop((msg.key() or b"").decode(), None)
                    continue
                position = position_decoder.decode(raw)
                positions[position.sku] = {
                    site: [getattr(f, bucket) for bucket in BUCKETS]
                    for site, f in position.sites.items()
                }
                latest[position.sku] = max(
                    (f.last_event_at for f in position.sites.values() if f.last_event_at),
                    default=None,
                )
            # Read-committed consumers skip transaction markers, so progress is the position.
            for tp in consumer.position([TopicPartition(topic, p) for p in sorted(pending)]):
                if tp.offset >= ends[tp.partition][1]:
                    pending.discard(tp.partition)
    finally:
        consumer.close()
    newest = max((t for t in latest.values() if t is not None), default=None)
    return LiveOpening(
        topic=topic,
        offsets={p: high for p, (_low, high) in sorted(ends.items())},
        newest_event_at=newest,
        positions=positions,
    )


def _end_offsets(consumer: Consumer, topic: str, deadline: float) -> dict[int, tuple[int, int]]:
    """(low, high) watermarks per partition: the snapshot point is `high`."""
    meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        raise ForkError(f"no topic {topic!r} to fork from")
    ends: dict[int, tuple[int, int]] = {}
    for p in sorted(meta.partitions):
        while True:
            try:
                ends[p] = consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=5, cached=False
                )
                break
            except KafkaException as exc:  # a leader moving: ask again until the deadline
                if time.monotonic() > deadline:
                    raise ForkError(f"{topic}[{p}]: no end offset ({exc})") from exc
    return ends


def fork_live(
    scenario: Scenario,
    *,
    bootstrap: str,
    master_data: Path,
    topics: dict[str, str] | None = None,
) -> Scenario:
    """The scenario pinned to the live twin: its master data and its positions now.

    The run starts one second after the newest event the twin holds (its "now"), on the
    network of `master_data` (the file the running twin was started with).
    """
    topic = (topics or {}).get(TWIN_POSITIONS, TWIN_POSITIONS)
    opening = read_positions(bootstrap, topic)
    start = scenario.start
    if opening.newest_event_at is not None:
        start = (opening.newest_event_at + timedelta(seconds=1)).replace(microsecond=0)
    network = scenario.network.model_copy(update={"path": str(master_data), "generate": None})
    return scenario.model_copy(update={"opening": opening, "network": network, "start": start})
