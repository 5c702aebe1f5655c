"""What the API asks the history store: a ledger, and positions over time."""

from __future__ import annotations

from datetime import datetime

import msgspec

from history.ledger import BUCKETS, Ledger, build_ledger
from history.store import HistoryStore
from twin.position import to_us
from twin.wire import Position, position_decoder


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
    """The SKU's published positions with `start <= as_of < end`, one point per site (only
    `site` when given), oldest first."""
    points: list[HistoryPoint] = []
    for body in store.positions_between(sku, to_us(start), to_us(end)):
        position: Position = position_decoder.decode(body)
        for name, sp in sorted(position.sites.items()):
            if site is not None and name != site:
                continue
            points.append(
                HistoryPoint(
                    as_of=position.as_of,
                    version=position.version,
                    site=name,
                    fresh=sp.fresh,
                    **{bucket: getattr(sp, bucket) for bucket in BUCKETS},
                )
            )
    return points
