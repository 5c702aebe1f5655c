"""The position of one SKU across the network: buckets per site, folded from events.

`SkuTwin` is the pure per-SKU state machine of DESIGN.md's bucket table. It is written for
the hot path of the twin dataflow (hundreds of thousands of events per second per core):
`__slots__`, one branch per event type (types compared by identity, the most frequent
first), integers only, and event times compared as the aware datetimes they are (a
comparison costs less than converting to a timestamp; the only arithmetic is the horizon
check of an out-of-order event).
`version` grows by one per applied event that moved a bucket or a site's `last_event_at`.

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

* **Dedupe.** A SKU remembers the ids of at least its last ``dedupe_max_ids`` accepted events
  (an insertion-ordered dict; a quarter over the bound it is cut back to the newest
  ``dedupe_max_ids``: O(1) amortized per event, at most 1.25 x the bound in memory, about
  100 bytes an id, so ~32 kB per SKU with the default 256). A
  duplicate whose original is remembered changes nothing and is counted. A duplicate of an
  event that has been forgotten would be applied again, so the bound must cover the
  redelivery window of the feeds (per SKU); the horizon below covers the very old ones.
* **Event-time horizon.** An event that occurred more than ``horizon_s`` before the newest
  event seen for its SKU is *expired*: it is not applied and `apply` reports it (the caller
  counts it and can dead-letter it). Such an event can neither be deduplicated reliably nor be
  placed against counts, and in practice it is almost always a replayed duplicate. So a
  duplicate older than the horizon is never double-counted; a genuine event that late must be
  corrected with a new count or adjustment.
* **Uncounted deltas.** A site keeps at most ``max_deltas`` on-hand deltas newer than its
  latest count (about 100 bytes each); past that the oldest half is folded into ``on_hand``
  and ``fold_at`` moves up.
  A count that occurred at or before ``fold_at`` can no longer be placed exactly and is treated
  as superseded (it changes nothing and is counted in ``superseded_counts``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from msgspec.structs import astuple
from mypy_extensions import mypyc_attr

from twin.errors import FieldError, ValidationFailed
from twin.events import EventType, InventoryEvent
from twin.validation import whole_qty
from twin.wire import NetworkTotals, Position, SitePosition

# `@mypyc_attr` on the classes: why each, in `twin._compiled`'s docstring

if TYPE_CHECKING:
    from twin.rules import DemandBaseline

# "before anything": the initial latest-count, fold and newest-event times
BEGINNING: Final = datetime.min.replace(tzinfo=UTC)


@mypyc_attr(native_class=False)  # a plain frozen dataclass: it pickles as one
@dataclass(frozen=True, slots=True)
class PositionConfig:
    """Memory bounds of one SKU's state (see the module docstring for what they mean)."""

    dedupe_max_ids: int = 256
    horizon_s: float = 7 * 24 * 3600.0
    max_deltas: int = 64
    # Derived once here, so every SKU of a shard shares the same objects: a SKU's own copy
    # of the number 320 would be one more cold cache line read on every event.
    ids_limit: int = field(init=False, repr=False, compare=False)
    horizon: timedelta = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.dedupe_max_ids < 1 or self.max_deltas < 2 or self.horizon_s <= 0:
            raise ValueError(
                "PositionConfig needs dedupe_max_ids >= 1, max_deltas >= 2 and horizon_s > 0"
            )
        max_ids = self.dedupe_max_ids
        # a quarter over the bound, the ids are cut back to it (see SkuTwin._trim_ids)
        object.__setattr__(self, "ids_limit", max_ids + max(1, max_ids // 4))
        object.__setattr__(self, "horizon", timedelta(seconds=self.horizon_s))


# SiteBuckets' attributes: its __slots__, and what it pickles
_BUCKET_SLOTS = (
    "alert_mask",
    "atp_floor",
    "count_at",
    "count_id",
    "deltas",
    "episodes",
    "fold_at",
    "in_transit",
    "last_event_at",
    "list_after",
    "on_hand",
    "picked",
    "quarantined",
    "receiving",
    "reorder_point",
    "reserved",
    "rules_token",
)


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class SiteBuckets:
    """One SKU's buckets at one site, plus what COUNTED semantics and the rules need."""

    __slots__ = _BUCKET_SLOTS

    def __init__(self) -> None:
        self.on_hand = 0
        self.receiving = 0
        self.reserved = 0
        self.picked = 0
        self.quarantined = 0
        self.in_transit = 0
        self.last_event_at: datetime | None = None
        self.count_at = BEGINNING
        self.count_id = ""
        self.fold_at = BEGINNING
        # max(count_at, fold_at): on-hand deltas after it are listed in `deltas`
        self.list_after = BEGINNING
        # on-hand deltas newer than the latest count, as (occurred_at, qty)
        self.deltas: list[tuple[datetime, int]] = []
        # rule state (twin.rules): bit mask of open conditions, episode number per kind
        self.alert_mask = 0
        self.episodes: dict[str, int] | None = None
        # the site's reorder point, cached by the RuleBook whose `token` is in rules_token
        self.reorder_point: int | None = None
        # the lowest ATP at which no bucket condition holds: max(reorder point, 0), cached
        # with it, so the shard can tell in one comparison that the rules would find nothing
        self.atp_floor = 0
        self.rules_token: object = None

    def __getstate__(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _BUCKET_SLOTS}

    def __setstate__(self, state: dict[str, object] | tuple[None, dict[str, object]]) -> None:
        # A snapshot taken before a slot existed resumes with that slot's default. Older
        # snapshots hold the (None, slots) pair that pickle makes of a plain slotted class.
        self.reorder_point = None
        self.atp_floor = 0
        self.rules_token = None
        for name, value in (state if isinstance(state, dict) else state[1]).items():
            setattr(self, name, value)

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


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class CountOutcome:
    """What the last applied COUNTED did: `book` is on_hand the twin held at the count's time.

    `opening` is True for the first count of a site with no earlier movement known: it sets
    the opening balance and says nothing about a discrepancy.
    """

    __slots__ = ("book", "counted", "event_id", "occurred_at", "opening", "site")

    def __init__(
        self,
        site: str,
        counted: int,
        book: int,
        event_id: str,
        occurred_at: datetime,
        opening: bool = False,
    ):
        self.site = site
        self.counted = counted
        self.book = book
        self.event_id = event_id
        self.occurred_at = occurred_at
        self.opening = opening

    @property
    def difference(self) -> int:
        return self.counted - self.book


# Where each field the core reads sits in `msgspec.structs.astuple(event)` (checked below)
EVENT_ID: Final = 0
TYPE: Final = 1
SKU: Final = 2
SITE: Final = 3
QTY: Final = 4
OCCURRED_AT: Final = 6
TO_SITE: Final = 9
_POSITIONS = {
    EVENT_ID: "event_id",
    TYPE: "type",
    SKU: "sku",
    SITE: "site",
    QTY: "qty",
    OCCURRED_AT: "occurred_at",
    TO_SITE: "to_site",
}
if any(InventoryEvent.__struct_fields__[i] != name for i, name in _POSITIONS.items()):
    raise ImportError("twin.position's field positions no longer match InventoryEvent's")

# Module constants are `Final`: compiled (setup.py), any other global is a dict lookup
# on every use, a Final one a C static.
_EVENT_TYPE: Final = EventType
_RECEIVED: Final = EventType.RECEIVED
_PUT_AWAY: Final = EventType.PUT_AWAY
_RESERVED: Final = EventType.RESERVED
_RESERVATION_RELEASED: Final = EventType.RESERVATION_RELEASED
_PICKED: Final = EventType.PICKED
_SHIPPED: Final = EventType.SHIPPED
_TRANSFER_SHIPPED: Final = EventType.TRANSFER_SHIPPED
_TRANSFER_RECEIVED: Final = EventType.TRANSFER_RECEIVED
_QUALITY_HOLD: Final = EventType.QUALITY_HOLD
_QUALITY_RELEASE: Final = EventType.QUALITY_RELEASE
_RETURNED: Final = EventType.RETURNED
_ADJUSTED: Final = EventType.ADJUSTED
_COUNTED: Final = EventType.COUNTED

# Apply outcomes (small ints so the hot path compares cheaply; 0 is the common case).
CHANGED: Final = 0
DUPLICATE: Final = 1
EXPIRED: Final = 2
UNCHANGED: Final = 3  # applied (id remembered) but nothing visible moved, e.g. a superseded count
CONFLICT: Final = 5  # an id seen before with other business content: not applied, dead-lettered


_NO_TO_SITE: Final = "a TRANSFER_SHIPPED needs to_site, the site the stock travels to"


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class SkuTwin:
    """The pure state of one SKU across sites. `apply(event)` is False for a duplicate."""

    __slots__ = (
        "_horizon",
        "_id_set",
        "_ids_limit",
        "_max_deltas",
        "baselines",
        "config",
        "duplicates",
        "expired",
        "last_count",
        "max_at",
        "sites",
        "sku",
        "superseded_counts",
        "version",
    )

    def __init__(self, sku: str, config: PositionConfig | None = None) -> None:
        self.sku = sku
        self.config = config if config is not None else PositionConfig()
        self._horizon = self.config.horizon
        self._ids_limit = self.config.ids_limit
        self._max_deltas = self.config.max_deltas
        self.version = 0
        self.sites: dict[str, SiteBuckets] = {}
        self.max_at = BEGINNING
        # accepted event ids in arrival order (a dict used as an insertion-ordered set)
        self._id_set: dict[str, None] = {}
        self.duplicates = 0
        self.expired = 0
        self.superseded_counts = 0
        # set by a COUNTED that took effect (None after a superseded one); read by the rules
        self.last_count: CountOutcome | None = None
        # demand baselines per site for the ANOMALY rule (twin.rules), created lazily
        self.baselines: dict[str, DemandBaseline] | None = None

    def seen(self, event_id: str) -> bool:
        return event_id in self._id_set

    def _trim_ids(self) -> None:
        keep = list(self._id_set)[-self.config.dedupe_max_ids :]
        self._id_set = dict.fromkeys(keep)

    def apply(self, event: InventoryEvent) -> bool:
        """Fold one event in; False when it is a duplicate (or expired) and changed nothing."""
        code = self.apply_code(event)
        return code in (CHANGED, UNCHANGED)

    def apply_code(self, event: InventoryEvent) -> int:
        """Fold one event in; returns CHANGED, UNCHANGED, DUPLICATE or EXPIRED.

        CHANGED means the position moved (`version` grew); the site that moved is
        `event.site` (and, for a transfer, `in_transit` at `event.to_site`). An event that
        breaks the canonical contract (a fractional qty, a TRANSFER_SHIPPED without `to_site`)
        raises `ValidationFailed` before anything changes.
        """
        return self.apply_fields(astuple(event))

    def apply_fields(self, fields: tuple[Any, ...]) -> int:
        """`apply_code` of the event whose `msgspec.structs.astuple` is `fields`.

        The shard's path: it takes an event's fields once, in one call, for itself and for
        this (compiled, each attribute read by name would be a lookup of its own).
        """
        event_id: str = fields[EVENT_ID]
        id_set = self._id_set
        if event_id in id_set:
            self.duplicates += 1
            return DUPLICATE
        etype = fields[TYPE]
        if type(etype) is not _EVENT_TYPE:  # a plain string naming a type (only code builds one)
            return self.apply_fields((*fields[:TYPE], EventType(etype), *fields[TYPE + 1 :]))
        # contract checks first, so a malformed event changes nothing at all
        raw_qty = fields[QTY]
        q: int = raw_qty if raw_qty.__class__ is int else whole_qty(raw_qty)
        if etype is _TRANSFER_SHIPPED and fields[TO_SITE] is None:
            raise ValidationFailed(
                [FieldError(field="to_site", code="required", message=_NO_TO_SITE)]
            )
        at: datetime = fields[OCCURRED_AT]
        max_at = self.max_at
        if at > max_at:
            self.max_at = at
        elif max_at - at > self._horizon:
            self.expired += 1
            return EXPIRED

        site: str = fields[SITE]
        b = self.sites.get(site)
        if b is None:
            b = self.sites[_shared(site)] = SiteBuckets()
        # DESIGN's bucket table, the most frequent types first, compared by identity (the
        # decoder gives the EventType members themselves). `delta` is the on-hand change,
        # placed below by COUNTED semantics.
        if etype is _RESERVED:
            b.reserved += q
            delta = 0
        elif etype is _PICKED:
            b.reserved -= q
            b.picked += q
            delta = 0
        elif etype is _SHIPPED:
            b.picked -= q
            delta = -q
        elif etype is _RECEIVED:
            b.receiving += q
            delta = q
        elif etype is _PUT_AWAY:
            b.receiving -= q
            delta = 0
        elif etype is _RESERVATION_RELEASED:
            b.reserved -= q
            delta = 0
        elif etype is _QUALITY_HOLD:
            b.quarantined += q
            delta = 0
        elif etype is _QUALITY_RELEASE:
            b.quarantined -= q
            delta = 0
        elif etype is _ADJUSTED:
            delta = q
        elif etype is _COUNTED:
            delta = 0  # it sets on-hand instead, below
        elif etype is _TRANSFER_SHIPPED:
            self._ship_to(fields[TO_SITE], q)
            delta = -q
        elif etype is _TRANSFER_RECEIVED:
            b.receiving += q
            b.in_transit -= q
            delta = q
        elif etype is _RETURNED:
            b.quarantined += q
            delta = q
        else:
            raise AssertionError(f"{etype!r} has no branch in SkuTwin.apply_fields")

        # remember the id; a quarter over the bound, keep only the newest `dedupe_max_ids`
        id_set[event_id] = None
        if len(id_set) > self._ids_limit:
            self._trim_ids()
        last = b.last_event_at
        if last is None or at > last:
            b.last_event_at = at
            moved = True
        else:
            moved = False
        if delta:
            if at > b.list_after:
                b.on_hand += delta
                deltas = b.deltas
                deltas.append((at, delta))
                if len(deltas) > self._max_deltas:
                    _fold(b)
            elif at > b.count_at:  # after the count but among the folded deltas
                b.on_hand += delta
            elif etype is _ADJUSTED and not moved:
                return UNCHANGED  # inside the count, and it moves nothing else
        elif etype is _COUNTED and not self._count(b, site, event_id, at, q) and not moved:
            return UNCHANGED  # superseded, or equal to the on-hand it already held
        self.version += 1
        return CHANGED

    def _ship_to(self, to_site: str | None, q: int) -> None:
        assert to_site is not None  # checked before anything changed
        dest = self.sites.get(to_site)
        if dest is None:
            dest = self.sites[_shared(to_site)] = SiteBuckets()
        dest.in_transit += q

    def _count(self, b: SiteBuckets, site: str, event_id: str, at: datetime, q: int) -> bool:
        """Apply a COUNTED; True when on_hand changed. Older counts are superseded."""
        if at < b.count_at or (at == b.count_at and event_id <= b.count_id) or at <= b.fold_at:
            self.superseded_counts += 1
            self.last_count = None
            return False
        later = [d for d in b.deltas if d[0] > at]
        later_sum = sum(d[1] for d in later)
        book = b.on_hand - later_sum
        opening = not b.count_id and b.fold_at == BEGINNING and len(later) == len(b.deltas)
        b.deltas = later
        b.count_at = b.list_after = at
        b.count_id = event_id
        before = b.on_hand
        b.on_hand = q + later_sum
        self.last_count = CountOutcome(site, q, book, event_id, at, opening)
        return b.on_hand != before

    # -- read --------------------------------------------------------------------------
    def position(self, as_of: datetime, fresh: Callable[[str], bool]) -> Position:
        """The wire Position; `fresh(site)` says whether a site's feed is up to date."""
        sites = {}
        on_hand = atp = in_transit = 0
        for site in sorted(self.sites):
            sp = self.sites[site].to_wire(fresh(site))
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


def _shared(site: str) -> str:
    """The one string object for a site id, so every SKU's `sites` dict holds the same few
    keys: comparing a looked-up id against a key then reads memory that is already in
    cache, not a string of its own per SKU (one cold cache line per event)."""
    return sys.intern(site) if site.__class__ is str else site


def _fold(b: SiteBuckets) -> None:
    """Forget the oldest half of a site's uncounted deltas (they stay inside on_hand)."""
    b.deltas.sort(key=_at)
    half = len(b.deltas) // 2
    fold_at = b.fold_at = b.deltas[half - 1][0]
    b.deltas = [d for d in b.deltas[half:] if d[0] > fold_at]
    b.list_after = max(b.count_at, fold_at)


def _at(delta: tuple[datetime, int]) -> datetime:
    return delta[0]
