"""Alert rules: turn a SKU's changed position into alerts raised once and cleared once.

The open/closed state of every condition lives in the SKU's own state (`SiteBuckets.alert_mask`
and `episodes`, packed in one int), so it travels with the SKU in Bytewax snapshots. An alert
id is stable per episode: ``f"{kind}:{sku}:{site}:{n}"`` where ``n`` counts the episodes of
that condition; the cleared alert carries the same id as the raised one.

Conditions at a site, evaluated for the site an event happened at (a site where the SKU is
only in transit to is not judged until something happens there):

* ``LOW_STOCK``: ATP below the reorder point at a site whose feed is fresh, with a
  recommendation (`twin.recommend`).
* ``SUSPECTED_SYNC_GAP``: the same low ATP, but the site's feed is overdue: the figure is
  suspect, so it is reported as a probable missing-data problem, not a shortage.
* ``OVER_ALLOCATION``: ATP below zero (more promised than there is).
* ``NEGATIVE_ON_HAND``: on hand below zero (movements recorded that the stock cannot cover).
* ``COUNT_DISCREPANCY``: a count that differs from the book on hand at the count's time
  (not the opening count of a site with no earlier movement, which sets the balance);
  cleared by a later count that agrees, replaced (cleared, then raised anew) by a later count
  that disagrees. Ranked by value with `rank_count_discrepancies`.
* ``ANOMALY``: a closed window's demand far from its EWMA baseline (robust scale), with the
  figures in ``details``.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from twin.catalog_columns import NO_POLICY, CatalogColumns
from twin.masterdata import Lane, MasterData, MasterIndex, Site
from twin.position import CountOutcome, SiteBuckets, SkuTwin, episode, with_episode
from twin.recommend import LaneIn, SkuLimits, recommend
from twin.wire import Alert, AlertKind, Recommendation, Severity, WindowMetric

LOW_STOCK = 1
SUSPECTED_SYNC_GAP = 2
OVER_ALLOCATION = 4
NEGATIVE_ON_HAND = 8
COUNT_DISCREPANCY = 16
ANOMALY = 32

# the conditions `evaluate` recomputes from the buckets (the others are event-driven)
_BUCKET_BITS = LOW_STOCK | SUSPECTED_SYNC_GAP | OVER_ALLOCATION | NEGATIVE_ON_HAND


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Thresholds of the rules. Values are in the master data's currency."""

    approval_value_threshold: float = 10_000.0
    count_warning_value: float = 100.0
    count_critical_value: float = 1_000.0
    anomaly_alpha: float = 0.2
    anomaly_threshold: float = 4.0
    anomaly_min_windows: int = 8
    anomaly_min_scale: float = 1.0


class DemandBaseline:
    """EWMA of window demand and of its absolute deviation (a robust scale).

    The deviation of a window is ``(demand - baseline) / scale`` with
    ``scale = max(1.25 * ewma_abs_dev, min_scale)`` (1.25 * mean absolute deviation
    estimates a standard deviation). A window's demand is clipped to ``baseline ±
    threshold * scale`` before it updates the baseline, so one spike does not poison it.
    """

    __slots__ = ("abs_dev", "mean", "windows")

    def __init__(self) -> None:
        self.mean = 0.0
        self.abs_dev = 0.0
        self.windows = 0

    def scale(self, min_scale: float) -> float:
        return max(1.25 * self.abs_dev, min_scale)

    def update(self, demand: float, alpha: float, threshold: float, min_scale: float) -> None:
        if self.windows == 0:
            self.mean = demand
        else:
            bound = threshold * self.scale(min_scale)
            clipped = min(max(demand, self.mean - bound), self.mean + bound)
            self.abs_dev += alpha * (abs(clipped - self.mean) - self.abs_dev)
            self.mean += alpha * (clipped - self.mean)
        self.windows += 1


