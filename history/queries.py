"""What the API asks the history store: a ledger, and positions over time."""

from __future__ import annotations

from datetime import datetime

import msgspec

from history.ledger import Ledger, build_ledger
from history.store import HistoryStore
from twin.position import from_us, to_us
from twin.wire import position_decoder


class HistoryPoint(msgspec.Struct, kw_only=True):
    """One SKU-site's buckets as a published position had them."""

    as_of: datetime
    version: int
    site: str
    on_hand: int
    receiving: int
    reserved: int
    picked: int
    quarantined: int
    in_transit: int
    atp: int
    fresh: bool


def ledger(store: HistoryStore, sku: str, site: str, horizon_s: float) -> Ledger | None:
    """The ledger of `sku` at `site`, None when the store knows nothing of the SKU there."""
    body = store.latest_position(sku)
    position = None if body is None else position_decoder.decode(body)
    events = store.sku_events(sku)
    if not events and (position is None or site not in position.sites):
        return None
    return build_ledger(sku, site, events, position, horizon_s)


def history(
    store: HistoryStore, sku: str, site: str | None, start: datetime, end: datetime
) -> list[HistoryPoint]:
    """The SKU's figures per site from `start` to `end`: the figures that held at `start`,
    then one point each time a published position changed them, oldest first. A point holds
    until the next point of the same site."""
    return [
        HistoryPoint(
            as_of=from_us(row[2]),
            version=row[3],
            site=row[1],
            on_hand=row[4],
            receiving=row[5],
            reserved=row[6],
            picked=row[7],
            quarantined=row[8],
            in_transit=row[9],
            atp=row[10],
            fresh=bool(row[11]),
        )
        for row in store.site_positions(sku, site, to_us(start), to_us(end))
    ]
