"""Small builders for canonical events and master data used by the twin core tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from twin.events import EventType, InventoryEvent
from twin.masterdata import Lane, MasterData, Site, Sku

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
_ids = count(1)


def at(seconds: float) -> datetime:
    """T0 plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def ev(
    type_: EventType | str,
    qty: int,
    *,
    site: str = "WH-01",
    sku: str = "SKU-1",
    t: float = 0.0,
    event_id: str | None = None,
    to_site: str | None = None,
    transfer_id: str | None = None,
) -> InventoryEvent:
    """A canonical event; ids are unique unless given."""
    etype = EventType(type_)
    if etype in (EventType.TRANSFER_SHIPPED, EventType.TRANSFER_RECEIVED) and transfer_id is None:
        transfer_id = "TR-1"
    return InventoryEvent(
        event_id=event_id if event_id is not None else f"E{next(_ids)}",
        type=etype,
        sku=sku,
        site=site,
        qty=qty,
        uom="each",
        occurred_at=at(t),
        source=f"wms-api:{site}",
        to_site=to_site,
        transfer_id=transfer_id,
    )


def master(
    *,
    reorder_point: dict[str, int] | None = None,
    target: dict[str, int] | None = None,
    unit_value: float = 10.0,
    lanes: list[tuple[str, str, float]] | None = None,
    sites: tuple[str, ...] = ("WH-01", "WH-02", "WH-03"),
    interval_s: float = 60.0,
) -> MasterData:
    """A three-site network with one SKU, SKU-1."""
    return MasterData(
        sites=[Site(id=s, feed_mode="api", expected_interval_s=interval_s) for s in sites],
        skus=[
            Sku(
                id="SKU-1",
                base_uom="each",
                uom_factors={"each": 1},
                unit_value=unit_value,
                reorder_point=reorder_point or {},
                target=target or {},
            )
        ],
        lanes=[Lane(from_site=a, to_site=b, transit_hours=h) for a, b, h in (lanes or [])],
    )
