"""The position of one SKU across the network: buckets per site, folded from events.

`SkuTwin` is the pure per-SKU state machine of DESIGN.md's bucket table. It is written for
the hot path of the twin dataflow (hundreds of thousands of events per second per core):
`__slots__`, one branch per event type (types compared by identity, the most frequent
first), integers only. An event's time is turned once into integer microseconds since the
Unix epoch (exactly, with no float in between); every comparison and the horizon arithmetic
run on those integers.
`version` grows by one per applied event that moved a bucket or a site's `last_event_at`.

Semantics that hold whatever the arrival order of a set of events:

* ``atp = on_hand - receiving - reserved - picked - quarantined`` (may go negative).
* ``in_transit`` is held at the destination: ``TRANSFER_SHIPPED`` adds it at ``to_site``,
  ``TRANSFER_RECEIVED`` takes it off at ``site``.
* ``COUNTED`` fixes ``on_hand`` as of its ``occurred_at``. A site's ``on_hand`` is the latest
  count (by ``occurred_at``, ties broken by the larger ``event_id``) plus the on-hand deltas
  that occurred strictly after it. Deltas at or before the count are inside it whenever they
  arrive; a late count keeps the later deltas already applied.

Exactness is bounded by event time, never by counts. The horizon is ``horizon_s`` of event
time (default 7 days) behind the newest event seen for the SKU (`max_us`):

* **Outside the horizon.** An event that occurred more than ``horizon_s`` before the newest
  event of its SKU is *expired*: not applied, reported as `EXPIRED` (the flow dead-letters it
  as ``outside_horizon``). It can be neither deduplicated nor placed against counts for
  certain, so it is never applied silently; a genuine event that late is corrected with a new
  count or adjustment.
* **Dedupe.** Every accepted event id of the SKU whose event time is inside the horizon is
  remembered, however many events came in between. A repeated id with the same business
  content (type, SKU, site, qty, uom, ``occurred_at``, ``to_site``, ``transfer_id``;
  ``recorded_at`` and ``source`` aside) is a `DUPLICATE`; with other content a `CONFLICT`.
  Neither changes anything; both are counted. Ids are kept as a 62-bit key (from the CRC-32
  and Adler-32 of the id: stable across processes, unlike `hash`) in one sorted
  ``array('Q')``, and beside each, in a second one, its event time in whole seconds
  (32 bits) and a 30-bit CRC of its business content: 16 bytes an id.
* **Counts.** A site keeps every on-hand delta newer than its latest count while it is inside
  the horizon (event time and qty interleaved in one ``array('q')``, 16 bytes a delta), so a
  count inside the horizon is always placed exactly. Only deltas older than the horizon are
  folded away: no count that could still be accepted can precede them.
* **Expiry** is by event time. When a SKU's ids have doubled since the last sweep, the ids
  and deltas that left the horizon are dropped (amortized O(1) per event), so the memory of a
  SKU is at most about twice what its last horizon of events needs.
* **Range.** The integer layout holds event times from 1970-01-01 up to 2106-02-07 (seconds
  in 32 bits). An event outside that range is refused with `ValidationFailed` before anything
  changes (the contract's own, narrower range is checked where events enter:
  `twin.validation`), so no datetime, however extreme, can overflow anything here.

Cost per SKU-site: one `SiteBuckets` (its integers, the latest count's time and id, the
rules' state) plus 16 bytes per on-hand delta since the latest count inside the horizon; per
SKU: 16 bytes per event of the last horizon (``bench/scale.py`` measures both).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left as _bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from struct import Struct
from typing import TYPE_CHECKING, Any, Final, get_args
from zlib import adler32 as _adler32
from zlib import crc32 as _crc32

from msgspec.structs import astuple
from mypy_extensions import i64, mypyc_attr

from twin.errors import FieldError, ValidationFailed
from twin.events import EventType, InventoryEvent
from twin.validation import whole_qty
from twin.wire import AlertKind, NetworkTotals, Position, SitePosition

# `@mypyc_attr` on the classes: why each, in `twin._compiled`'s docstring

# Functions called per event, as `Final` constants: compiled, an imported name is a lookup
# in the module's dictionary on every call, a Final one a C static.
crc32: Final = _crc32
adler32: Final = _adler32
bisect_left: Final = _bisect_left
_array: Final = array
# methods taken once from their type: a call then skips the lookup by name on the instance
_insert: Final = array.insert
_append: Final = array.append
_encode: Final = str.encode

if TYPE_CHECKING:
    from twin.rules import DemandBaseline

# "before anything": what `max_at` says before the first event
BEGINNING: Final = datetime.min.replace(tzinfo=UTC)
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_S: Final = 1_000_000
# The event times the integer layout holds: 1970-01-01 <= t < 2**32 s (2106-02-07T06:28:16Z)
MIN_US: Final = 0
MAX_US: Final = (1 << 32) * US_PER_S
# before any event time: the time of "no count yet" and "nothing folded yet"
NEVER: Final = -1
# an id's content fingerprint 0 means "not known" (ids restored from a snapshot that kept
# no fingerprint): any content then counts as a duplicate of it
UNKNOWN_FINGERPRINT: Final = 0
# an id's meta: event time in whole seconds (32 bits) above its fingerprint (30 bits), so
# that it stays a machine integer compiled
_FP_BITS: Final = 30
_FP_MASK: Final = (1 << 30) - 1
# the fewest remembered ids at which a SKU sweeps out what left its horizon
_MIN_SWEEP: Final = 64
# the arrays of remembered ids' keys and metas (see SkuTwin.__init__)
_ID_TYPECODE: Final = "Q"
# type number, qty, time (µs), CRC-32 of site and of uom, little-endian and fixed-width
_FP_PACK: Final = Struct("<BqqLL").pack
# CRC-32 of the texts met most (site ids, units): a pure memo, bounded
_TEXT_CRC: Final[dict[str, int]] = {}
_TEXT_CRC_MAX: Final = 4096


def to_us(at: datetime) -> int:
    """An aware datetime as whole microseconds since the Unix epoch, exactly (any datetime).

    From the difference's parts: three small-int reads, where `// timedelta(microseconds=1)`
    costs a few times more (it goes through Python's arbitrary-precision integers)."""
    since = at - EPOCH
    return (since.days * 86_400 + since.seconds) * US_PER_S + since.microseconds


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def id_key(event_id: str) -> i64:
    """The 62-bit key an event id is remembered by: its UTF-8's CRC-32, shifted, and Adler-32.

    62 bits, so that compiled it stays a machine integer (mypyc boxes anything wider).

    Stable across processes (snapshots), unlike `hash`, and several times cheaper than a
    cryptographic hash. The two checksums are of different algebra (a polynomial remainder
    and two running sums), so ids that collide in one almost never collide in the other.
    """
    raw = _encode(event_id)
    crc: i64 = crc32(raw)
    return (crc << 30) ^ adler32(raw)


def text_crc(text: str | None) -> int:
    """CRC-32 of a string's UTF-8 (0 for None); site ids and units are memoized."""
    if text is None:
        return 0
    crc = _TEXT_CRC.get(text)
    if crc is None:
        crc = crc32(text.encode())
        if len(_TEXT_CRC) < _TEXT_CRC_MAX:
            _TEXT_CRC[text] = crc
    return crc


def fingerprint(
    kind: int, site: str, qty: int, uom: str, t_us: int, to_site: str | None, transfer: str | None
) -> int:
    """30 bits of an event's business content (its SKU is the twin's own); never 0.

    The CRC-32 of the type's number, qty, time and the CRC-32 of each text field, packed as
    fixed-width integers: two events that differ in one field always differ here (a CRC
    detects every difference of 32 bits or fewer), and otherwise collide with probability
    about 2**-30. One `struct` pack and one CRC: a string built to hash would cost more.
    """
    crc = crc32(_FP_PACK(kind, qty, t_us, text_crc(site), text_crc(uom)))
    if to_site is not None or transfer is not None:
        crc = crc32(_FP_PACK(0, 0, 0, text_crc(to_site), text_crc(transfer)), crc)
    return (crc & _FP_MASK) or 1


@mypyc_attr(native_class=False)  # a plain frozen dataclass: it pickles as one
@dataclass(frozen=True, slots=True)
class PositionConfig:
    """The event-time horizon of one SKU's state (see the module docstring for what it means)."""

    horizon_s: float = 7 * 24 * 3600.0
    # Derived once here, so every SKU of a shard shares the same object.
    horizon_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.horizon_s > 0:
            raise ValueError("PositionConfig needs horizon_s > 0")
        object.__setattr__(self, "horizon_us", round(self.horizon_s * US_PER_S))

    def __getstate__(self) -> dict[str, float]:
        return {"horizon_s": self.horizon_s}

    def __setstate__(self, state: dict[str, float] | list[Any] | tuple[Any, ...]) -> None:
        # Older snapshots hold the field values in order: dedupe_max_ids, horizon_s, ...
        horizon_s = state["horizon_s"] if isinstance(state, dict) else state[1]
        object.__setattr__(self, "horizon_s", float(horizon_s))
        self.__post_init__()


# SiteBuckets' attributes: its __slots__, and what it pickles
_BUCKET_SLOTS = (
    "alert_mask",
    "atp_floor",
    "count_id",
    "count_us",
    "deltas",
    "episodes",
    "fold_us",
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
        # the latest count's time (µs) and id; NEVER before the first count
        self.count_us = NEVER
        self.count_id = ""
        # on-hand deltas at or before it left the horizon and are inside on_hand, unlisted
        self.fold_us = NEVER
        # max(count_us, fold_us): on-hand deltas after it are listed in `deltas`
        self.list_after = NEVER
        # on-hand deltas newer than the latest count, (time µs, qty) interleaved; None if none
        self.deltas: array[int] | None = None
        # rule state (twin.rules): bit mask of open conditions, and the episode number of
        # each alert kind packed in one int (`episode`, `with_episode`; a dict per site cost
        # about 180 bytes), None before the first alert
        self.alert_mask = 0
        self.episodes: int | None = None
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
        self.deltas = None
        for name, value in (state if isinstance(state, dict) else state[1]).items():
            setattr(self, name, packed_episodes(value) if name == "episodes" else value)

    @property
    def atp(self) -> int:
        return self.on_hand - self.receiving - self.reserved - self.picked - self.quarantined

    @property
    def delta_count(self) -> int:
        """On-hand deltas listed after the latest count (each still inside the horizon)."""
        return 0 if self.deltas is None else len(self.deltas) // 2

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


# A site's episode numbers: one field of EPISODE_BITS per alert kind, in AlertKind's order
EPISODE_BITS: Final = 20
_EPISODE_MASK: Final = (1 << 20) - 1
_EPISODE_SHIFT: Final[dict[str, int]] = {
    kind: EPISODE_BITS * i for i, kind in enumerate(get_args(AlertKind))
}


def episode(b: SiteBuckets, kind: str) -> int:
    """How many episodes of `kind` the site has opened (0 before the first)."""
    packed = b.episodes
    if packed is None:
        return 0
    return (packed >> _EPISODE_SHIFT[kind]) & _EPISODE_MASK


def with_episode(packed: int | None, kind: str, n: int) -> int:
    """`packed` with the episode number of `kind` set to `n` (held at the field's maximum)."""
    shift = _EPISODE_SHIFT[kind]
    cleared = (packed or 0) & ~(_EPISODE_MASK << shift)
    return cleared | (min(n, _EPISODE_MASK) << shift)


def packed_episodes(value: object) -> int | None:
    """Episodes as stored: snapshots of the earlier layout hold a dict of kind -> number."""
    if isinstance(value, dict):
        packed: int | None = None
        for kind, n in value.items():
            packed = with_episode(packed, kind, n)
        return packed
    return value if isinstance(value, int) else None


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
UOM: Final = 5
OCCURRED_AT: Final = 6
TO_SITE: Final = 9
TRANSFER_ID: Final = 10
_POSITIONS = {
    EVENT_ID: "event_id",
    TYPE: "type",
    SKU: "sku",
    SITE: "site",
    QTY: "qty",
    UOM: "uom",
    OCCURRED_AT: "occurred_at",
    TO_SITE: "to_site",
    TRANSFER_ID: "transfer_id",
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


# Each type's number in the content fingerprint (the branches of `apply_fields` set the same)
_KIND: Final[dict[EventType, int]] = {
    _RESERVED: 1,
    _PICKED: 2,
    _SHIPPED: 3,
    _RECEIVED: 4,
    _PUT_AWAY: 5,
    _RESERVATION_RELEASED: 6,
    _QUALITY_HOLD: 7,
    _QUALITY_RELEASE: 8,
    _ADJUSTED: 9,
    _COUNTED: 10,
    _TRANSFER_SHIPPED: 11,
    _TRANSFER_RECEIVED: 12,
    _RETURNED: 13,
}
_NO_TO_SITE: Final = "a TRANSFER_SHIPPED needs to_site, the site the stock travels to"
_OUT_OF_RANGE: Final = (
    "is outside the event times the twin can hold (1970-01-01T00:00:00Z to 2106-02-07T06:28:16Z)"
)


def _time_out_of_range(at: datetime) -> ValidationFailed:
    return ValidationFailed(
        [
            FieldError(
                field="occurred_at",
                value=at.isoformat(),
                code="out_of_range",
                message=f"occurred_at {_OUT_OF_RANGE}",
            )
        ]
    )


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class SkuTwin:
    """The pure state of one SKU across sites. `apply(event)` is False for a duplicate."""

    __slots__ = (
        "_horizon_us",
        "_id_keys",
        "_id_meta",
        "_sweep_at",
        "baselines",
        "config",
        "conflicts",
        "duplicates",
        "expired",
        "last_count",
        "max_us",
        "sites",
        "sku",
        "superseded_counts",
        "version",
    )

    def __init__(self, sku: str, config: PositionConfig | None = None) -> None:
        self.sku = sku
        self.config = config if config is not None else PositionConfig()
        self._horizon_us: i64 = self.config.horizon_us
        self.version = 0
        self.sites: dict[str, SiteBuckets] = {}
        # the newest event time seen (µs); NEVER before the first event
        self.max_us: i64 = NEVER
        # remembered ids: their keys sorted (`id_key`), and at the same index each one's
        # event time in seconds (high bits) and content fingerprint (low 30 bits)
        # Unsigned ('Q': both are never negative): CPython stores an int into a 'q' array
        # through its argument parser, several times the cost of the 'Q' conversion, and
        # the two inserts per event are on the hot path. (Snapshots of the earlier 'q'
        # arrays restore as they are, and work the same, only slower.)
        self._id_keys: array[int] = array(_ID_TYPECODE)
        self._id_meta: array[int] = array(_ID_TYPECODE)
        # at this many remembered ids, sweep out the ids and deltas that left the horizon
        self._sweep_at = _MIN_SWEEP
        self.duplicates = 0
        self.conflicts = 0
        self.expired = 0
        # counts older than their site's latest count (the latest count wins)
        self.superseded_counts = 0
        # set by a COUNTED that took effect (None after a superseded one); read by the rules
        self.last_count: CountOutcome | None = None
        # demand baselines per site for the ANOMALY rule (twin.rules), created lazily
        self.baselines: dict[str, DemandBaseline] | None = None

    @property
    def max_at(self) -> datetime:
        """The newest event time seen for the SKU (BEGINNING before any)."""
        return BEGINNING if self.max_us == NEVER else from_us(self.max_us)

    @property
    def remembered_ids(self) -> int:
        return len(self._id_keys)

    def seen(self, event_id: str) -> bool:
        key = id_key(event_id)
        keys = self._id_keys
        i = bisect_left(keys, key)
        return i < len(keys) and keys[i] == key

    def remember(self, key: int, t_us: int, content: int) -> None:
        """Remember one id (a snapshot's restore path; `apply_fields` inlines it)."""
        keys = self._id_keys
        i = bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            return
        keys.insert(i, key)
        self._id_meta.insert(i, ((t_us // US_PER_S) << _FP_BITS) | content)

    def apply(self, event: InventoryEvent) -> bool:
        """Fold one event in; False when it changed nothing (duplicate, conflict, expired)."""
        code = self.apply_code(event)
        return code in (CHANGED, UNCHANGED)

    def apply_code(self, event: InventoryEvent) -> int:
        """Fold one event in; returns CHANGED, UNCHANGED, DUPLICATE, CONFLICT or EXPIRED.

        CHANGED means the position moved (`version` grew); the site that moved is
        `event.site` (and, for a transfer, `in_transit` at `event.to_site`). An event that
        breaks the canonical contract (a fractional qty, a TRANSFER_SHIPPED without `to_site`,
        an `occurred_at` outside the range the twin holds) raises `ValidationFailed` before
        anything changes.
        """
        return self.apply_fields(astuple(event))

    def apply_fields(self, fields: tuple[Any, ...]) -> int:
        """`apply_code` of the event whose `msgspec.structs.astuple` is `fields`.

        The shard's path: it takes an event's fields once, in one call, for itself and for
        this (compiled, each attribute read by name would be a lookup of its own).
        """
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
        since = at - EPOCH  # to_us, inline, in machine integers (compiled, a tagged int
        # product this large would take the arbitrary-precision path)
        days: i64 = since.days
        seconds: i64 = since.seconds
        micros: i64 = since.microseconds
        t: i64 = (days * 86_400 + seconds) * US_PER_S + micros
        if t < MIN_US or t >= MAX_US:
            raise _time_out_of_range(at)
        site: str = fields[SITE]
        key: i64 = id_key(fields[EVENT_ID])
        keys = self._id_keys
        i = bisect_left(keys, key)
        n_ids = len(keys)
        if i < n_ids and keys[i] == key:
            known: i64 = self._id_meta[i]
            known &= _FP_MASK
            content = fingerprint(
                _KIND[etype], site, q, fields[UOM], t, fields[TO_SITE], fields[TRANSFER_ID]
            )
            if known in (content, UNKNOWN_FINGERPRINT):
                self.duplicates += 1
                return DUPLICATE
            self.conflicts += 1
            return CONFLICT
        max_us: i64 = self.max_us
        if n_ids >= self._sweep_at:
            # before `max_us` moves: the shard puts back the horizon a far-future event moved
            self._sweep(max_us)
            i = bisect_left(keys, key)
        if t > max_us:
            self.max_us = t
        elif max_us - t > self._horizon_us:
            self.expired += 1
            return EXPIRED

        b = self.sites.get(site)
        if b is None:
            b = self.sites[_shared(site)] = SiteBuckets()
        # DESIGN's bucket table, the most frequent types first, compared by identity (the
        # decoder gives the EventType members themselves). `delta` is the on-hand change,
        # placed below by COUNTED semantics.
        if etype is _RESERVED:
            kind = 1
            b.reserved += q
            delta = 0
        elif etype is _PICKED:
            kind = 2
            b.reserved -= q
            b.picked += q
            delta = 0
        elif etype is _SHIPPED:
            kind = 3
            b.picked -= q
            delta = -q
        elif etype is _RECEIVED:
            kind = 4
            b.receiving += q
            delta = q
        elif etype is _PUT_AWAY:
            kind = 5
            b.receiving -= q
            delta = 0
        elif etype is _RESERVATION_RELEASED:
            kind = 6
            b.reserved -= q
            delta = 0
        elif etype is _QUALITY_HOLD:
            kind = 7
            b.quarantined += q
            delta = 0
        elif etype is _QUALITY_RELEASE:
            kind = 8
            b.quarantined -= q
            delta = 0
        elif etype is _ADJUSTED:
            kind = 9
            delta = q
        elif etype is _COUNTED:
            kind = 10
            delta = 0  # it sets on-hand instead, below
        elif etype is _TRANSFER_SHIPPED:
            kind = 11
            self._ship_to(fields[TO_SITE], q)
            delta = -q
        elif etype is _TRANSFER_RECEIVED:
            kind = 12
            b.receiving += q
            b.in_transit -= q
            delta = q
        elif etype is _RETURNED:
            kind = 13
            b.quarantined += q
            delta = q
        else:
            raise AssertionError(f"{etype!r} has no branch in SkuTwin.apply_fields")

        # remember the id, its time and what it said, in key order
        _insert(keys, i, key)
        _insert(
            self._id_meta,
            i,
            ((t // US_PER_S) << _FP_BITS)
            | fingerprint(kind, site, q, fields[UOM], t, fields[TO_SITE], fields[TRANSFER_ID]),
        )
        last = b.last_event_at
        if last is None or at > last:
            b.last_event_at = at
            moved = True
        else:
            moved = False
        if delta:
            if t > b.list_after:
                b.on_hand += delta
                deltas = b.deltas
                if deltas is None:
                    b.deltas = _array("q", (t, delta))
                else:
                    _append(deltas, t)
                    _append(deltas, delta)
            elif t > b.count_us:  # after the count but among the folded deltas
                b.on_hand += delta
            elif etype is _ADJUSTED and not moved:
                return UNCHANGED  # inside the count, and it moves nothing else
        elif (
            etype is _COUNTED and not self._count(b, site, fields[EVENT_ID], at, t, q) and not moved
        ):
            return UNCHANGED  # superseded, or equal to the on-hand it already held
        self.version += 1
        return CHANGED

    def _ship_to(self, to_site: str | None, q: int) -> None:
        assert to_site is not None  # checked before anything changed
        dest = self.sites.get(to_site)
        if dest is None:
            dest = self.sites[_shared(to_site)] = SiteBuckets()
        dest.in_transit += q

    def _count(
        self, b: SiteBuckets, site: str, event_id: str, at: datetime, t: int, q: int
    ) -> bool:
        """Apply a COUNTED; True when on_hand changed. Older counts are superseded."""
        if t < b.count_us or (t == b.count_us and event_id <= b.count_id) or t <= b.fold_us:
            # (`fold_us` only holds deltas that left the horizon: no count inside it precedes)
            self.superseded_counts += 1
            self.last_count = None
            return False
        later_sum = 0
        listed = 0
        later: array[int] | None = None
        deltas = b.deltas
        if deltas is not None:
            listed = len(deltas)
            later = _array("q")
            for j in range(0, listed, 2):
                if deltas[j] > t:
                    qty = deltas[j + 1]
                    later.append(deltas[j])
                    later.append(qty)
                    later_sum += qty
        book = b.on_hand - later_sum
        opening = not b.count_id and b.fold_us == NEVER and (later is None or len(later) == listed)
        b.deltas = later if later is not None and len(later) > 0 else None
        b.count_us = b.list_after = t
        b.count_id = event_id
        before = b.on_hand
        b.on_hand = q + later_sum
        self.last_count = CountOutcome(site, q, book, event_id, at, opening)
        return b.on_hand != before

    def _sweep(self, max_us: int) -> None:
        """Forget the ids and on-hand deltas that left the horizon (they can never be
        placed or matched again: an event that old is expired)."""
        cutoff = max_us - self._horizon_us  # an event before it is expired
        # ids by whole seconds, rounded down a second more: kept a little longer, never less
        cutoff_s = cutoff // US_PER_S - 1
        keys, meta = self._id_keys, self._id_meta
        kept_keys: array[int] = array(keys.typecode)
        kept_meta: array[int] = array(meta.typecode)
        for j in range(len(keys)):
            m = meta[j]
            if (m >> _FP_BITS) >= cutoff_s:
                kept_keys.append(keys[j])
                kept_meta.append(m)
        # in place: `apply_fields` holds `keys`
        keys[:] = kept_keys
        meta[:] = kept_meta
        self._sweep_at = max(_MIN_SWEEP, 2 * len(keys))
        for b in self.sites.values():
            deltas = b.deltas
            if deltas is None or deltas[0] >= cutoff:
                continue
            kept: array[int] = array("q")
            fold_us = b.fold_us
            for j in range(0, len(deltas), 2):
                at = deltas[j]
                if at >= cutoff:
                    kept.append(at)
                    kept.append(deltas[j + 1])
                elif at > fold_us:
                    fold_us = at
            b.fold_us = fold_us
            b.list_after = max(b.count_us, fold_us)
            b.deltas = kept if len(kept) > 0 else None

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
