"""Why a SKU-site's figures are what they are: its stored events replayed through the core.

Each stored event of the SKU is folded into a fresh `twin.position.SkuTwin` in log order (the
order the twin applied them), and an event's effect on each bucket is what the core's own
rules moved: no bucket table or ATP formula of its own here. The replay stops at the last
event whose state equals the latest published position; later events are `pending` (logged,
not yet in a published position). When the retained events cannot explain the position
(older events pruned), the difference is shown as `carried` instead of being hidden.

The ledger of one site: the buckets just before the latest count (`opening`), the count,
every entry after it, and `carried`: the buckets of each add up to the position.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from twin.errors import ValidationFailed
from twin.events import InventoryEvent, event_decoder
from twin.position import (
    CHANGED,
    CONFLICT,
    DUPLICATE,
    EXPIRED,
    UNCHANGED,
    PositionConfig,
    SiteBuckets,
    SkuTwin,
    from_us,
)
from twin.wire import Position, SitePosition

BUCKETS = ("on_hand", "receiving", "reserved", "picked", "quarantined", "in_transit", "atp")
_STATUS = {
    CHANGED: "applied",
    UNCHANGED: "unchanged",
    DUPLICATE: "duplicate",
    EXPIRED: "expired",
    CONFLICT: "conflict",
}
Buckets = dict[str, int]


def buckets_of(b: SiteBuckets | None) -> Buckets:
    """A site's buckets as the core holds them (ATP is the core's own property)."""
    if b is None:
        return dict.fromkeys(BUCKETS, 0)
    return {name: int(getattr(b, name)) for name in BUCKETS}


def buckets_at(position: Position | None, site: str) -> Buckets:
    sp = None if position is None else position.sites.get(site)
    if sp is None:
        sp = SitePosition()
    return {name: int(getattr(sp, name)) for name in BUCKETS}


def _minus(a: Buckets, b: Buckets) -> Buckets:
    return {name: a[name] - b[name] for name in BUCKETS}


class LedgerEntry(msgspec.Struct, kw_only=True):
    """One event and what it moved at the ledger's site."""

    event_id: str
    type: str
    site: str
    to_site: str | None
    qty: int | float
    source: str
    feed: str  # the feed family: the source's part before ':' (wms-api, batch, 3pl, ...)
    transfer_id: str | None
    ref: str | None
    occurred_at: datetime
    recorded_at: datetime | None
    applied_at: datetime  # appended to the canonical log, the order the twin applies in
    status: str  # applied, unchanged, duplicate, expired, conflict, rejected
    effect: Buckets


class BucketStory(msgspec.Struct, kw_only=True):
    """A bucket's balance and the entries since it was last zero: they add up to it."""

    balance: int
    entries: list[LedgerEntry]


class Ledger(msgspec.Struct, kw_only=True):
    sku: str
    site: str
    version: int | None  # of the published position explained; None before any
    as_of: datetime | None
    position: Buckets
    opening: Buckets  # before the latest count (or before the first retained event)
    count: LedgerEntry | None
    entries: list[LedgerEntry]
    carried: Buckets  # what the retained events do not explain; zeros when they do
    explained: bool
    totals: Buckets  # opening + count + entries + carried == position
    open_reservations: BucketStory
    in_transit: BucketStory
    pending: list[LedgerEntry] = msgspec.field(default_factory=list)


@dataclass
class _Step:
    event: InventoryEvent
    applied_us: int
    status: str
    effect: Buckets  # at the ledger's site
    state: dict[str, tuple[int, ...]] = field(default_factory=dict)


def _entry(step: _Step) -> LedgerEntry:
    e = step.event
    return LedgerEntry(
        event_id=e.event_id,
        type=str(e.type),
        site=e.site,
        to_site=e.to_site,
        qty=e.qty,
        source=e.source,
        feed=e.source.split(":", 1)[0],
        transfer_id=e.transfer_id,
        ref=e.ref,
        occurred_at=e.occurred_at,
        recorded_at=e.recorded_at,
        applied_at=from_us(step.applied_us),
        status=step.status,
        effect=step.effect,
    )


