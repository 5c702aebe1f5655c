"""Many SKUs owned by one worker: the Bytewax state for a shard key, or the offline twin.

`TwinShard` applies canonical events to their `SkuTwin`, runs the rules for the one site an
event touched, and remembers which SKUs changed so the caller can emit coalesced positions
(`take_dirty`). Two ways in: `apply(event)` returns an `ApplyResult` per event;
`apply_batch(events)` does the same work for a batch (the stream processor's path: no
per-event result object, the rules skipped where their answer is known) and returns the
alerts plus one outcome code per event. Freshness is pushed in (`on_freshness`) by whoever
runs `SiteFreshness`, and closed windows (`on_window`) feed the ANOMALY rule. Clocks are
always passed in.

The whole object is plain Python with `__slots__`: it pickles, which is how Bytewax snapshots
it for recovery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec
from msgspec.structs import astuple
from mypy_extensions import mypyc_attr

from twin.errors import ValidationFailed
from twin.events import EventType, InventoryEvent
from twin.masterdata import MasterData
from twin.position import (
    CHANGED,
    CONFLICT,
    DUPLICATE,
    EXPIRED,
    OCCURRED_AT,
    SITE,
    SKU,
    UNCHANGED,
    PositionConfig,
    SkuTwin,
)
from twin.rules import RuleBook, RuleConfig
from twin.windows import TumblingWindows, WindowConfig
from twin.wire import Alert, NetworkTotals, Position, WindowMetric

# `@mypyc_attr` on the classes: why each, in `twin._compiled`'s docstring

_COUNTED: Final = EventType.COUNTED

# `apply_batch` outcome codes, one per event (the codes of `SkuTwin.apply_code`, and one
# for an event `apply` would refuse with `ValidationFailed`)
APPLIED: Final = CHANGED
REJECTED: Final = 4
__all__ = [
    "APPLIED",
    "CONFLICT",
    "DUPLICATE",
    "EXPIRED",
    "REJECTED",
    "UNCHANGED",
    "ApplyResult",
    "BatchResult",
    "TwinConfig",
    "TwinShard",
]


@mypyc_attr(native_class=False)  # a plain frozen dataclass: it pickles as one
@dataclass(frozen=True, slots=True)
class TwinConfig:
    """Bounds of the per-SKU state, thresholds of the rules, and the event-time windows.

    `windows` is off (None) by default: a caller that wants the shard to fold windows itself
    passes a `WindowConfig` and collects them with `take_closed_windows`; callers that keep
    their own `TumblingWindows` (or an engine's window operator) leave it off.
    """

    position: PositionConfig = field(default_factory=PositionConfig)
    rules: RuleConfig = field(default_factory=RuleConfig)
    windows: WindowConfig | None = None
    # an event dated further than this after the clock is applied, but does not move the
    # SKU's event-time horizon: one bad timestamp must not expire every later event
    future_tolerance_s: float = 24 * 3600.0


class ApplyResult(msgspec.Struct, gc=False):
    """What one `TwinShard.apply` did.

    `duplicate`: the event id was already applied with the same content (nothing changed).
    `conflict`: the event id was already applied with other business content (nothing
    changed; dead-letter it as `event_id_conflict`). `expired`: the event is older than the
    SKU's event-time horizon and was not applied (see `twin.position`). `changed`: the SKU's
    position changed (its `version` grew). `alerts`: raised/cleared.
    """

    duplicate: bool
    sku: str
    alerts: list[Alert]
    changed: bool = False
    expired: bool = False
    conflict: bool = False


class BatchResult(msgspec.Struct, gc=False):
    """What one `TwinShard.apply_batch` did: the alerts, and one outcome code per event."""

    alerts: list[Alert]
    codes: bytearray


# TwinShard's attributes: its __slots__, and what it pickles
_SHARD_SLOTS = (
    "_closed",
    "_dirty",
    "_future_limit",
    "_limit_for",
    "_tolerance",
    "applied",
    "config",
    "conflicts",
    "duplicates",
    "expired",
    "future",
    "rules",
    "stale_sites",
    "twins",
    "windows",
)


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class TwinShard:
    """The SKUs of one shard, their rules, and the sites whose feeds are stale."""

    __slots__ = _SHARD_SLOTS

    def __init__(self, master: MasterData | None = None, config: TwinConfig | None = None):
        self.config = config if config is not None else TwinConfig()
        self.rules = RuleBook.from_master(master, self.config.rules)
        self.twins: dict[str, SkuTwin] = {}
        self.stale_sites: set[str] = set()
        self._dirty: dict[str, None] = {}  # insertion-ordered set
        self.applied = 0
        self.duplicates = 0
        self.conflicts = 0
        self.expired = 0
        self.future = 0
        self._tolerance = timedelta(seconds=self.config.future_tolerance_s)
        self._limit_for: datetime | None = None
        self._future_limit = datetime.max.replace(tzinfo=UTC)
        wcfg = self.config.windows
        self.windows = TumblingWindows(wcfg) if wcfg is not None else None
        self._closed: list[WindowMetric] = []

    def __getstate__(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _SHARD_SLOTS}

    def __setstate__(self, state: dict[str, object] | tuple[None, dict[str, object]]) -> None:
        # A snapshot taken before a slot existed resumes with that slot's default
        self.conflicts = 0
        for name, value in (state if isinstance(state, dict) else state[1]).items():
            setattr(self, name, value)

    def is_fresh(self, site: str) -> bool:
        return site not in self.stale_sites

    def _twin(self, sku: str) -> SkuTwin:
        twin = self.twins[sku] = SkuTwin(sku, self.config.position)
        return twin

    def apply(self, event: InventoryEvent, applied_at: datetime) -> ApplyResult:
        """Apply one canonical event; `applied_at` is the twin's clock (alerts' detected_at)."""
        sku = event.sku
        twin = self.twins.get(sku)
        if twin is None:
            twin = self._twin(sku)
        if applied_at is not self._limit_for:
            self._limit_for = applied_at
            self._future_limit = applied_at + self._tolerance
        horizon_ref = twin.max_us
        code = twin.apply_code(event)
        if event.occurred_at > self._future_limit:
            twin.max_us = horizon_ref
            self.future += 1
        if code:
            if code == UNCHANGED:
                self.applied += 1
                alerts: list[Alert] = []
                if event.type == _COUNTED and twin.last_count is not None:
                    # a count equal to the book moves nothing, but may close a discrepancy
                    alerts = self.rules.on_count(twin, twin.last_count, applied_at)
                return ApplyResult(False, sku, alerts)
            if code == DUPLICATE:
                self.duplicates += 1
                return ApplyResult(True, sku, [])
            if code == CONFLICT:
                self.conflicts += 1
                return ApplyResult(False, sku, [], conflict=True)
            self.expired += 1
            return ApplyResult(False, sku, [], expired=True)
        self.applied += 1
        self._dirty[twin.sku] = None
        windows = self.windows
        if windows is not None:
            closed = windows.add(event, self._future_limit)
            if closed:
                self._closed += closed
        etype = event.type
        site = event.site
        alerts = (
            self.rules.evaluate_site(twin, twin.sites[site], site, self.stale_sites, applied_at)
            or []
        )
        if etype == _COUNTED:
            count = twin.last_count
            if count is not None:
                alerts += self.rules.on_count(twin, count, applied_at)
        return ApplyResult(False, sku, alerts, True)

    def apply_batch(self, events: Sequence[InventoryEvent], applied_at: datetime) -> BatchResult:
        """Apply events in order, as `apply` would one by one, for a fraction of the cost.

        The same state, counters, dirty SKUs and alerts (in the same order) as calling
        `apply(event, applied_at)` for each event; only the per-event `ApplyResult` is not
        built. Instead `codes[i]` says what happened to `events[i]`: `APPLIED` (0),
        `DUPLICATE`, `CONFLICT` (its id was applied before with other business content),
        `EXPIRED` (outside the SKU's event-time horizon), `UNCHANGED` (applied, but nothing
        visible moved) or `REJECTED`: the event breaks the canonical contract (a fractional
        qty, a transfer without `to_site`, an `occurred_at` outside the range the core holds:
        what `apply` raises `ValidationFailed` for); it changed nothing
        and, unlike `apply`, does not stop the batch, so no alert of the others is lost.
        For a stream processor: call it once per batch of input, then use `codes` for what
        needs each event's outcome (duplicates, expired events, windows of applied events,
        dead letters).
        """
        codes = bytearray(len(events))  # 0 == APPLIED, the common case is never written
        alerts: list[Alert] = []
        twins = self.twins
        dirty = self._dirty
        windows = self.windows
        rules = self.rules
        token = rules.token
        stale = self.stale_sites
        if applied_at is not self._limit_for:
            self._limit_for = applied_at
            self._future_limit = applied_at + self._tolerance
        future_limit = self._future_limit
        # duplicate, conflicting, expired and rejected events; all others count as applied
        skipped = 0
        for i, event in enumerate(events):
            fields = astuple(event)  # every field in one call (see SkuTwin.apply_fields)
            sku: str = fields[SKU]
            twin = twins.get(sku)
            if twin is None:
                twin = self._twin(sku)
            horizon_ref = twin.max_us
            count_before = twin.last_count  # a COUNTED leaves a new outcome there
            try:
                code = twin.apply_fields(fields)
            except ValidationFailed:  # it changed nothing; the rest of the batch goes on
                codes[i] = REJECTED
                skipped += 1
                continue
            if fields[OCCURRED_AT] > future_limit:
                twin.max_us = horizon_ref
                self.future += 1
            if code:
                codes[i] = code
                if code == UNCHANGED:
                    # a count equal to the book moves nothing, but may close a discrepancy
                    count = twin.last_count
                    if count is not count_before and count is not None:
                        alerts += rules.on_count(twin, count, applied_at)
                else:
                    skipped += 1
                    if code == DUPLICATE:
                        self.duplicates += 1
                    elif code == CONFLICT:
                        self.conflicts += 1
                    else:
                        self.expired += 1
                continue
            # the twin's own id object is the `twins` key just compared (in cache), and once
            # in `dirty` it is found by identity, without comparing characters
            dirty[twin.sku] = None
            if windows is not None:
                closed = windows.add(event, future_limit)
                if closed:
                    self._closed += closed
            site: str = fields[SITE]
            b = twin.sites[site]
            # The rules' own answer, known without asking them (a call saved on most
            # events): at a site with no open alert, last judged by these very rules, with
            # on-hand at or above 0 and ATP at or above max(reorder point, 0), no bucket
            # condition holds and none was open, so `evaluate_site` would find nothing.
            on_hand = b.on_hand
            if (
                b.alert_mask
                or b.rules_token is not token
                or on_hand < 0
                or on_hand - (b.receiving + b.reserved + b.picked + b.quarantined) < b.atp_floor
            ):
                raised = rules.evaluate_site(twin, b, site, stale, applied_at)
                if raised is not None:
                    alerts += raised
            count = twin.last_count
            if count is not count_before and count is not None:
                alerts += rules.on_count(twin, count, applied_at)
        self.applied += len(events) - skipped
        return BatchResult(alerts, codes)

    def position(self, sku: str, as_of: datetime) -> Position:
        """The SKU's position (version 0 and no sites for a SKU never seen)."""
        twin = self.twins.get(sku)
        if twin is None:
            return Position(sku=sku, version=0, as_of=as_of, sites={}, network=NetworkTotals())
        return twin.position(as_of, self.is_fresh)

    def take_dirty(self) -> list[str]:
        """SKUs whose position changed since the last call, in first-changed order."""
        dirty = list(self._dirty)
        self._dirty.clear()
        return dirty

    def on_freshness(self, site: str, fresh: bool, now: datetime) -> tuple[list[str], list[Alert]]:
        """A site's feed went stale or fresh: re-run its rules, bump and dirty its SKUs.

        Returns the SKUs whose position changed (their `fresh` flag, so their version grows)
        and the alerts (LOW_STOCK ↔ SUSPECTED_SYNC_GAP switches).
        """
        if fresh == (site not in self.stale_sites):
            return [], []
        if fresh:
            self.stale_sites.discard(site)
        else:
            self.stale_sites.add(site)
        changed: list[str] = []
        alerts: list[Alert] = []
        # rare (a feed going quiet or coming back), so a scan of the shard's SKUs is fine
        for sku in sorted(s for s, t in self.twins.items() if site in t.sites):
            twin = self.twins[sku]
            twin.version += 1
            self._dirty[sku] = None
            changed.append(sku)
            if twin.sites[site].last_event_at is not None:
                # rules run where events happened, not where stock is only in transit to
                alerts += self.rules.evaluate(twin, site, self.stale_sites, now)
        return changed, alerts

    def take_closed_windows(
        self, now: datetime, *, flush: bool = False, watermark: datetime | None = None
    ) -> tuple[list[WindowMetric], list[Alert]]:
        """Windows closed since the last call, and the ANOMALY alerts they raised or cleared.

        `watermark` moves the event-time watermark forward (e.g. from an idle clock, so windows
        close when events stop); `flush` closes every open window (end of input).
        """
        if self.windows is not None:
            if watermark is not None:
                self._closed += self.windows.advance(watermark)
            if flush:
                self._closed += self.windows.flush()
        closed, self._closed = self._closed, []
        alerts: list[Alert] = []
        for metric in closed:
            alerts += self.on_window(metric, now)
        return closed, alerts

    def on_window(self, metric: WindowMetric, now: datetime) -> list[Alert]:
        """Feed one closed window to the ANOMALY rule of its SKU."""
        twin = self.twins.get(metric.sku)
        if twin is None:
            twin = self._twin(metric.sku)
        return self.rules.on_window(twin, metric, now)

    def stats(self) -> dict[str, int]:
        return {
            "skus": len(self.twins),
            "applied": self.applied,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "expired": self.expired,
            "future": self.future,
            "late_events": self.windows.late_total if self.windows is not None else 0,
        }
