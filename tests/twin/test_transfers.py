"""Transfer cycle times: matched by transfer id in either arrival order, memory bounded."""

from __future__ import annotations

from tests.twin.factories import ev
from twin.events import EventType, InventoryEvent
from twin.transfers import TransferCycles


def shipped(transfer_id: str, hours: float) -> InventoryEvent:
    return ev(
        EventType.TRANSFER_SHIPPED,
        5,
        site="DC-01",
        to_site="DC-02",
        transfer_id=transfer_id,
        t=hours * 3600,
    )


def received(transfer_id: str, hours: float) -> InventoryEvent:
    return ev(EventType.TRANSFER_RECEIVED, 5, site="DC-02", transfer_id=transfer_id, t=hours * 3600)


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
    other = ev(EventType.RECEIVED, 1, site="DC-01")
    assert cycles.observe(other) is None
    for n in range(5):
        cycles.observe(shipped(f"T{n}", n))  # never received (e.g. cancelled)
    assert cycles.open_transfers() == 3
    # the oldest were forgotten first; the newest still match
    assert cycles.observe(received("T0", 10)) is None
    assert cycles.observe(received("T4", 10)) == ("DC-02", 6 * 3600.0)
