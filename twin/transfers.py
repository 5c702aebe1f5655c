"""Transfer cycle time: from `TRANSFER_SHIPPED` at the source to `TRANSFER_RECEIVED` at the
destination, matched by `transfer_id` (DESIGN's per-site metric, reported at the receiver).

Both events carry the same SKU, so the one shard that owns the SKU sees both, in whichever
order they arrive: a receipt that comes before its shipment waits for it. Memory is bounded:
at most `max_open` unmatched transfers are remembered, the oldest forgotten first (a transfer
whose other half never comes, e.g. cancelled, must not be kept for ever).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from twin.events import EventType, InventoryEvent

_SHIPPED = EventType.TRANSFER_SHIPPED
_RECEIVED = EventType.TRANSFER_RECEIVED
V = TypeVar("V")


class TransferCycles:
    """Matches the two halves of each transfer; `observe` returns a completed cycle."""

    __slots__ = ("_received", "_shipped", "max_open")

    def __init__(self, max_open: int = 10_000) -> None:
        self.max_open = max_open
        # transfer_id -> occurred_at of the half seen so far (insertion-ordered: oldest first)
        self._shipped: dict[str, datetime] = {}
        self._received: dict[str, tuple[str, datetime]] = {}

    def observe(self, event: InventoryEvent) -> tuple[str, float] | None:
        """Feed an applied event; for the second half of a transfer, return
        `(receiving site, cycle seconds)`. Every other event returns None at once."""
        etype = event.type
        if etype is not _SHIPPED and etype is not _RECEIVED:
            return None
        transfer_id = event.transfer_id
        if transfer_id is None:
            return None
        if etype is _SHIPPED:
            received = self._received.pop(transfer_id, None)
            if received is not None:
                site, received_at = received
                return site, (received_at - event.occurred_at).total_seconds()
            _remember(self._shipped, transfer_id, event.occurred_at, self.max_open)
            return None
        shipped_at = self._shipped.pop(transfer_id, None)
        if shipped_at is not None:
            return event.site, (event.occurred_at - shipped_at).total_seconds()
        _remember(self._received, transfer_id, (event.site, event.occurred_at), self.max_open)
        return None

    def open_transfers(self) -> int:
        return len(self._shipped) + len(self._received)


def _remember(table: dict[str, V], key: str, value: V, limit: int) -> None:
    table[key] = value
    if len(table) > limit:
        del table[next(iter(table))]
