"""Wire formats of the twin's outputs: positions, alerts, metrics and dead-letter records.

Each format is defined once here (DESIGN.md, "Twin outputs"); producers encode with these
Structs and consumers decode with the decoders below, built once. Schemas evolve by adding
fields with defaults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from twin.errors import FieldError


class SitePosition(msgspec.Struct, kw_only=True):
    """One site's buckets for one SKU, in base units."""

    on_hand: int = 0
    receiving: int = 0
    reserved: int = 0
    picked: int = 0
    quarantined: int = 0
    in_transit: int = 0
    atp: int = 0
    last_event_at: datetime | None = None
    fresh: bool = True


class NetworkTotals(msgspec.Struct, kw_only=True):
    on_hand: int = 0
    atp: int = 0
    in_transit: int = 0


class Position(msgspec.Struct, kw_only=True):
    """A SKU's position across the network; `version` grows by one per change."""

    sku: str
    version: int
    as_of: datetime
    sites: dict[str, SitePosition]
    network: NetworkTotals


AlertKind = Literal[
    "LOW_STOCK",
    "OVER_ALLOCATION",
    "NEGATIVE_ON_HAND",
    "STALE_FEED",
    "SUSPECTED_SYNC_GAP",
    "COUNT_DISCREPANCY",
    "ANOMALY",
]
Severity = Literal["info", "warning", "critical"]


class Recommendation(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What to do about a LOW_STOCK: a transfer along a lane, or a purchase."""

    action: Literal["transfer", "purchase"]
    to_site: str
    qty: int
    value: float
    needs_approval: bool
    from_site: str | None = None
    expected_arrival: datetime | None = None
    reason: str = ""


class Alert(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An alert is raised once (`state="raised"`) and cleared once when its condition ends."""

    id: str
    kind: AlertKind
    severity: Severity
    detected_at: datetime
    explanation: str
    state: Literal["raised", "cleared"] = "raised"
    sku: str | None = None
    site: str | None = None
    recommendation: Recommendation | None = None
    details: dict[str, float | int | str] = {}


class WindowMetric(msgspec.Struct, tag="window", kw_only=True):
    """One closed event-time window for one SKU at one site."""

    sku: str
    site: str
    window_start: datetime
    window_end: datetime
    demand: int = 0
    receipts: int = 0
    movements: int = 0
    late_events: int = 0


class LatencyStats(msgspec.Struct, kw_only=True):
    count: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0


class SiteMetric(msgspec.Struct, tag="site", kw_only=True):
    """Per-site feed health over the last reporting interval."""

    site: str
    as_of: datetime
    events: int = 0
    duplicates: int = 0
    exceptions: int = 0
    dlq: int = 0
    late_events: int = 0
    posting_latency: LatencyStats = msgspec.field(default_factory=LatencyStats)
    visible_latency: LatencyStats = msgspec.field(default_factory=LatencyStats)
    transfer_cycle_s_p50: float | None = None
    last_event_at: datetime | None = None
    fresh: bool = True


Metric = WindowMetric | SiteMetric


class DeadLetter(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A record the normalizer could not turn into a canonical event, kept for replay.

    `original` is the exact bytes of the rejected record (base64 on the wire); the Kafka
    coordinates say where it came from, so it can be replayed after master data is fixed.
    """

    error_code: str
    message: str
    original: bytes
    source_topic: str
    partition: int
    offset: int
    rejected_at: datetime
    errors: list[FieldError] = []
    record_index: int | None = None
    # The canonical site the record came from, when it can be told (per-site DLQ counts).
    site: str | None = None
    # Set only when the letter would not fit the DLQ topic: `original` then holds the first
    # bytes of the record, and these say how long the whole record was and its SHA-256 (hex),
    # so it can be found again at its coordinates and checked.
    original_size: int | None = None
    original_sha256: str | None = None


position_decoder = msgspec.json.Decoder(Position)
alert_decoder = msgspec.json.Decoder(Alert)
metric_decoder = msgspec.json.Decoder(Metric)
dead_letter_decoder = msgspec.json.Decoder(DeadLetter)