class SkuLimitsView(Mapping[str, SkuLimits]):
    """`Mapping[sku id, SkuLimits]` read from the catalogue's columns when asked for.

    A LOW_STOCK recommendation or a count's value needs one SKU's figures; building them
    for that SKU alone keeps the rule book at no memory per SKU-site beyond the columns.
    """

    __slots__ = ("_index",)

    def __init__(self, index: MasterIndex) -> None:
        self._index = index

    def __getitem__(self, sku: str) -> SkuLimits:
        cols = self._index.columns
        i = cols.sku_pos[sku]
        n = len(cols.sites)
        row = slice(i * n, (i + 1) * n)
        return SkuLimits(
            reorder_point=_per_site(cols.sites, cols.reorder_point[row]),
            target=_per_site(cols.sites, cols.target[row]),
            unit_value=float(cols.unit_value[i]),
        )

    def __contains__(self, sku: object) -> bool:
        return sku in self._index.columns.sku_pos

    def __iter__(self) -> Iterator[str]:
        return iter(self._index.columns.sku_ids)

    def __len__(self) -> int:
        return len(self._index.columns.sku_ids)


def _per_site(sites: list[Site], figures: Iterable[int]) -> dict[str, int]:
    return {
        site.id: value for site, value in zip(sites, figures, strict=True) if value != NO_POLICY
    }


def _lanes_in(lanes: Iterable[Lane]) -> dict[str, list[LaneIn]]:
    lanes_in: dict[str, list[LaneIn]] = {}
    for lane in lanes:
        lanes_in.setdefault(lane.to_site, []).append(
            LaneIn(from_site=lane.from_site, transit_s=lane.transit_hours * 3600.0)
        )
    return lanes_in


