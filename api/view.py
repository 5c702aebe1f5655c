"""The materialized view of the twin: latest position per SKU, open alerts, site metrics.

Pure state, no I/O: the feed applies decoded records, the REST routes query it and the
broadcaster drains what changed since its last tick. The input is at-least-once, so a
position is only ever replaced by a higher `version` (a replayed old record is ignored).
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime

from twin.wire import Alert, Metric, Position, SiteMetric, WindowMetric


@dataclass
class Changes:
    """What changed between two drains, latest record per key."""

    positions: dict[str, Position] = field(default_factory=dict)
    alerts: dict[str, Alert] = field(default_factory=dict)
    metrics: dict[tuple[str, ...], Metric] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.positions or self.alerts or self.metrics)

    def merge(self, other: Changes) -> None:
        """Fold a later set of changes into this one (newer wins per key)."""
        for sku, pos in other.positions.items():
            mine = self.positions.get(sku)
            if mine is None or pos.version > mine.version:
                self.positions[sku] = pos
        self.alerts.update(other.alerts)
        self.metrics.update(other.metrics)


def metric_key(metric: Metric) -> tuple[str, ...]:
    if isinstance(metric, SiteMetric):
        return ("site", metric.site)
    return ("window", metric.sku, metric.site, metric.window_start.isoformat())


@dataclass(frozen=True)
class SiteInfo:
    """What master data says about a site (names for the dashboard)."""

    name: str
    feed_mode: str


@dataclass
class Catalog:
    """Master-data facts the view needs: site names and reorder points per (sku, site)."""

    sites: dict[str, SiteInfo] = field(default_factory=dict)
    reorder_points: dict[tuple[str, str], int] = field(default_factory=dict)


class TwinView:
    """The API's in-memory copy of the twin's outputs."""

    def __init__(self, catalog: Catalog | None = None, cleared_kept: int = 1000) -> None:
        self.catalog = catalog or Catalog()
        self.positions: dict[str, Position] = {}
        self.open_alerts: dict[str, Alert] = {}
        self.cleared_alerts: deque[Alert] = deque(maxlen=cleared_kept)
        self.site_metrics: dict[str, SiteMetric] = {}
        self._sorted_skus: list[str] = []
        self._pending = Changes()
        self.last_position_as_of: datetime | None = None
        self.stale_versions_ignored = 0

    # -- applying the feed -------------------------------------------------------------

    def apply_position(self, position: Position) -> bool:
        """Keep the position if it is newer than what we have; False when ignored."""
        current = self.positions.get(position.sku)
        if current is not None and position.version <= current.version:
            self.stale_versions_ignored += current.version != position.version
            return False
        if current is None:
            bisect.insort(self._sorted_skus, position.sku)
        self.positions[position.sku] = position
        self._pending.positions[position.sku] = position
        self.last_position_as_of = position.as_of
        return True

    def apply_alert(self, alert: Alert) -> None:
        if alert.state == "cleared":
            self.open_alerts.pop(alert.id, None)
            self.cleared_alerts.append(alert)
        else:
            self.open_alerts[alert.id] = alert
        self._pending.alerts[alert.id] = alert

    def apply_metric(self, metric: Metric) -> None:
        if isinstance(metric, SiteMetric):
            current = self.site_metrics.get(metric.site)
            if current is not None and metric.as_of < current.as_of:
                return
            self.site_metrics[metric.site] = metric
        self._pending.metrics[metric_key(metric)] = metric

    def apply(self, record: Position | Alert | Metric) -> None:
        """Apply any decoded record of the three twin topics."""
        if isinstance(record, Position):
            self.apply_position(record)
        elif isinstance(record, Alert):
            self.apply_alert(record)
        elif isinstance(record, SiteMetric | WindowMetric):
            self.apply_metric(record)

    def drain_changes(self) -> Changes:
        """Everything changed since the previous drain (the broadcaster's tick input)."""
        changes, self._pending = self._pending, Changes()
        return changes

    # -- queries -----------------------------------------------------------------------

    def sku_ids(self, prefix: str = "", limit: int = 50) -> list[str]:
        start = bisect.bisect_left(self._sorted_skus, prefix)
        out: list[str] = []
        for sku in self._sorted_skus[start:]:
            if not sku.startswith(prefix) or len(out) >= limit:
                break
            out.append(sku)
        return out

    def known_sites(self) -> list[str]:
        sites = set(self.catalog.sites) | set(self.site_metrics)
        for pos in self.positions.values():
            sites.update(pos.sites)
        return sorted(sites)

    def alerts(
        self,
        *,
        site: str | None = None,
        sku: str | None = None,
        kind: str | None = None,
        state: str = "open",
    ) -> list[Alert]:
        pool: list[Alert] = []
        if state in ("open", "all"):
            pool.extend(self.open_alerts.values())
        if state in ("cleared", "all"):
            pool.extend(self.cleared_alerts)
        return [
            a
            for a in pool
            if (site is None or a.site == site)
            and (sku is None or a.sku == sku)
            and (kind is None or a.kind == kind)
        ]

    def open_alert_counts(self) -> dict[str, int]:
        return dict(Counter(a.kind for a in self.open_alerts.values()))

    def skus_at_risk(self, site: str) -> list[tuple[str, int, int]]:
        """(sku, atp, reorder point) for SKUs whose ATP at the site is at/below reorder point.

        Without a known reorder point, only ATP at or below zero counts as at risk.
        """
        out = []
        for sku, pos in self.positions.items():
            at_site = pos.sites.get(site)
            if at_site is None:
                continue
            reorder = self.catalog.reorder_points.get((sku, site), 0)
            if at_site.atp <= reorder:
                out.append((sku, at_site.atp, reorder))
        out.sort(key=lambda row: (row[1] - row[2], row[0]))
        return out

    def site_last_event_at(self, site: str) -> datetime | None:
        metric = self.site_metrics.get(site)
        if metric is not None and metric.last_event_at is not None:
            return metric.last_event_at
        latest = None
        for pos in self.positions.values():
            at_site = pos.sites.get(site)
            seen = at_site.last_event_at if at_site is not None else None
            if seen is not None and (latest is None or seen > latest):
                latest = seen
        return latest

    def site_fresh(self, site: str) -> bool:
        metric = self.site_metrics.get(site)
        if metric is not None:
            return metric.fresh
        return all(pos.sites[site].fresh for pos in self.positions.values() if site in pos.sites)
