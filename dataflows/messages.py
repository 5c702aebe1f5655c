"""The items that travel between the twin flow's steps (never written to Kafka as such).

Wire formats stay in `twin/wire.py`; these are the flow's internal envelopes: what a shard
receives besides events, what it emits, and the per-site partial metrics it hands to the
site-keyed step that merges them across shards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from dataflows.kafka_io import RawRecord
from twin.events import InventoryEvent


@dataclass(frozen=True, slots=True)
class FreshnessSignal:
    """A site's feed became fresh or stale at `at` (fanned out to every shard)."""

    site: str
    fresh: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class SiteSeen:
    """The flow received events of `site`, the latest at `at` on the flows' domain clock
    (`infra.clock`: the wall clock, except in an accelerated demo)."""

    site: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Tick:
    """A clock pulse: wakes the freshness step even when no event arrives at all."""

    at: datetime


@dataclass(frozen=True, slots=True)
class DlqCount:
    """Dead letters attributed to a site over some interval."""

    site: str
    count: int


class ShardBatch:
    """The events of one consumed batch that belong to one shard, each with the consumed
    record it came from, for its dead letter (exact bytes and Kafka coordinates).

    The records are kept as the source gave them (no per-event copy on the hot path: that
    cost ~20% of the decode step, measured); only when Bytewax moves the batch to another
    worker (pickle) are they reduced to `RawRecord`s, confluent-kafka's messages not being
    picklable."""

    __slots__ = ("events", "records")

    def __init__(self) -> None:
        self.events: list[InventoryEvent] = []
        self.records: list[Any] = []  # `records[i]` is the consumed record of `events[i]`

    def record(self, index: int) -> RawRecord:
        return RawRecord.of(self.records[index])

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.events, [RawRecord.of(r) for r in self.records])

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.events, self.records = state


class ShardEmit:
    """Everything one call of a shard's logic produced, as one item (not one per output):
    position records already encoded for `twin.positions.v1`, alerts, closed windows, and
    per-site partial metrics, and dead letters (records for `inventory.dlq.v1`) of the
    events it did not apply for a reason someone must look at."""

    __slots__ = ("alerts", "dead", "partials", "positions", "windows")

    def __init__(self) -> None:
        self.positions: list[tuple[bytes | None, bytes]] = []
        self.alerts: list[Any] = []
        self.windows: list[Any] = []
        self.partials: list[Any] = []
        self.dead: list[tuple[bytes | None, bytes]] = []

    def __bool__(self) -> bool:
        return bool(self.positions or self.alerts or self.windows or self.partials or self.dead)


# A shard receives the events of one consumed batch that belong to it, as one `ShardBatch`
# (or a plain list of events, e.g. from a test: their dead letters then carry the canonical
# encoding of the event and no coordinates).
ShardIn = ShardBatch | list[InventoryEvent] | FreshnessSignal
# What the freshness and site-metrics steps emit (shards emit `ShardEmit`s instead).
OutKind = Literal["alert", "site_metric", "freshness"]
ShardOut = tuple[OutKind, Any]
