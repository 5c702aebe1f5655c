"""The history consumer: the canonical events and positions topics into the history store.

It has no consumer group offsets of its own: it assigns every partition of both topics and
starts each at the next offset the database holds (the earliest when it holds none, or on a
rebuild), and each batch is stored with its next offsets in one transaction.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from history.settings import HistorySettings
from history.store import Batch, EventRow, HistoryStore, LatestRow, SiteRow
from infra.kafka_clients import consumer_config
from infra.topics import INVENTORY_EVENTS, TWIN_POSITIONS
from twin.position import to_us
from twin.wire import Position, position_decoder

# a site's figures in a position: the columns of a site row after sku, site, as_of, version
Figures = tuple[int, int, int, int, int, int, int, int]

log = logging.getLogger("history")


class _EventKeys(msgspec.Struct):
    """The columns of an event row (the rest stays in the stored JSON)."""

    sku: str
    site: str
    occurred_at: str
    to_site: str | None = None


_event_keys = msgspec.json.Decoder(_EventKeys)


def _iso_us(text: str) -> int:
    return to_us(datetime.fromisoformat(text))


class HistoryConsumer:
    """Consumes until `stop()`; `run_once()` stores one batch (tests and the bench drive it)."""

    def __init__(self, settings: HistorySettings, store: HistoryStore) -> None:
        self.settings = settings
        self.store = store
        self.events_topic = settings.topic(INVENTORY_EVENTS)
        self.positions_topic = settings.topic(TWIN_POSITIONS)
        self._stop = threading.Event()
        self._consumer: Consumer | None = None
        self._last_prune = time.monotonic()
        self.stored = 0
        self.skipped = 0
        # each recent SKU's last stored figures per site, so a position stores only the sites
        # it changed; a SKU not in it (evicted, or after a restart) stores all its sites again
        self._last: OrderedDict[str, dict[str, Figures]] = OrderedDict()

    def open(self) -> None:
        consumer = Consumer(
            consumer_config(
                self.settings.kafka_bootstrap,
                f"invtwin-history-{uuid.uuid4().hex[:10]}",
                **{
                    "enable.auto.commit": False,
                    "topic.metadata.refresh.interval.ms": 5000,
                    "logger": logging.getLogger("history.kafka"),
                },
            )
        )
        stored = self.store.offsets()
        assignment = []
        for topic in (self.events_topic, self.positions_topic):
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            if meta.error is not None:
                raise RuntimeError(f"topic {topic}: {meta.error}")
            for part in sorted(meta.partitions):
                start = stored.get((topic, part), OFFSET_BEGINNING)
                assignment.append(TopicPartition(topic, part, start))
        consumer.assign(assignment)
        self._consumer = consumer

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        self.open()
        try:
            while not self._stop.is_set():
                self.run_once()
        finally:
            self.close()

    def run_once(self, timeout_s: float = 0.5) -> int:
        """Consume one batch, store it with its offsets; returns the records consumed."""
        assert self._consumer is not None, "open() first"
        msgs = self._consumer.consume(self.settings.history_batch, timeout=timeout_s)
        if msgs:
            self.store.write(self._batch(msgs))
        if time.monotonic() - self._last_prune >= self.settings.history_prune_every_s:
            self.prune()
        return len(msgs)

    def prune(self) -> tuple[int, int]:
        self._last_prune = time.monotonic()
        dropped = self.store.prune(round(self.settings.history_retention_s * 1_000_000))
        if any(dropped):
            log.info("history pruned", extra={"events": dropped[0], "positions": dropped[1]})
        return dropped

    def _batch(self, msgs: Sequence[Any]) -> Batch:
        events: list[EventRow] = []
        site_rows: list[SiteRow] = []
        latest: dict[str, LatestRow] = {}
        next_offsets: dict[tuple[str, int], int] = {}
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("history consume error", extra={"error": str(err)})
                continue
            topic, part, off = msg.topic(), msg.partition(), msg.offset()
            next_offsets[(topic, part)] = off + 1
            value = msg.value()
            if value is None:  # a tombstone on the compacted positions topic
                continue
            try:
                if topic == self.events_topic:
                    e = _event_keys.decode(value)
                    events.append(
                        EventRow(
                            e.sku,
                            e.site,
                            e.to_site,
                            part,
                            off,
                            _iso_us(e.occurred_at),
                            msg.timestamp()[1] * 1000,
                            value,
                        )
                    )
                else:
                    position = position_decoder.decode(value)
                    as_of_us = to_us(position.as_of)
                    site_rows.extend(self._changed_sites(position, as_of_us))
                    newest = latest.get(position.sku)
                    if newest is None or position.version >= newest.version:
                        latest[position.sku] = LatestRow(
                            position.sku, position.version, as_of_us, value
                        )
            except (msgspec.DecodeError, ValueError) as exc:
                # the flows write these topics with the contract's encoders: a record that
                # does not decode is counted and logged, and its offset still moves on
                self.skipped += 1
                log.warning(
                    "history skipped a record it cannot read",
                    extra={"topic": topic, "partition": part, "offset": off, "error": str(exc)},
                )
        self.stored += len(events) + len(site_rows)
        return Batch(events, site_rows, list(latest.values()), next_offsets)

    def _changed_sites(self, position: Position, as_of_us: int) -> list[SiteRow]:
        last = self._last.pop(position.sku, None)
        if last is None:
            last = {}
        rows: list[SiteRow] = []
        for site, sp in position.sites.items():
            figures: Figures = (
                sp.on_hand,
                sp.receiving,
                sp.reserved,
                sp.picked,
                sp.quarantined,
                sp.in_transit,
                sp.atp,
                int(sp.fresh),
            )
            if last.get(site) != figures:
                last[site] = figures
                rows.append((position.sku, site, as_of_us, position.version, *figures))
        self._last[position.sku] = last
        if len(self._last) > self.settings.history_cache_skus:
            self._last.popitem(last=False)
        return rows
