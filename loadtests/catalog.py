"""What the load test may write and read: SKUs, API-fed sites and units from master data.

Built once per Locust process from the master data file, so generated events are valid
canonical events (known SKU, known site, the SKU's base unit) that the normalizer accepts.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import msgspec

from twin.events import EventType, InventoryEvent
from twin.masterdata import load_master_data

# Receipts keep stock up while shipments and adjustments move it: a stream that keeps
# positions changing without draining every site into permanent alerts.
_MIX = (
    (EventType.RECEIVED, 3),
    (EventType.RESERVED, 2),
    (EventType.RESERVATION_RELEASED, 1),
    (EventType.ADJUSTED, 1),
)
_TYPES = [event_type for event_type, weight in _MIX for _ in range(weight)]


# SKUs set aside for the ingest-to-visible probes (`loadtests.visibility`): the load test's
# other writers leave them alone, so a change seen there is a probe's own.
PROBE_SKUS = 10


@dataclass(frozen=True)
class Catalog:
    skus: list[tuple[str, str]]  # (sku id, base uom)
    sites: list[str]  # sites whose feed is the API
    all_sites: list[str]

    @cached_property
    def probe_skus(self) -> list[tuple[str, str]]:
        """The last few SKUs (at most a tenth of them), written only by the probes."""
        return self.skus[-max(1, min(PROBE_SKUS, len(self.skus) // 10)) :]

    @cached_property
    def ingest_skus(self) -> list[tuple[str, str]]:
        """The SKUs the ingest users write: all but the probes' (all, in a one-SKU network)."""
        rest = self.skus[: len(self.skus) - len(self.probe_skus)]
        return rest or self.skus

    @classmethod
    def load(cls, path: str | Path) -> Catalog:
        md = load_master_data(path)
        api_sites = [s.id for s in md.sites if s.feed_mode == "api"] or [s.id for s in md.sites]
        return cls(
            skus=[(s.id, s.base_uom) for s in md.skus],
            sites=api_sites,
            all_sites=[s.id for s in md.sites],
        )

    def save(self, path: Path) -> Path:
        """Write the catalog as JSON: what `load_saved` reads in milliseconds."""
        path.write_bytes(msgspec.json.encode(self))
        return path

    @classmethod
    def load_saved(cls, path: str | Path) -> Catalog:
        return msgspec.json.decode(Path(path).read_bytes(), type=cls)

    def sku_ids(self) -> list[str]:
        return [sku for sku, _ in self.skus]


class EventFactory:
    """Makes canonical events with unique ids (`locust-<run>-<n>`) for one Locust user."""

    def __init__(
        self, catalog: Catalog, rng: random.Random, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.catalog = catalog
        self.rng = rng
        # The stack's domain clock: the API refuses events outside the twin's horizon, and an
        # accelerated stack's newest events lie far ahead of the wall clock.
        self.clock = clock or (lambda: datetime.now(UTC))
        self.prefix = f"locust-{uuid.uuid4().hex[:10]}"
        self.counter = itertools.count(1)

    def event(self) -> InventoryEvent:
        sku, uom = self.rng.choice(self.catalog.ingest_skus)
        site = self.rng.choice(self.catalog.sites)
        event_type = self.rng.choice(_TYPES)
        qty: int = self.rng.randint(1, 12)
        if event_type is EventType.ADJUSTED and self.rng.random() < 0.5:
            qty = -qty
        now = self.clock()
        return InventoryEvent(
            event_id=f"{self.prefix}-{next(self.counter)}",
            type=event_type,
            sku=sku,
            site=site,
            qty=qty,
            uom=uom,
            occurred_at=now,
            recorded_at=now,
            source=f"locust:{site}",
        )

    def encode_one(self) -> tuple[str, bytes]:
        event = self.event()
        return event.event_id, msgspec.json.encode(event)

    def encode_batch(self, size: int) -> bytes:
        return msgspec.json.encode([self.event() for _ in range(size)])
