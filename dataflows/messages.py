"""The items that travel between the twin flow's steps (never written to Kafka as such).

Wire formats stay in `twin/wire.py`; these are the flow's internal envelopes: what a shard
receives besides events, what it emits, and the per-site partial metrics it hands to the
site-keyed step that merges them across shards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

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


class ShardEmit:
    """Everything one call of a shard's logic produced, as one item (not one per output):
    position records already encoded for `twin.positions.v1`, alerts, closed windows, and
    per-site partial metrics."""

    __slots__ = ("alerts", "partials", "positions", "windows")

    def __init__(self) -> None:
        self.positions: list[tuple[bytes | None, bytes]] = []
        self.alerts: list[Any] = []
        self.windows: list[Any] = []
        self.partials: list[Any] = []

    def __bool__(self) -> bool:
        return bool(self.positions or self.alerts or self.windows or self.partials)


# A shard receives the events of one consumed batch that belong to it, as one list.
ShardIn = list[InventoryEvent] | FreshnessSignal
# What the freshness and site-metrics steps emit (shards emit `ShardEmit`s instead).
OutKind = Literal["alert", "site_metric", "freshness"]
ShardOut = tuple[OutKind, Any]