class RuleBook:
    """The rules plus the master data they read: the catalogue's columns, never a dict or an
    object per SKU-site (at 100,000 SKUs x 20 sites those were gigabytes per process).

    The index is the process's own, shared by every shard and changed in place when
    `masterdata.v1` says so; `master_changed()` must follow each change, so the reorder
    points cached on the buckets are read again and lanes are re-indexed.
    """

    __slots__ = ("config", "index", "lanes_in", "limits", "token")

    def __init__(self, index: MasterIndex, config: RuleConfig | None = None) -> None:
        self.index = index
        self.config = config if config is not None else RuleConfig()
        self.limits = SkuLimitsView(index)
        self.lanes_in = _lanes_in(index.columns.lanes)
        # Identifies this book's figures in the reorder points cached on each SiteBuckets
        # (`evaluate` reads the cache only when the token is this very object). A plain
        # object: a snapshot unpickled in another process gets a new one, so a shard resumed
        # under different master data refills its cache instead of trusting the old figures;
        # a master-data change makes a new one (`master_changed`) for the same reason.
        self.token = object()

    @classmethod
    def from_master(
        cls,
        master: MasterData | MasterIndex | CatalogColumns | None,
        config: RuleConfig | None = None,
    ) -> RuleBook:
        """The rule book over `master`: an index is used as it is (shared, changes seen)."""
        if isinstance(master, MasterIndex):
            return cls(master, config)
        if master is None:
            master = MasterData(sites=[], skus=[])
        return cls(MasterIndex(master), config)

    def master_changed(self) -> None:
        """The index changed in place: re-read the lanes, and every cached reorder point."""
        self.lanes_in = _lanes_in(self.index.columns.lanes)
        self.token = object()

    def reorder_point(self, sku: str, site: str) -> int | None:
        """The SKU's reorder point at `site`; None when it has none there (or is unknown)."""
        cols = self.index.columns
        i = cols.sku_pos.get(sku)
        s = cols.site_pos.get(site)
        if i is None or s is None:
            return None
        point = cols.reorder_point[i * len(cols.sites) + s]
        return None if point == NO_POLICY else point

    # -- bucket conditions ---------------------------------------------------------------
    def evaluate(
        self,
        twin: SkuTwin,
        site: str,
        stale: Container[str],
        now: datetime,
    ) -> list[Alert]:
        """Raise or clear the bucket conditions of `twin` at `site`; [] when nothing moved.

        `stale` holds the sites whose feeds are overdue. This runs after every applied event,
        so the common case (no condition changed) is a few comparisons.
        """
        b = twin.sites.get(site)
        if b is None:
            return []
        return self.evaluate_site(twin, b, site, stale, now) or []

    def evaluate_site(
        self,
        twin: SkuTwin,
        b: SiteBuckets,
        site: str,
        stale: Container[str],
        now: datetime,
    ) -> list[Alert] | None:
        """`evaluate` for the buckets `b` of `twin` at `site`; None when nothing moved.

        The per-event fast path: no list is built when no condition changed, and the
        reorder point comes from the buckets' cache instead of two dict lookups.
        """
        on_hand = b.on_hand
        # the committed buckets are mostly small (cached) ints: one allocation, not four
        atp = on_hand - (b.receiving + b.reserved + b.picked + b.quarantined)
        if b.rules_token is not self.token:
            self._cache_limits(twin.sku, site, b)
        reorder_point = b.reorder_point
        mask = 0
        if reorder_point is not None and atp < reorder_point:
            mask = SUSPECTED_SYNC_GAP if site in stale else LOW_STOCK
        if atp < 0:
            mask |= OVER_ALLOCATION
        if on_hand < 0:
            mask |= NEGATIVE_ON_HAND
        old = b.alert_mask & _BUCKET_BITS
        if mask == old:
            return None
        return self._transitions(twin, site, b, old, mask, atp, reorder_point, stale, now)

    def _cache_limits(self, sku: str, site: str, b: SiteBuckets) -> None:
        """Copy the site's reorder point from the master data onto its buckets."""
        point = self.reorder_point(sku, site)
        b.reorder_point = point
        b.atp_floor = 0 if point is None else max(point, 0)
        b.rules_token = self.token

    def _transitions(
        self,
        twin: SkuTwin,
        site: str,
        b: SiteBuckets,
        old: int,
        new: int,
        atp: int,
        reorder_point: int | None,
        stale: Container[str],
        now: datetime,
    ) -> list[Alert]:
        def fresh(other: str) -> bool:
            return other not in stale

        alerts: list[Alert] = []
        sku = twin.sku
        # clear first, so a LOW_STOCK -> SUSPECTED_SYNC_GAP switch reads in order
        for bit, kind in _BUCKET_KINDS:
            if old & bit and not new & bit:
                why = _cleared_why(kind, sku, site, atp, b.on_hand, new)
                alerts.append(_clear(b, kind, sku, site, now, why))
        for bit, kind in _BUCKET_KINDS:
            if new & bit and not old & bit:
                alerts.append(self._raise(twin, b, bit, kind, site, atp, reorder_point, fresh, now))
        b.alert_mask = (b.alert_mask & ~_BUCKET_BITS) | new
        return alerts

    def _raise(
        self,
        twin: SkuTwin,
        b: SiteBuckets,
        bit: int,
        kind: AlertKind,
        site: str,
        atp: int,
        reorder_point: int | None,
        fresh: Callable[[str], bool],
        now: datetime,
    ) -> Alert:
        sku = twin.sku
        details: dict[str, float | int | str] = {"atp": atp, "on_hand": b.on_hand}
        if bit == LOW_STOCK:
            limits = self.limits[sku]  # LOW_STOCK needs a reorder point, hence limits
            rec = recommend(
                site=site,
                atp_by_site=twin.atp_by_site(),
                limits=limits,
                lanes_in=self.lanes_in.get(site, ()),
                fresh=fresh,
                now=now,
                approval_value_threshold=self.config.approval_value_threshold,
            )
            details["reorder_point"] = reorder_point or 0
            details["target"] = limits.target.get(site, 0)
            return _open(
                b,
                kind,
                sku,
                site,
                "critical" if atp <= 0 else "warning",
                now,
                f"{sku} at {site} is low: {atp} available to promise, below its reorder point "
                f"of {reorder_point}. Recommended: {_describe(rec)}.",
                details,
                rec,
            )
        if bit == SUSPECTED_SYNC_GAP:
            details["reorder_point"] = reorder_point or 0
            return _open(
                b,
                kind,
                sku,
                site,
                "info",
                now,
                f"{sku} at {site} shows {atp} available to promise, below its reorder point of "
                f"{reorder_point}, but {site}'s feed is overdue: movements are probably missing, "
                "so this is a suspected sync gap, not a shortage. Check the feed before acting.",
                details,
            )
        if bit == OVER_ALLOCATION:
            return _open(
                b,
                kind,
                sku,
                site,
                "critical",
                now,
                f"{sku} at {site} is over-allocated: {-atp} more units are reserved, picked, "
                "receiving or on hold than are on hand, so some promises cannot be kept.",
                details,
            )
        return _open(
            b,
            kind,
            sku,
            site,
            "critical",
            now,
            f"{sku} at {site} has a negative on-hand of {b.on_hand}: more has left than was "
            "recorded arriving. A receipt is probably missing or a count is due.",
            details,
        )

    # -- counts ----------------------------------------------------------------------------
    def on_count(self, twin: SkuTwin, count: CountOutcome, now: datetime) -> list[Alert]:
        """COUNT_DISCREPANCY for a count that took effect (see the module docstring)."""
        b = twin.sites[count.site]
        sku = twin.sku
        site = count.site
        alerts: list[Alert] = []
        is_open = bool(b.alert_mask & COUNT_DISCREPANCY)
        diff = count.difference
        if count.opening:
            return alerts
        if is_open:
            explanation = (
                f"A later count of {sku} at {site} agrees with the book ({count.counted})."
                if diff == 0
                else f"Superseded by a later count of {sku} at {site}."
            )
            alerts.append(_clear(b, "COUNT_DISCREPANCY", sku, site, now, explanation))
            b.alert_mask &= ~COUNT_DISCREPANCY
        if diff == 0:
            return alerts
        cols = self.index.columns
        i = cols.sku_pos.get(sku)
        value = abs(diff) * (float(cols.unit_value[i]) if i is not None else 0.0)
        cfg = self.config
        severity: Severity = (
            "critical"
            if value >= cfg.count_critical_value
            else "warning"
            if value >= cfg.count_warning_value
            else "info"
        )
        direction = "more" if diff > 0 else "fewer"
        alerts.append(
            _open(
                b,
                "COUNT_DISCREPANCY",
                sku,
                site,
                severity,
                now,
                f"A count of {sku} at {site} found {count.counted} units where the book said "
                f"{count.book}: {abs(diff)} {direction} than recorded, worth {value:.2f}. "
                "On hand now follows the count.",
                {
                    "counted": count.counted,
                    "book": count.book,
                    "difference": diff,
                    "value": round(value, 2),
                    "count_event_id": count.event_id,
                    "counted_at": count.occurred_at.isoformat(),
                },
            )
        )
        b.alert_mask |= COUNT_DISCREPANCY
        return alerts

    # -- windows ---------------------------------------------------------------------------
    def on_window(self, twin: SkuTwin, metric: WindowMetric, now: datetime) -> list[Alert]:
        """ANOMALY from one closed window of this SKU at one site, then update the baseline."""
        site = metric.site
        b = twin.sites.get(site)
        if b is None:
            b = twin.sites[site] = SiteBuckets()
        baselines = twin.baselines
        if baselines is None:
            baselines = twin.baselines = {}
        base = baselines.get(site)
        if base is None:
            base = baselines[site] = DemandBaseline()
        cfg = self.config
        demand = metric.demand
        alerts: list[Alert] = []
        is_open = bool(b.alert_mask & ANOMALY)
        if base.windows >= cfg.anomaly_min_windows:
            scale = base.scale(cfg.anomaly_min_scale)
            deviation = (demand - base.mean) / scale
            anomalous = abs(deviation) > cfg.anomaly_threshold
            if anomalous and not is_open:
                word = "above" if deviation > 0 else "below"
                alerts.append(
                    _open(
                        b,
                        "ANOMALY",
                        twin.sku,
                        site,
                        "warning",
                        now,
                        f"Demand for {twin.sku} at {site} was {demand} in the window starting "
                        f"{metric.window_start.isoformat()}, {word} its usual {base.mean:.1f} by "
                        f"{abs(deviation):.1f} typical deviations (alert above "
                        f"{cfg.anomaly_threshold:g}).",
                        {
                            "demand": demand,
                            "baseline": round(base.mean, 3),
                            "scale": round(scale, 3),
                            "deviation": round(deviation, 3),
                            "threshold": cfg.anomaly_threshold,
                            "window_start": metric.window_start.isoformat(),
                            "window_end": metric.window_end.isoformat(),
                        },
                    )
                )
                b.alert_mask |= ANOMALY
            elif not anomalous and is_open:
                alerts.append(
                    _clear(
                        b,
                        "ANOMALY",
                        twin.sku,
                        site,
                        now,
                        f"Demand for {twin.sku} at {site} is back near its usual level "
                        f"({demand} against {base.mean:.1f}).",
                    )
                )
                b.alert_mask &= ~ANOMALY
        base.update(demand, cfg.anomaly_alpha, cfg.anomaly_threshold, cfg.anomaly_min_scale)
        return alerts


