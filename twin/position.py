"""The position of one SKU across the network: buckets per site, folded from events.

`SkuTwin` is the pure per-SKU state machine of DESIGN.md's bucket table. It is written for
the hot path of the twin dataflow (hundreds of thousands of events per second per core):
`__slots__`, one small function per event type chosen through a dict, integers only, and
event times kept as POSIX-second floats so ordering needs no datetime arithmetic.

Semantics that hold whatever the arrival order of a set of events:

* ``atp = on_hand - receiving - reserved - picked - quarantined`` (may go negative).
* ``in_transit`` is held at the destination: ``TRANSFER_SHIPPED`` adds it at ``to_site``,
  ``TRANSFER_RECEIVED`` takes it off at ``site``.
* ``COUNTED`` fixes ``on_hand`` as of its ``occurred_at``. A site's ``on_hand`` is the latest
  count (by ``occurred_at``, ties broken by the larger ``event_id``) plus the on-hand deltas
  that occurred strictly after it. Deltas at or before the count are inside it whenever they
  arrive; a late count keeps the later deltas already applied. Deltas older than the latest
  count are forgotten: only the deltas after it are kept (as ``(time, qty)`` pairs).

Bounded memory, and what the bounds mean (all configurable in `PositionConfig`):

* **Dedupe.** A SKU remembers the ids of its last ``dedupe_max_ids`` accepted events (a ring
  plus a set, O(1) per event). A duplicate whose original is still in the ring changes
  nothing and is counted. A duplicate of an event that has fallen out of the ring would be
  applied again, so the ring must cover the redelivery window of the feeds.
* **Event-time horizon.** An event that occurred more than ``horizon_s`` before the newest
  event seen for its SKU is *expired*: it is not applied and `apply` reports it (the caller
  counts it and can dead-letter it). Such an event can neither be deduplicated reliably nor be
  placed against counts, and in practice it is almost always a replayed duplicate. So a
  duplicate older than the horizon is never double-counted; a genuine event that late must be
  corrected with a new count or adjustment.
* **Uncounted deltas.** A site keeps at most ``max_deltas`` on-hand deltas newer than its
  latest count; past that the oldest half is folded into ``on_hand`` and ``fold_ts`` moves up.
  A count that occurred at or before ``fold_ts`` can no longer be placed exactly and is treated
  as superseded (it changes nothing and is counted in ``superseded_counts``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from twin.events import EventType, InventoryEvent
from twin.wire import NetworkTotals, Position, SitePosition

if TYPE_CHECKING:
    from twin.rules import DemandBaseline

NEG_INF = -math.inf


@dataclass(frozen=True, slots=True)
class PositionConfig:
    """Memory bounds of one SKU's state (see the module docstring for what they mean)."""

    dedupe_max_ids: int = 1024
    horizon_s: float = 7 * 24 * 3600.0
    max_deltas: int = 512


class SiteBuckets:
    """One SKU's buckets at one site, plus what COUNTED semantics and the rules need."""

    __slots__ = (
        "alert_mask",
        "count_id",
        "count_ts",
        "deltas",
        "episodes",
        "fold_ts",
        "in_transit",
        "last_event_at",
        "last_ts",
        "on_hand",
        "picked",
        "quarantined",
        "receiving",
        "reserved",
    )

    def __init__(self) -> None:
        self.on_hand = 0
        self.receiving = 0
        self.reserved = 0
        self.picked = 0
        self.quarantined = 0
        self.in_transit = 0
        self.last_ts = NEG_INF
        self.last_event_at: datetime | None = None
        self.count_ts = NEG_INF
        self.count_id = ""
        self.fold_ts = NEG_INF
        # on-hand deltas newer than the latest count, as (occurred_at POSIX s, qty)
        self.deltas: list[tuple[float, int]] = []
        # rule state (twin.rules): bit mask of open conditions, episode number per kind
        self.alert_mask = 0
        self.episodes: dict[str, int] | None = None

    @property
    def atp(self) -> int:
        return self.on_hand - self.receiving - self.reserved - self.picked - self.quarantined

    def to_wire(self, fresh: bool) -> SitePosition:
        return SitePosition(
            on_hand=self.on_hand,
            receiving=self.receiving,
            reserved=self.reserved,
            picked=self.picked,
            quarantined=self.quarantined,
            in_transit=self.in_transit,
            atp=self.atp,
            last_event_at=self.last_event_at,
            fresh=fresh,
        )


