"""The canonical inventory event, version 1: the one wire format every feed is turned into.

Field names, types and rules are fixed by DESIGN.md ("Canonical event"). On
`inventory.events.v1` every event is already in the SKU's base unit, with an integer `qty`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import msgspec

EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class EventType(enum.StrEnum):
    RECEIVED = "RECEIVED"
    PUT_AWAY = "PUT_AWAY"
    RESERVED = "RESERVED"
    RESERVATION_RELEASED = "RESERVATION_RELEASED"
    PICKED = "PICKED"
    SHIPPED = "SHIPPED"
    TRANSFER_SHIPPED = "TRANSFER_SHIPPED"
    TRANSFER_RECEIVED = "TRANSFER_RECEIVED"
    QUALITY_HOLD = "QUALITY_HOLD"
    QUALITY_RELEASE = "QUALITY_RELEASE"
    RETURNED = "RETURNED"
    ADJUSTED = "ADJUSTED"
    COUNTED = "COUNTED"


class InventoryEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One physical inventory movement at one site, as DESIGN's contract defines it."""

    event_id: EventId
    type: EventType
    sku: NonEmpty
    site: NonEmpty
    qty: int | float
    uom: NonEmpty
    occurred_at: AwareDatetime
    source: NonEmpty
    recorded_at: AwareDatetime | None = None
    to_site: NonEmpty | None = None
    transfer_id: NonEmpty | None = None
    ref: str | None = None
