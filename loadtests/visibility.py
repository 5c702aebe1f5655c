"""Ingest-to-visible latency as the load generator sees it, with no I/O: which event a probe
posts, and which delivered position shows it.

A probe owns one SKU-site (from `Catalog.probe_skus`, which the load test's ingest users never
write) and alternates `RESERVED` and `RESERVATION_RELEASED` of one unit there, so it leaves the
stock as it found it. Positions carry no event ids, so an event is recognised by its time: the
twin keeps, per site, the latest `occurred_at` it applied (`last_event_at`). The probe stamps
its event after every time it has seen there (and at the stack's clock, so the API accepts it);
a delivered position whose `last_event_at` at the site has reached that stamp has applied it.
The latency itself is timed on the load generator's own monotonic clock, from just before the
POST to the frame's arrival: no clock of the stack is involved.

Limit: another producer writing the same SKU-site with event times later than the probe's (the
demo's simulator can, rarely, in the few milliseconds the probe's POST takes) would end a
measurement early; the probe's SKUs are kept apart from the load test's own writers for that.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec

from twin.events import EventType, InventoryEvent
from twin.wire import Position

# After the latest event time seen at the site, so the probe's own stamp is what moves it.
_AFTER_SEEN = timedelta(milliseconds=1)


class StreamFrame(msgspec.Struct):
    """The parts of a `/v1/stream` frame the load test reads (snapshot, delta, heartbeat…)."""

    type: str
    seq: int | None = None
    positions: list[Position] = []


decode_frame = msgspec.json.Decoder(StreamFrame).decode


@dataclass
class VisibilityProbe:
    sku: str
    uom: str
    site: str
    clock: Callable[[], datetime]  # the stack's domain clock: the API judges the horizon on it
    last_seen: datetime | None = None  # latest `last_event_at` delivered for the site
    pending: datetime | None = None  # the stamp of the probe event in flight
    prefix: str = field(default_factory=lambda: f"probe-{uuid.uuid4().hex[:10]}")
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_event(self) -> InventoryEvent:
        """The next probe event; it is pending until a delivered position shows it."""
        n = next(self.counter)
        occurred = self.clock()
        if self.last_seen is not None and occurred <= self.last_seen:
            occurred = self.last_seen + _AFTER_SEEN
        self.pending = occurred
        return InventoryEvent(
            event_id=f"{self.prefix}-{n}",
            type=EventType.RESERVED if n % 2 else EventType.RESERVATION_RELEASED,
            sku=self.sku,
            site=self.site,
            qty=1,
            uom=self.uom,
            occurred_at=occurred,
            recorded_at=occurred,
            source=f"locust-probe:{self.site}",
        )

    def abandon(self) -> None:
        """The pending event was refused or never showed: stop waiting for it."""
        self.pending = None

    def observe(self, position: Position) -> bool:
        """Take a delivered position; True when it shows the pending event applied."""
        if position.sku != self.sku:
            return False
        at_site = position.sites.get(self.site)
        seen = at_site.last_event_at if at_site is not None else None
        if seen is not None and (self.last_seen is None or seen > self.last_seen):
            self.last_seen = seen
        if (
            self.pending is not None
            and self.last_seen is not None
            and self.last_seen >= self.pending
        ):
            self.pending = None
            return True
        return False
