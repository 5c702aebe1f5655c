"""The resilience report: twin against ground truth over time, per site, per fault.

`Recorder.sample` compares the twin's ATP with the true ATP for every SKU-site at one
instant and keeps the figures; `Recorder.report` turns the samples, the latencies and the
counters into DESIGN's report (a JSON-able dict). Everything here is deterministic for a
given run, so two offline runs with the same seed give equal reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from simulator.faults import FaultPlan, FaultWindow
from simulator.network import Network
from simulator.truth import GroundTruth

HOUR = 3600.0


class TwinView(Protocol):
    """What the recorder needs from a twin (offline in-process, or the live checker)."""

    latency_s: list[list[float]]
    occurred_s: list[list[float]]
    duplicates: list[int]
    dlq: list[int]

    def atp_matrix(self) -> np.ndarray: ...

    def all_known(self) -> bool: ...


@dataclass
class Sample:
    t: float
    accuracy: float
    site_accuracy: list[float]
    max_abs: int
    mean_abs: float
    staleness_p95: list[float | None]
    warm: bool = True  # False while the opening counts are still on their way to the twin


@dataclass
class Recorder:
    """Samples of twin-vs-truth agreement, and the accumulators of the report."""

    network: Network
    truth: GroundTruth
    twin: TwinView
    samples: list[Sample] = field(default_factory=list)
    _abs_error_sum: np.ndarray | None = None
    _latency_marks: list[int] | None = None
    negative_truth_seen: list[str] = field(default_factory=list)
    warm_at: float | None = None
    active_until_s: float = float("inf")  # end of demand; the drain after it is not "usual"

    def sample(self, t: float) -> Sample:
        truth_atp = self.truth.atp()
        diff = np.abs(self.twin.atp_matrix() - truth_atp)
        exact = diff == 0
        if self.warm_at is None and self.twin.all_known():
            self.warm_at = t
        warm = self.warm_at is not None
        if warm:
            # Warm-up (the twin has not heard every opening count yet) is not discrepancy.
            site_abs = diff.sum(axis=1)
            if self._abs_error_sum is not None:
                site_abs = site_abs + self._abs_error_sum
            self._abs_error_sum = site_abs
        marks = self._latency_marks or [0] * self.network.n_sites
        p95: list[float | None] = []
        for s, lat in enumerate(self.twin.latency_s):
            recent = lat[marks[s] :]
            p95.append(round(float(np.percentile(recent, 95)), 3) if recent else None)
        self._latency_marks = [len(lat) for lat in self.twin.latency_s]
        negative = self.truth.negative_buckets()
        if negative and not self.negative_truth_seen:
            self.negative_truth_seen = negative
        sample = Sample(
            t=t,
            accuracy=float(exact.mean()),
            site_accuracy=[float(v) for v in exact.mean(axis=1)],
            max_abs=int(diff.max()) if diff.size else 0,
            mean_abs=float(diff.mean()) if diff.size else 0.0,
            staleness_p95=p95,
            warm=warm,
        )
        self.samples.append(sample)
        return sample

    # ------------------------------------------------------------------ the report

    def report(
        self,
        *,
        header: dict[str, Any],
        faults: FaultPlan,
        windows: list[FaultWindow],
        stats: dict[str, int],
        recovered_accuracy: float,
    ) -> dict[str, Any]:
        net = self.network
        final = self.samples[-1]
        # Means and minima leave out the warm-up: the first opening counts in flight.
        samples = [x for x in self.samples if x.warm] or [final]
        site_ids = [s.id for s in net.sites]
        abs_sum = self._abs_error_sum if self._abs_error_sum is not None else np.zeros(1)
        total_abs = float(abs_sum.sum())
        per_site: dict[str, Any] = {}
        for site in net.sites:
            s = site.index
            per_site[site.id] = {
                "feed_mode": site.feed_mode,
                "accuracy_mean": _r(np.mean([x.site_accuracy[s] for x in samples])),
                "accuracy_min": _r(min(x.site_accuracy[s] for x in samples)),
                "accuracy_final": _r(final.site_accuracy[s]),
                "staleness_s": _latency_stats(self.twin.latency_s[s]),
                "abs_atp_error_sum": int(abs_sum[s]),
                "discrepancy_share": _r(float(abs_sum[s]) / total_abs) if total_abs else 0.0,
                "duplicates_injected": faults.injected_duplicates.get(site.id, 0),
                "duplicates_rejected": self.twin.duplicates[s],
                "malformed_injected": faults.injected_malformed.get(site.id, 0),
                "dlq": self.twin.dlq[s],
            }
        tr = self.truth
        stock, expected = tr.network_stock(), tr.expected_stock()
        return {
            **header,
            "accuracy": {
                "final": _r(final.accuracy),
                "mean": _r(np.mean([x.accuracy for x in samples])),
                "min": _r(min(x.accuracy for x in samples)),
                "warmup_end_h": _opt(None if self.warm_at is None else self.warm_at / HOUR),
                "series": [[_r(x.t / HOUR), _r(x.accuracy)] for x in self.samples],
                "site_series": {
                    site_ids[s]: [_r(x.site_accuracy[s]) for x in self.samples]
                    for s in range(net.n_sites)
                },
            },
            "atp_error": {
                "max_abs": max(x.max_abs for x in samples),
                "mean_abs": _r(np.mean([x.mean_abs for x in samples])),
                "final_max_abs": final.max_abs,
            },
            "staleness": {
                site_ids[s]: _latency_stats(self.twin.latency_s[s]) for s in range(net.n_sites)
            },
            "staleness_p95_series": {
                site_ids[s]: [x.staleness_p95[s] for x in self.samples] for s in range(net.n_sites)
            },
            "over_promises": stats.get("over_promises", 0),
            "orders": {
                "placed": stats.get("orders", 0),
                "filled": stats.get("orders_filled", 0),
                "lost": stats.get("lost_orders", 0),
                "over_promised": stats.get("over_promises", 0),
            },
            "duplicates": {
                "injected": sum(faults.injected_duplicates.values()),
                "rejected": sum(self.twin.duplicates),
            },
            "dlq": {
                "count": sum(self.twin.dlq),
                "malformed_injected": sum(faults.injected_malformed.values()),
            },
            "faults": [self._recovery(w, samples, recovered_accuracy, windows) for w in windows],
            "sites": per_site,
            "discrepancy_share": {sid: per_site[sid]["discrepancy_share"] for sid in site_ids},
            "flows": {
                "opening": tr.opening,
                "received_from_suppliers": tr.received_from_suppliers,
                "shipped_to_customers": tr.shipped_to_customers,
                "returned_by_customers": tr.returned_by_customers,
                "scrapped": tr.scrapped,
                "shrinkage": tr.shrinkage,
                "network_stock": stock,
                "expected_stock": expected,
                "balanced": stock == expected,
            },
            "truth_never_negative": not self.negative_truth_seen,
            "stats": dict(stats),
        }

    def _catch_up(self, idx: list[int], start: float, end: float) -> float | None:
        """Seconds after `end` until the twin had seen every movement of the fault window."""
        last: float | None = None
        for s in idx:
            occurred = np.asarray(self.twin.occurred_s[s])
            if not occurred.size:
                continue
            inside = (occurred >= start) & (occurred < end)
            if inside.any():
                visible = occurred[inside] + np.asarray(self.twin.latency_s[s])[inside]
                seen = float(visible.max())
                last = seen if last is None else max(last, seen)
        return None if last is None else max(0.0, last - end)

    def _recovery(
        self,
        window: FaultWindow,
        samples: list[Sample],
        recovered_accuracy: float,
        windows: list[FaultWindow],
    ) -> dict[str, Any]:
        """How long after the fault the twin caught up, and got back to its usual accuracy.

        `recovery_s`: from the end of the fault until every movement that happened during it
        at the affected sites was visible in the twin. `accuracy_recovery_s`: until the
        affected sites' accuracy was back to their usual level (sample resolution).
        """
        idx = self._site_indices(window.sites)
        # "Usual" = the lower quartile of those sites' accuracy outside every fault window
        # (busy hours included): a fault never has to beat a site's normal lag.
        quiet = [
            float(np.mean([x.site_accuracy[s] for s in idx]))
            for x in samples
            if x.t <= self.active_until_s
            and not any(w.start_s <= x.t < w.end_s + HOUR for w in windows)
        ]
        usual = float(np.percentile(quiet, 25)) if quiet else recovered_accuracy
        threshold = min(recovered_accuracy, usual)
        recovery: float | None = None
        worst = 1.0
        for x in samples:
            acc = float(np.mean([x.site_accuracy[s] for s in idx]))
            if window.start_s <= x.t:
                worst = min(worst, acc)
            if x.t >= window.end_s and acc >= threshold:
                recovery = x.t - window.end_s
                break
        return {
            "kind": window.kind,
            "sites": window.sites,
            "detail": window.detail,
            "start_h": _r(window.start_s / HOUR),
            "end_h": _r(window.end_s / HOUR),
            "accuracy_threshold": _r(threshold),
            "worst_accuracy": _r(worst),
            "recovery_s": _opt(self._catch_up(idx, window.start_s, window.end_s)),
            "accuracy_recovery_s": _opt(recovery),
        }

    def _site_indices(self, sites: list[str] | None) -> list[int]:
        if not sites:
            return list(range(self.network.n_sites))
        wanted = set(sites)
        return [s.index for s in self.network.sites if s.id in wanted] or list(
            range(self.network.n_sites)
        )


def _latency_stats(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    arr = np.asarray(values)
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {
        "count": int(arr.size),
        "p50": _r(p50),
        "p95": _r(p95),
        "p99": _r(p99),
        "max": _r(arr.max()),
    }


def _opt(value: float | None) -> float | None:
    return None if value is None else _r(value)


def _r(value: float) -> float:
    return round(float(value), 4)
