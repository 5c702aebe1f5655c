"""Transfer cycle times: matched by transfer id in either arrival order, memory bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from twin.events import EventType, InventoryEvent
from twin.transfers import TransferCycles

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _transfer(kind: EventType, transfer_id: str, hours: float, site: str) -> InventoryEvent:
    return InventoryEvent(
        event_id=f"{kind}-{transfer_id}",
        type=kind,
        sku="SKU-1",
        site=site,
        qty=5,
        uom="each",
        occurred_at=T0 + timedelta(hours=hours),
        source="test",
        transfer_id=transfer_id,
        to_site="DC-02" if kind is EventType.TRANSFER_SHIPPED else None,
    )


def shipped(transfer_id: str, hours: float) -> InventoryEvent:
    return _transfer(EventType.TRANSFER_SHIPPED, transfer_id, hours, "DC-01")


def received(transfer_id: str, hours: float) -> InventoryEvent:
    return _transfer(EventType.TRANSFER_RECEIVED, transfer_id, hours, "DC-02")


def test_a_transfer_completes_at_the_receiving_site_in_either_arrival_order() -> None:
    cycles = TransferCycles()
    assert cycles.observe(shipped("T1", 0)) is None
    assert cycles.observe(received("T1", 26)) == ("DC-02", 26 * 3600.0)
    # the receipt arrives first (a late shipment feed): it waits for its other half
    assert cycles.observe(received("T2", 30)) is None
    assert cycles.observe(shipped("T2", 2)) == ("DC-02", 28 * 3600.0)
    assert cycles.open_transfers() == 0


def test_other_events_and_unknown_halves_leave_nothing_behind_beyond_the_bound() -> None:
    cycles = TransferCycles(max_open=3)
    other = InventoryEvent(
        event_id="r1",
        type=EventType.RECEIVED,
        sku="SKU-1",
        site="DC-01",
        qty=1,
        uom="each",
        occurred_at=T0,
        source="test",
    )
    assert cycles.observe(other) is None
    for n in range(5):
        cycles.observe(shipped(f"T{n}", n))  # never received (e.g. cancelled)
    assert cycles.open_transfers() == 3
    # the oldest were forgotten first; the newest still match
    assert cycles.observe(received("T0", 10)) is None
    assert cycles.observe(received("T4", 10)) == ("DC-02", 6 * 3600.0)