def _signature(twin: SkuTwin) -> dict[str, tuple[int, ...]]:
    return {site: tuple(buckets_of(b).values()) for site, b in twin.sites.items()}


def _published_signature(position: Position) -> dict[str, tuple[int, ...]]:
    return {site: tuple(buckets_at(position, site).values()) for site in position.sites}


def build_ledger(
    sku: str,
    site: str,
    events: list[tuple[int, bytes]],
    position: Position | None,
    horizon_s: float = PositionConfig().horizon_s,
) -> Ledger:
    """The ledger of `sku` at `site` from the SKU's stored events `(applied_us, JSON)` in log
    order and its latest published position (None before any)."""
    twin = SkuTwin(sku, PositionConfig(horizon_s))
    steps: list[_Step] = []
    for applied_us, body in events:
        event = event_decoder.decode(body)
        before = buckets_of(twin.sites.get(site))
        try:
            status = _STATUS.get(twin.apply_code(event), "applied")
        except ValidationFailed:
            status = "rejected"
        effect = _minus(buckets_of(twin.sites.get(site)), before)
        steps.append(_Step(event, applied_us, status, effect, _signature(twin)))

    cut = len(steps)
    if position is not None:
        published = _published_signature(position)
        matching = [i + 1 for i, s in enumerate(steps) if s.state == published]
        if matching:
            cut = matching[-1]
    done, pending = steps[:cut], steps[cut:]
    mine = [s for s in done if s.event.site == site or s.event.to_site == site]

    count_id = ""
    replay = SkuTwin(sku, PositionConfig(horizon_s))
    for s in done:
        with contextlib.suppress(ValidationFailed):
            replay.apply_code(s.event)
    if (b := replay.sites.get(site)) is not None:
        count_id = b.count_id
    replayed = buckets_of(replay.sites.get(site))

    count_index = next(
        (
            i
            for i in range(len(mine) - 1, -1, -1)
            if mine[i].event.event_id == count_id and mine[i].status == "applied"
        ),
        None,
    )
    opening = dict.fromkeys(BUCKETS, 0)
    if count_index is not None:
        for s in mine[:count_index]:
            opening = {k: opening[k] + s.effect[k] for k in BUCKETS}
    after = mine if count_index is None else mine[count_index + 1 :]

    published_here = buckets_at(position, site) if position is not None else replayed
    carried = _minus(published_here, replayed)
    totals = dict(opening)
    for s in ([] if count_index is None else [mine[count_index]]) + after:
        totals = {k: totals[k] + s.effect[k] for k in BUCKETS}
    totals = {k: totals[k] + carried[k] for k in BUCKETS}
    return Ledger(
        sku=sku,
        site=site,
        version=None if position is None else position.version,
        as_of=None if position is None else position.as_of,
        position=published_here,
        opening=opening,
        count=None if count_index is None else _entry(mine[count_index]),
        entries=[_entry(s) for s in after],
        carried=carried,
        explained=not any(carried.values()),
        totals=totals,
        open_reservations=_story(mine, "reserved", published_here["reserved"]),
        in_transit=_story(mine, "in_transit", published_here["in_transit"]),
        pending=[_entry(s) for s in pending if s.event.site == site or s.event.to_site == site],
    )


def _story(steps: list[_Step], bucket: str, balance: int) -> BucketStory:
    """The entries that moved `bucket` since it was last zero (they make up its balance)."""
    running = 0
    since = 0
    for i, s in enumerate(steps):
        running += s.effect[bucket]
        if running == 0:
            since = i + 1
    moved = [_entry(s) for s in steps[since:] if s.effect[bucket]]
    return BucketStory(balance=balance, entries=moved)