class CountOutcome:
    """What the last applied COUNTED did: `book` is on_hand the twin held at the count's time."""

    __slots__ = ("book", "counted", "event_id", "occurred_at", "site")

    def __init__(self, site: str, counted: int, book: int, event_id: str, occurred_at: datetime):
        self.site = site
        self.counted = counted
        self.book = book
        self.event_id = event_id
        self.occurred_at = occurred_at

    @property
    def difference(self) -> int:
        return self.counted - self.book


# One small function per event type: change the non-on-hand buckets, return the on-hand delta.
def _received(b: SiteBuckets, q: int) -> int:
    b.receiving += q
    return q


def _put_away(b: SiteBuckets, q: int) -> int:
    b.receiving -= q
    return 0


def _reserved(b: SiteBuckets, q: int) -> int:
    b.reserved += q
    return 0


def _reservation_released(b: SiteBuckets, q: int) -> int:
    b.reserved -= q
    return 0


def _picked(b: SiteBuckets, q: int) -> int:
    b.reserved -= q
    b.picked += q
    return 0


def _shipped(b: SiteBuckets, q: int) -> int:
    b.picked -= q
    return -q


def _transfer_shipped(b: SiteBuckets, q: int) -> int:
    # in_transit at to_site is added by SkuTwin.apply, which knows the destination
    return -q


def _transfer_received(b: SiteBuckets, q: int) -> int:
    b.receiving += q
    b.in_transit -= q
    return q


def _quality_hold(b: SiteBuckets, q: int) -> int:
    b.quarantined += q
    return 0


def _quality_release(b: SiteBuckets, q: int) -> int:
    b.quarantined -= q
    return 0


def _returned(b: SiteBuckets, q: int) -> int:
    b.quarantined += q
    return q


def _adjusted(b: SiteBuckets, q: int) -> int:
    return q


_EFFECTS: dict[str, Callable[[SiteBuckets, int], int]] = {
    EventType.RECEIVED: _received,
    EventType.PUT_AWAY: _put_away,
    EventType.RESERVED: _reserved,
    EventType.RESERVATION_RELEASED: _reservation_released,
    EventType.PICKED: _picked,
    EventType.SHIPPED: _shipped,
    EventType.TRANSFER_SHIPPED: _transfer_shipped,
    EventType.TRANSFER_RECEIVED: _transfer_received,
    EventType.QUALITY_HOLD: _quality_hold,
    EventType.QUALITY_RELEASE: _quality_release,
    EventType.RETURNED: _returned,
    EventType.ADJUSTED: _adjusted,
}

_COUNTED = EventType.COUNTED
_TRANSFER_SHIPPED = EventType.TRANSFER_SHIPPED
_ADJUSTED = EventType.ADJUSTED

# Apply outcomes (ints so the hot path compares cheaply).
APPLIED = 0
DUPLICATE = 1
EXPIRED = 2


def _as_int(qty: float) -> int:
    as_int = int(qty)
    if as_int != qty:
        raise ValueError(f"qty {qty!r} is not a whole number of base units")
    return as_int