_BUCKET_KINDS: tuple[tuple[int, AlertKind], ...] = (
    (LOW_STOCK, "LOW_STOCK"),
    (SUSPECTED_SYNC_GAP, "SUSPECTED_SYNC_GAP"),
    (OVER_ALLOCATION, "OVER_ALLOCATION"),
    (NEGATIVE_ON_HAND, "NEGATIVE_ON_HAND"),
)


def _cleared_why(kind: str, sku: str, site: str, atp: int, on_hand: int, new: int) -> str:
    """Why a bucket condition ended, in the operator's words."""
    if kind == "LOW_STOCK" and new & SUSPECTED_SYNC_GAP:
        return (
            f"The feed of {site} is overdue, so the low figure for {sku} is now reported as a "
            "suspected sync gap until the feed catches up."
        )
    if kind == "SUSPECTED_SYNC_GAP" and new & LOW_STOCK:
        return (
            f"The feed of {site} caught up and {sku} is still low there ({atp} available): "
            "it is now a shortage (LOW_STOCK)."
        )
    if kind in ("LOW_STOCK", "SUSPECTED_SYNC_GAP"):
        return f"{sku} at {site} is back to {atp} available to promise, at or above reorder point."
    if kind == "OVER_ALLOCATION":
        return f"{sku} at {site} is no longer over-allocated: {atp} available to promise."
    return f"On hand of {sku} at {site} is back to {on_hand}, no longer negative."


