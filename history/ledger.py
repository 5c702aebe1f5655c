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

from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

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


# one C call for all of a site's figures (ATP is the core's own property)
_figures_of = attrgetter(*BUCKETS)
_ZERO: tuple[int, ...] = (0,) * len(BUCKETS)


def buckets_of(b: SiteBuckets | None) -> Buckets:
    """A site's buckets as the core holds them."""
    return dict(zip(BUCKETS, _figures(b), strict=True))


def _figures(b: SiteBuckets | None) -> tuple[int, ...]:
    return _ZERO if b is None else tuple(_figures_of(b))


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


@dataclass(slots=True)
class _Step:
    event: InventoryEvent
    applied_us: int
    status: str
    effect: Buckets  # at the ledger's site
    count_id: str  # the site's latest count after this event (the core's notion of it)


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


class _Matcher:
    """Tells, after each replayed event, whether the replay equals the published position.

    Only the sites an event touched can change, so it keeps the set of sites that differ and
    re-checks those sites alone: O(1) per event, not O(sites).
    """

    def __init__(self, position: Position | None) -> None:
        self.published = (
            {}
            if position is None
            else {site: tuple(buckets_at(position, site).values()) for site in position.sites}
        )
        self.zero = _ZERO
        self.differ = {site for site, f in self.published.items() if f != self.zero}

    def touched(self, twin: SkuTwin, sites: tuple[str, ...]) -> bool:
        for site in sites:
            if _figures(twin.sites.get(site)) == self.published.get(site, self.zero):
                self.differ.discard(site)
            else:
                self.differ.add(site)
        return not self.differ


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
    matcher = _Matcher(position)
    steps: list[_Step] = []  # the events that touched `site`
    cut_steps = 0  # how many of `steps` the published position includes
    replayed_at_cut = buckets_of(None)
    matched = position is None
    count_id = ""
    for applied_us, body in events:
        event = event_decoder.decode(body)
        touches = event.site == site or event.to_site == site
        before = buckets_of(twin.sites.get(site)) if touches else None
        try:
            status = _STATUS.get(twin.apply_code(event), "applied")
        except ValidationFailed:
            status = "rejected"
        if before is not None:
            b = twin.sites.get(site)
            after = buckets_of(b)
            count_id = b.count_id if b is not None else ""
            steps.append(_Step(event, applied_us, status, _minus(after, before), count_id))
        sites = (event.site,) if event.to_site is None else (event.site, event.to_site)
        if matcher.touched(twin, sites) or position is None:
            matched = True
            cut_steps = len(steps)
            replayed_at_cut = buckets_of(twin.sites.get(site))
    if not matched:
        # the retained events never reach the published figures (older ones were pruned):
        # all of them count, and `carried` shows what they leave unexplained
        cut_steps = len(steps)
        replayed_at_cut = buckets_of(twin.sites.get(site))
    done, pending = steps[:cut_steps], steps[cut_steps:]
    count_id = done[-1].count_id if done else ""

    count_index = next(
        (
            i
            for i in range(len(done) - 1, -1, -1)
            if done[i].event.event_id == count_id and done[i].status == "applied"
        ),
        None,
    )
    opening = dict.fromkeys(BUCKETS, 0)
    if count_index is not None:
        for s in done[:count_index]:
            opening = {k: opening[k] + s.effect[k] for k in BUCKETS}
    counted = [] if count_index is None else [done[count_index]]
    after_count = done if count_index is None else done[count_index + 1 :]

    published_here = buckets_at(position, site) if position is not None else replayed_at_cut
    carried = _minus(published_here, replayed_at_cut)
    totals = dict(opening)
    for s in counted + after_count:
        totals = {k: totals[k] + s.effect[k] for k in BUCKETS}
    totals = {k: totals[k] + carried[k] for k in BUCKETS}
    return Ledger(
        sku=sku,
        site=site,
        version=None if position is None else position.version,
        as_of=None if position is None else position.as_of,
        position=published_here,
        opening=opening,
        count=None if count_index is None else _entry(done[count_index]),
        entries=[_entry(s) for s in after_count],
        carried=carried,
        explained=not any(carried.values()),
        totals=totals,
        open_reservations=_story(done, "reserved", published_here["reserved"]),
        in_transit=_story(done, "in_transit", published_here["in_transit"]),
        pending=[_entry(s) for s in pending],
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