class SkuTwin:
    """The pure state of one SKU across sites. `apply(event)` is False for a duplicate."""

    __slots__ = (
        "_id_ring",
        "_id_set",
        "_ring_pos",
        "baselines",
        "config",
        "duplicates",
        "expired",
        "last_change_site",
        "last_count",
        "max_ts",
        "sites",
        "sku",
        "superseded_counts",
        "version",
    )

    def __init__(self, sku: str, config: PositionConfig | None = None) -> None:
        self.sku = sku
        self.config = config if config is not None else PositionConfig()
        self.version = 0
        self.sites: dict[str, SiteBuckets] = {}
        self.max_ts = NEG_INF
        self._id_ring: list[str] = []
        self._id_set: set[str] = set()
        self._ring_pos = 0
        self.duplicates = 0
        self.expired = 0
        self.superseded_counts = 0
        # set by apply: the outcome of the last COUNTED that moved a count (else None)
        self.last_count: CountOutcome | None = None
        # set by apply: whether the last applied event changed the position
        self.last_change_site: str | None = None
        # demand baselines per site for the ANOMALY rule (twin.rules), created lazily
        self.baselines: dict[str, DemandBaseline] | None = None

    # -- dedupe ------------------------------------------------------------------------
    def _remember(self, event_id: str) -> None:
        ring = self._id_ring
        if len(ring) < self.config.dedupe_max_ids:
            ring.append(event_id)
        else:
            pos = self._ring_pos
            self._id_set.discard(ring[pos])
            ring[pos] = event_id
            self._ring_pos = (pos + 1) % len(ring)
        self._id_set.add(event_id)

    def seen(self, event_id: str) -> bool:
        return event_id in self._id_set

    # -- apply -------------------------------------------------------------------------
    def apply(self, event: InventoryEvent) -> bool:
        """Fold one event in; False when it is a duplicate (or expired) and changed nothing."""
        return self.apply_at(event, event.occurred_at.timestamp()) == APPLIED

    def apply_at(self, event: InventoryEvent, ts: float) -> int:
        """Fold one event that occurred at `ts` (POSIX s); APPLIED, DUPLICATE or EXPIRED.

        After APPLIED, `last_change_site` names the site whose buckets or `last_event_at`
        changed (None if nothing visible changed) and `last_count` holds the count outcome
        for a COUNTED that took effect.
        """
        self.last_count = None
        self.last_change_site = None
        event_id = event.event_id
        if event_id in self._id_set:
            self.duplicates += 1
            return DUPLICATE
        max_ts = self.max_ts
        if ts < max_ts - self.config.horizon_s:
            self.expired += 1
            return EXPIRED
        if ts > max_ts:
            self.max_ts = ts
        self._remember(event_id)

        site = event.site
        sites = self.sites
        b = sites.get(site)
        if b is None:
            b = sites[site] = SiteBuckets()
        q = event.qty
        if q.__class__ is not int:
            q = _as_int(q)
        changed = False
        if ts > b.last_ts:
            b.last_ts = ts
            b.last_event_at = event.occurred_at
            changed = True

        etype = event.type
        if etype == _COUNTED:
            if self._count(b, site, event, ts, q):
                changed = True
        else:
            delta = _EFFECTS[etype](b, q)
            if etype == _TRANSFER_SHIPPED:
                to_site = event.to_site
                if to_site is None:
                    raise ValueError("TRANSFER_SHIPPED without to_site")
                dest = sites.get(to_site)
                if dest is None:
                    dest = sites[to_site] = SiteBuckets()
                dest.in_transit += q
            if delta and ts > b.count_ts:
                # a delta at or before the latest count is inside that count
                b.on_hand += delta
                if ts > b.fold_ts:
                    b.deltas.append((ts, delta))
                    if len(b.deltas) > self.config.max_deltas:
                        _fold(b)
            # every non-COUNTED type except an absorbed ADJUSTED moves some bucket
            if etype != _ADJUSTED or ts > b.count_ts:
                changed = True
        if changed:
            self.version += 1
            self.last_change_site = site
        return APPLIED

    def _count(self, b: SiteBuckets, site: str, event: InventoryEvent, ts: float, q: int) -> bool:
        """Apply a COUNTED; True when on_hand changed. Older counts are superseded."""
        if (
            ts < b.count_ts
            or (ts == b.count_ts and event.event_id <= b.count_id)
            or ts <= b.fold_ts
        ):
            self.superseded_counts += 1
            return False
        later = [d for d in b.deltas if d[0] > ts]
        later_sum = sum(d[1] for d in later)
        book = b.on_hand - later_sum
        b.deltas = later
        b.count_ts = ts
        b.count_id = event.event_id
        before = b.on_hand
        b.on_hand = q + later_sum
        self.last_count = CountOutcome(site, q, book, event.event_id, event.occurred_at)
        return b.on_hand != before

    # -- read --------------------------------------------------------------------------
    def position(self, as_of: datetime, fresh: Callable[[str], bool]) -> Position:
        """The wire Position; `fresh(site)` says whether a site's feed is up to date."""
        sites = {}
        on_hand = atp = in_transit = 0
        for site in sorted(self.sites):
            b = self.sites[site]
            sp = b.to_wire(fresh(site))
            sites[site] = sp
            on_hand += sp.on_hand
            atp += sp.atp
            in_transit += sp.in_transit
        return Position(
            sku=self.sku,
            version=self.version,
            as_of=as_of,
            sites=sites,
            network=NetworkTotals(on_hand=on_hand, atp=atp, in_transit=in_transit),
        )

    def atp_by_site(self) -> dict[str, int]:
        return {site: b.atp for site, b in self.sites.items()}


def _fold(b: SiteBuckets) -> None:
    """Forget the oldest half of a site's uncounted deltas (they stay inside on_hand)."""
    b.deltas.sort()
    half = len(b.deltas) // 2
    b.fold_ts = b.deltas[half - 1][0]
    b.deltas = [d for d in b.deltas[half:] if d[0] > b.fold_ts]
