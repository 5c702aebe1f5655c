"""The materialized view of the twin: latest position per SKU, open alerts, site metrics.

Pure state, no I/O: the feed applies decoded records, the REST routes query it and the
broadcaster drains what changed since its last tick. The input is at-least-once, so a
position is only ever replaced by a higher `version` (a replayed old record is ignored).
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter, deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime

from api.sorted_ids import SortedIds
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
class LastFigure:
    """A site figure from the newest reporting interval that had data for it, and when.

    An interval without events (or without a received transfer) has no latency (or cycle
    time): it is not zero. The dashboard shows the last real figure, marked with its time.
    """

    value: float
    as_of: datetime


@dataclass(frozen=True)
class SiteInfo:
    """What master data says about a site (names for the dashboard)."""

    name: str
    feed_mode: str


@dataclass
class Catalog:
    """Master-data facts the view needs: site names and reorder points per (sku, site)."""

    sites: dict[str, SiteInfo] = field(default_factory=dict)
    # a dict, or master data's columns read in place (`api.reorder_points`)
    reorder_points: MutableMapping[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class PositionFilter:
    """What a listing keeps; every given criterion must hold (at `site` when one is given)."""

    prefix: str = ""
    site: str | None = None
    at_risk: bool | None = None
    stale: bool | None = None
    alert_kind: str | None = None


@dataclass(frozen=True)
class PositionPage:
    positions: list[Position]
    next_cursor: str | None


class InvalidCursor(ValueError):
    """A cursor this API did not hand out."""


def encode_cursor(sku: str) -> str:
    return base64.urlsafe_b64encode(sku.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor(f"invalid cursor {cursor!r}") from exc


class SiteFlags:
    """Which sites of which SKUs carry a flag (at risk, stale), indexed for listing."""

    def __init__(self) -> None:
        self._sites_by_sku: dict[str, frozenset[str]] = {}
        self._any_site = SortedIds()
        self._per_site: dict[str, SortedIds] = {}

    def set(self, sku: str, sites: frozenset[str]) -> None:
        before = self._sites_by_sku.get(sku, frozenset())
        if sites == before:
            return
        for site in before - sites:
            self._per_site[site].discard(sku)
        for site in sites - before:
            self._per_site.setdefault(site, SortedIds()).add(sku)
        if sites:
            self._sites_by_sku[sku] = sites
            self._any_site.add(sku)
        else:
            del self._sites_by_sku[sku]
            self._any_site.discard(sku)

    def flagged(self, sku: str, site: str | None) -> bool:
        sites = self._sites_by_sku.get(sku)
        return sites is not None and (site is None or site in sites)

    def index(self, site: str | None) -> SortedIds:
        """SKUs flagged at `site` (at any site when None)."""
        if site is None:
            return self._any_site
        return self._per_site.get(site) or SortedIds()


class TwinView:
    """The API's in-memory copy of the twin's outputs."""

    def __init__(self, catalog: Catalog | None = None, cleared_kept: int = 1000) -> None:
        self.catalog = catalog or Catalog()
        self.positions: dict[str, Position] = {}
        self.open_alerts: dict[str, Alert] = {}
        self.cleared_alerts: deque[Alert] = deque(maxlen=cleared_kept)
        # told of every alert applied (the alert cases keep all of them, cleared ones too)
        self.alert_listeners: list[Callable[[Alert], None]] = []
        self.site_metrics: dict[str, SiteMetric] = {}
        self.last_visible_p95: dict[str, LastFigure] = {}
        self.last_transfer_cycle: dict[str, LastFigure] = {}
        # Listing indexes, kept as positions and alerts arrive so that a filtered page costs
        # the page plus what it steps over, never a scan of the catalogue.
        self._sorted_skus = SortedIds()
        self._sites_seen: set[str] = set()
        self._at_risk = SiteFlags()
        self._stale = SiteFlags()
        self._alert_sites: dict[str, dict[str, Counter[str | None]]] = {}
        self._alert_skus: dict[str, SortedIds] = {}
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
            self._sorted_skus.add(position.sku)
        self.positions[position.sku] = position
        if not self._sites_seen.issuperset(position.sites):
            self._sites_seen.update(position.sites)
        self._index_position(position)
        self._pending.positions[position.sku] = position
        self.last_position_as_of = position.as_of
        return True

    def set_reorder_point(self, sku: str, site: str, reorder_point: int) -> None:
        """A reorder point changed in master data: the SKU's at-risk standing follows."""
        self.catalog.reorder_points[(sku, site)] = reorder_point
        position = self.positions.get(sku)
        if position is not None:
            self._index_position(position)

    def _index_position(self, position: Position) -> None:
        sku, reorder_points = position.sku, self.catalog.reorder_points
        at_risk = frozenset(
            site
            for site, at_site in position.sites.items()
            if at_site.atp <= reorder_points.get((sku, site), 0)
        )
        stale = frozenset(site for site, at_site in position.sites.items() if not at_site.fresh)
        self._at_risk.set(sku, at_risk)
        self._stale.set(sku, stale)

    def apply_alert(self, alert: Alert) -> None:
        previous = self.open_alerts.pop(alert.id, None)
        if previous is not None:
            self._count_alert(previous, -1)
        if alert.state == "cleared":
            self.cleared_alerts.append(alert)
        else:
            self.open_alerts[alert.id] = alert
            self._count_alert(alert, +1)
        self._pending.alerts[alert.id] = alert
        for listener in self.alert_listeners:
            listener(alert)

    def _count_alert(self, alert: Alert, delta: int) -> None:
        if alert.sku is None:
            return
        by_sku = self._alert_sites.setdefault(alert.kind, {})
        sites = by_sku.setdefault(alert.sku, Counter())
        sites[alert.site] += delta
        if sites[alert.site] <= 0:
            del sites[alert.site]
        index = self._alert_skus.setdefault(alert.kind, SortedIds())
        if sites:
            index.add(alert.sku)
        else:
            del by_sku[alert.sku]
            index.discard(alert.sku)

    def apply_metric(self, metric: Metric) -> None:
        if isinstance(metric, SiteMetric):
            current = self.site_metrics.get(metric.site)
            if current is not None and metric.as_of < current.as_of:
                return
            self.site_metrics[metric.site] = metric
            if metric.visible_latency.count:
                self.last_visible_p95[metric.site] = LastFigure(
                    metric.visible_latency.p95_ms, metric.as_of
                )
            if metric.transfer_cycle_s_p50 is not None:
                self.last_transfer_cycle[metric.site] = LastFigure(
                    metric.transfer_cycle_s_p50, metric.as_of
                )
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

    def list_positions(
        self, where: PositionFilter, *, limit: int, cursor: str | None = None, max_scan: int = 0
    ) -> PositionPage:
        """A page of positions in SKU-id order, after `cursor` (from a previous page).

        Walks the smallest index that the filter allows (at-risk, stale or alert-kind SKUs,
        else all SKUs from the prefix on), so the cost is the page plus the SKUs stepped
        over. At most `max_scan` SKUs (default: 10 pages, at least 10,000) are stepped over
        per call: a page may then come back short, with a cursor to go on from.
        """
        after = decode_cursor(cursor) if cursor is not None else None
        if where.site is not None and where.site not in self._sites_seen:
            return PositionPage([], None)  # no position has that site: nothing to walk
        budget = max_scan or max(10 * limit, 10_000)
        if after is not None and after >= where.prefix:
            candidates = self._candidates(where).iter_from(after, inclusive=False)
        else:
            candidates = self._candidates(where).iter_from(where.prefix)
        page: list[Position] = []
        scanned, last = 0, None
        for sku in candidates:
            if not sku.startswith(where.prefix):
                return PositionPage(page, None)
            if len(page) == limit or scanned == budget:
                return PositionPage(page, encode_cursor(last) if last is not None else None)
            scanned, last = scanned + 1, sku
            position = self.positions.get(sku)
            if position is not None and self._matches(position, where):
                page.append(position)
        return PositionPage(page, None)

    def _candidates(self, where: PositionFilter) -> SortedIds:
        indexes = [self._sorted_skus]
        if where.at_risk:
            indexes.append(self._at_risk.index(where.site))
        if where.stale:
            indexes.append(self._stale.index(where.site))
        if where.alert_kind is not None:
            indexes.append(self._alert_skus.get(where.alert_kind, SortedIds()))
        return min(indexes, key=len)

    def _matches(self, position: Position, where: PositionFilter) -> bool:
        sku, site = position.sku, where.site
        if site is not None and site not in position.sites:
            return False
        at_risk, stale = where.at_risk, where.stale
        if at_risk is not None and self._at_risk.flagged(sku, site) != at_risk:
            return False
        if stale is not None and self._stale.flagged(sku, site) != stale:
            return False
        if where.alert_kind is not None:
            sites = self._alert_sites.get(where.alert_kind, {}).get(sku)
            if not sites or (site is not None and sites[site] <= 0):
                return False
        return True

    def known_sites(self) -> list[str]:
        return sorted(set(self.catalog.sites) | set(self.site_metrics) | self._sites_seen)

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
        for sku in self._at_risk.index(site).iter_from(""):
            atp = self.positions[sku].sites[site].atp
            out.append((sku, atp, self.catalog.reorder_points.get((sku, site), 0)))
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
