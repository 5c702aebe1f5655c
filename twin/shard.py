"""Many SKUs owned by one worker: the Bytewax state for a shard key, or the offline twin.

`TwinShard` applies canonical events to their `SkuTwin`, runs the rules for the one site an
event touched, and remembers which SKUs changed so the caller can emit coalesced positions
(`take_dirty`). Freshness is pushed in (`on_freshness`) by whoever runs `SiteFreshness`, and
closed windows (`on_window`) feed the ANOMALY rule. Clocks are always passed in.

The whole object is plain Python with `__slots__`: it pickles, which is how Bytewax snapshots
it for recovery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twin.events import InventoryEvent
from twin.masterdata import MasterData
from twin.position import APPLIED, DUPLICATE, PositionConfig, SkuTwin
from twin.rules import RuleBook, RuleConfig
from twin.wire import Alert, NetworkTotals, Position, WindowMetric


@dataclass(frozen=True, slots=True)
class TwinConfig:
    """Bounds of the per-SKU state and thresholds of the rules."""

    position: PositionConfig = field(default_factory=PositionConfig)
    rules: RuleConfig = field(default_factory=RuleConfig)


class ApplyResult:
    """What one `TwinShard.apply` did.

    `duplicate`: the event id was already applied (nothing changed). `expired`: the event is
    older than the SKU's event-time horizon and was not applied (see `twin.position`).
    `changed`: the SKU's position changed (its `version` grew). `alerts`: raised/cleared.
    """

    __slots__ = ("alerts", "changed", "duplicate", "expired", "sku")

    def __init__(
        self,
        duplicate: bool,
        sku: str,
        alerts: list[Alert],
        changed: bool = False,
        expired: bool = False,
    ) -> None:
        self.duplicate = duplicate
        self.sku = sku
        self.alerts = alerts
        self.changed = changed
        self.expired = expired

    def __repr__(self) -> str:
        return (
            f"ApplyResult(duplicate={self.duplicate}, sku={self.sku!r}, changed={self.changed}, "
            f"expired={self.expired}, alerts={self.alerts!r})"
        )


class TwinShard:
    """The SKUs of one shard, their rules, and the sites whose feeds are stale."""

    __slots__ = (
        "_dirty",
        "_site_skus",
        "applied",
        "config",
        "duplicates",
        "expired",
        "rules",
        "stale_sites",
        "twins",
    )

    def __init__(self, master: MasterData | None = None, config: TwinConfig | None = None):
        self.config = config if config is not None else TwinConfig()
        self.rules = RuleBook.from_master(master, self.config.rules)
        self.twins: dict[str, SkuTwin] = {}
        self.stale_sites: set[str] = set()
        self._site_skus: dict[str, set[str]] = {}
        self._dirty: dict[str, None] = {}  # insertion-ordered set
        self.applied = 0
        self.duplicates = 0
        self.expired = 0

    def is_fresh(self, site: str) -> bool:
        return site not in self.stale_sites

    def apply(self, event: InventoryEvent, applied_at: datetime) -> ApplyResult:
        """Apply one canonical event; `applied_at` is the twin's clock (alerts' detected_at)."""
        sku = event.sku
        twin = self.twins.get(sku)
        if twin is None:
            twin = self.twins[sku] = SkuTwin(sku, self.config.position)
        outcome = twin.apply_at(event, event.occurred_at.timestamp())
        if outcome != APPLIED:
            if outcome == DUPLICATE:
                self.duplicates += 1
                return ApplyResult(True, sku, [])
            self.expired += 1
            return ApplyResult(False, sku, [], expired=True)
        self.applied += 1
        site = twin.last_change_site
        if site is None:
            return ApplyResult(False, sku, [])
        self._dirty[sku] = None
        site_skus = self._site_skus.get(site)
        if site_skus is None:
            site_skus = self._site_skus[site] = set()
        site_skus.add(sku)
        alerts = self.rules.evaluate(twin, site, self.is_fresh, applied_at)
        count = twin.last_count
        if count is not None:
            alerts += self.rules.on_count(twin, count, applied_at)
        return ApplyResult(False, sku, alerts, changed=True)

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
        for sku in sorted(self._site_skus.get(site, ())):
            twin = self.twins[sku]
            twin.version += 1
            self._dirty[sku] = None
            changed.append(sku)
            alerts += self.rules.evaluate(twin, site, self.is_fresh, now)
        return changed, alerts

    def on_window(self, metric: WindowMetric, now: datetime) -> list[Alert]:
        """Feed one closed window to the ANOMALY rule of its SKU."""
        twin = self.twins.get(metric.sku)
        if twin is None:
            twin = self.twins[metric.sku] = SkuTwin(metric.sku, self.config.position)
        return self.rules.on_window(twin, metric, now)

    def stats(self) -> dict[str, int]:
        return {
            "skus": len(self.twins),
            "applied": self.applied,
            "duplicates": self.duplicates,
            "expired": self.expired,
        }
