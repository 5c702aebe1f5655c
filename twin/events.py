"""The canonical inventory event, version 1: the one wire format every feed is turned into.

Field names, types and rules are fixed by DESIGN.md ("Canonical event"). On
`inventory.events.v1` every event is already in the SKU's base unit, with an integer `qty`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

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


class InventoryEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """One physical inventory movement at one site, as DESIGN's contract defines it.

    `gc=False`: an event holds only strings, numbers and datetimes, so it can never be part
    of a reference cycle; untracked by the garbage collector, decoding millions of them is
    about 1.5x faster (bench/core_apply.py).
    """

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


# Decoders and the encoder are built once: building them is the expensive part.
event_decoder = msgspec.json.Decoder(InventoryEvent)
events_decoder = msgspec.json.Decoder(list[InventoryEvent])
event_encoder = msgspec.json.Encoder()

# No real movement is this large; the bound keeps hostile numbers (1e300, 10**40) out of the
# positions and out of exact-decimal unit conversion.
MAX_QTY = 10**12

# Event types whose `qty` is not a plain positive quantity (DESIGN's `qty` rule).
SIGNED_QTY_TYPES = frozenset({EventType.ADJUSTED})
ZERO_ALLOWED_TYPES = frozenset({EventType.COUNTED})


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of the canonical event v1, for partners and the OpenAPI docs.

    It states the per-field rules and, as `if`/`then` clauses, the cross-field rules that
    `twin.validation.validate_event` checks: the `qty` rule per type (signed and non-zero for
    ADJUSTED, >= 0 for COUNTED, > 0 otherwise) and the transfer fields. The accepted range of
    event times (configurable per deployment) is stated in the `description`.
    """
    schema = msgspec.json.schema(InventoryEvent)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "InventoryEvent v1"
    schema["description"] = (
        "Canonical inventory event v1. Cross-field rules: qty > 0, except ADJUSTED (signed, "
        "non-zero) and COUNTED (>= 0), |qty| <= 10^12; TRANSFER_SHIPPED needs to_site "
        "(different from site) and transfer_id; TRANSFER_RECEIVED needs transfer_id. "
        "occurred_at and recorded_at must lie in the deployment's range of event times, by "
        "default 2000-01-01T00:00:00Z (included) to 2100-01-01T00:00:00Z (excluded)."
    )
    body = schema["$defs"]["InventoryEvent"]
    body["properties"]["qty"].update(minimum=-MAX_QTY, maximum=MAX_QTY)

    def when(kind: str | list[str], then: dict[str, Any], negate: bool = False) -> dict[str, Any]:
        match = {"enum": kind} if isinstance(kind, list) else {"const": kind}
        test = {"not": match} if negate else match
        return {"if": {"properties": {"type": test}, "required": ["type"]}, "then": then}

    def qty(rule: dict[str, Any]) -> dict[str, Any]:
        return {"properties": {"qty": rule}}

    body["allOf"] = [
        when("ADJUSTED", qty({"not": {"const": 0}})),
        when("COUNTED", qty({"minimum": 0})),
        when(["ADJUSTED", "COUNTED"], qty({"exclusiveMinimum": 0}), negate=True),
        when("TRANSFER_SHIPPED", {"required": ["to_site", "transfer_id"]}),
        when("TRANSFER_RECEIVED", {"required": ["transfer_id"]}),
    ]
    return schema


def encode_event(event: InventoryEvent) -> bytes:
    """The canonical JSON bytes of one event (the value on `inventory.events.v1`)."""
    return event_encoder.encode(event)
