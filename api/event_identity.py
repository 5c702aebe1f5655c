"""What makes two ingested events "the same": the id a key stands for, and business content.

- `event_id_for_key(identity, key)`: an `Idempotency-Key` is the caller's name for one event,
  so the event id is derived from (caller, key). Two callers' equal keys are two events, and a
  key never equals an id a client chose itself (derived ids start with `idem-` and carry 32 hex
  digits of a hash, which no client can aim at without the caller's identity).
- `business_fingerprint(event)`: a 64-bit digest of the event's business content (type, sku,
  site, qty, uom, `occurred_at` as a UTC instant, `to_site`, `transfer_id`). `recorded_at`,
  `source` and `ref` are left out: a retry may stamp them anew. It is computed from parsed
  values, so the same JSON with other whitespace, key order, `5.0` for `5` or `+00:00` for
  `Z` has the same fingerprint.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Protocol

import msgspec

KEYED_ID_PREFIX = "idem-"

_encode = msgspec.json.Encoder().encode


class BusinessContent(Protocol):
    """The fields the fingerprint reads (a canonical event, or a record read back from Kafka)."""

    @property
    def type(self) -> str: ...
    @property
    def sku(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def qty(self) -> int | float: ...
    @property
    def uom(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def to_site(self) -> str | None: ...
    @property
    def transfer_id(self) -> str | None: ...


def event_id_for_key(identity: str, key: str) -> str:
    """The event id of the single event a caller posts with `Idempotency-Key: key`."""
    digest = hashlib.sha256(f"{len(identity)}:{identity}\x00{key}".encode()).hexdigest()
    return KEYED_ID_PREFIX + digest[:32]


def business_fingerprint(event: BusinessContent) -> int:
    """A 64-bit digest of the event's business content, equal for equal parsed values."""
    qty = event.qty
    if isinstance(qty, float) and qty.is_integer():
        qty = int(qty)  # 5.0 and 5 are one quantity
    content = (
        str(event.type),
        event.sku,
        event.site,
        qty,
        event.uom,
        event.occurred_at.astimezone(UTC),
        event.to_site,
        event.transfer_id,
    )
    digest = hashlib.blake2b(_encode(content), digest_size=8).digest()
    return int.from_bytes(digest, "big")