def alert_id(kind: str, sku: str, site: str, episode: int) -> str:
    return f"{kind}:{sku}:{site}:{episode}"


def _open(
    b: SiteBuckets,
    kind: AlertKind,
    sku: str,
    site: str,
    severity: Severity,
    now: datetime,
    explanation: str,
    details: dict[str, float | int | str],
    recommendation: Recommendation | None = None,
) -> Alert:
    n = episode(b, kind) + 1
    b.episodes = with_episode(b.episodes, kind, n)
    return Alert(
        id=alert_id(kind, sku, site, n),
        kind=kind,
        severity=severity,
        detected_at=now,
        explanation=explanation,
        sku=sku,
        site=site,
        details=details,
        recommendation=recommendation,
    )


def _clear(b: SiteBuckets, kind: AlertKind, sku: str, site: str, now: datetime, why: str) -> Alert:
    n = episode(b, kind)
    return Alert(
        id=alert_id(kind, sku, site, n),
        kind=kind,
        severity="info",
        detected_at=now,
        explanation=why,
        state="cleared",
        sku=sku,
        site=site,
    )


def _describe(rec: Recommendation) -> str:
    if rec.action == "transfer":
        return f"transfer {rec.qty} from {rec.from_site}"
    return f"purchase {rec.qty}"


def rank_count_discrepancies(alerts: Iterable[Alert]) -> list[Alert]:
    """Raised COUNT_DISCREPANCY alerts, most valuable first (ties: by id, for stable output)."""
    found = [a for a in alerts if a.kind == "COUNT_DISCREPANCY" and a.state == "raised"]
    return sorted(found, key=lambda a: (-float(a.details.get("value", 0.0)), a.id))
