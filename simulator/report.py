"""The resilience report: twin against ground truth over time, per site, per fault.

`Recorder.sample` compares the twin's ATP with the true ATP for every SKU-site at one
instant and keeps counts (exact SKU-sites and absolute error per site); `Recorder.data`
gathers those samples with the latencies and counters into a `RunData`. Run data of SKU
shards run in parallel merge by addition (`merge_run_data`). `build_report` turns one
`RunData` into DESIGN's report (a JSON-able dict). Everything is deterministic for a given
run, so two offline runs with the same seed give equal reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from simulator.faults import FaultPlan, FaultWindow
from simulator.network import Network
from simulator.truth import GroundTruth

HOUR = 3600.0
_FLOWS = (
    "opening",
    "received_from_suppliers",
    "shipped_to_customers",
    "returned_by_customers",
    "scrapped",
    "shrinkage",
)


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
    """Twin vs truth at one instant, as counts so that shards add up."""

    t: float
    site_exact: list[int]  # SKU-sites per site where twin ATP == true ATP
    site_abs: list[int]  # sum of |twin ATP - true ATP| per site
    max_abs: int
    warm: bool  # False while the opening counts are still on their way to the twin
    value_abs: float = 0.0  # sum of |twin ATP - true ATP| x unit value (value at risk)
    stockouts: int = 0  # SKU-sites with no true ATP (nothing left to promise)


@dataclass
class RunData:
    """Everything the report is built from; `merge_run_data` adds shards together."""

    site_ids: list[str]
    feed_modes: list[str]
    cells_per_site: int  # SKUs per site
    samples: list[Sample]
    latency_s: list[np.ndarray]
    occurred_s: list[np.ndarray]
    duplicates: list[int]
    dlq: list[int]
    injected_duplicates: dict[str, int]
    injected_malformed: dict[str, int]
    flows: dict[str, int]
    network_stock: int
    negative_truth: bool
    warm_at: float | None
    active_until_s: float
    stats: dict[str, int]

    def site_accuracy(self, x: Sample, s: int) -> float:
        return x.site_exact[s] / self.cells_per_site if self.cells_per_site else 1.0

    def accuracy(self, x: Sample) -> float:
        cells = self.cells_per_site * len(self.site_ids)
        return sum(x.site_exact) / cells if cells else 1.0

    def group_accuracy(self, x: Sample, idx: list[int]) -> float:
        return sum(x.site_exact[s] for s in idx) / (self.cells_per_site * len(idx) or 1)


@dataclass
class Recorder:
    """Samples of twin-vs-truth agreement during one run."""

    network: Network
    truth: GroundTruth
    twin: TwinView
    samples: list[Sample] = field(default_factory=list)
    negative_truth_seen: bool = False
    warm_at: float | None = None
    active_until_s: float = float("inf")  # end of demand; the drain after it is not "usual"
    _latency_marks: list[int] | None = None

    def sample(self, t: float) -> dict[str, Any]:
        """Compare now; returns the metrics event streamed to `on_event`."""
        true_atp = self.truth.atp()
        diff = np.abs(self.twin.atp_matrix() - true_atp)
        if self.warm_at is None and self.twin.all_known():
            self.warm_at = t
        self.negative_truth_seen = self.negative_truth_seen or bool(self.truth.negative_buckets())
        sample = Sample(
            t=t,
            site_exact=[int(v) for v in (diff == 0).sum(axis=1)],
            site_abs=[int(v) for v in diff.sum(axis=1)],
            max_abs=int(diff.max()) if diff.size else 0,
            warm=self.warm_at is not None,
            value_abs=float((diff * self.network.unit_value).sum()),
            stockouts=int((true_atp <= 0).sum()),
        )
        self.samples.append(sample)
        # Staleness of what became visible since the previous sample, worst site.
        marks = self._latency_marks or [0] * self.network.n_sites
        recent = [lat[marks[s] :] for s, lat in enumerate(self.twin.latency_s)]
        self._latency_marks = [len(lat) for lat in self.twin.latency_s]
        p95 = [float(np.percentile(r, 95)) for r in recent if r]
        cells = diff.size or 1
        return {
            "type": "metrics",
            "sim_time_s": round(t, 3),
            "accuracy": round(sum(sample.site_exact) / cells, 4),
            "max_abs_atp_error": sample.max_abs,
            "staleness_p95_s": round(max(p95), 3) if p95 else None,
            "site_accuracy": {
                site.id: round(sample.site_exact[site.index] / (self.network.n_skus or 1), 4)
                for site in self.network.sites
            },
        }

    def data(self, faults: FaultPlan, stats: dict[str, int]) -> RunData:
        tr = self.truth
        net = self.network
        return RunData(
            site_ids=[s.id for s in net.sites],
            feed_modes=[s.feed_mode for s in net.sites],
            cells_per_site=net.n_skus,
            samples=list(self.samples),
            latency_s=[np.asarray(v, dtype=np.float64) for v in self.twin.latency_s],
            occurred_s=[np.asarray(v, dtype=np.float64) for v in self.twin.occurred_s],
            duplicates=list(self.twin.duplicates),
            dlq=list(self.twin.dlq),
            injected_duplicates=dict(faults.injected_duplicates),
            injected_malformed=dict(faults.injected_malformed),
            flows={name: int(getattr(tr, name)) for name in _FLOWS},
            network_stock=tr.network_stock(),
            negative_truth=self.negative_truth_seen,
            warm_at=self.warm_at,
            active_until_s=self.active_until_s,
            stats=dict(stats),
        )


def merge_run_data(parts: list[RunData]) -> RunData:
    """One run's data from SKU shards of it: counts add, latencies concatenate.

    Shards sample at the same instants; a shard that drained sooner keeps its last sample
    (nothing changes in it after quiescence).
    """
    first = parts[0]
    n = max(len(p.samples) for p in parts)
    samples: list[Sample] = []
    for i in range(n):
        row = [p.samples[min(i, len(p.samples) - 1)] for p in parts]
        samples.append(
            Sample(
                t=max(x.t for x in row),
                site_exact=[sum(col) for col in zip(*(x.site_exact for x in row), strict=True)],
                site_abs=[sum(col) for col in zip(*(x.site_abs for x in row), strict=True)],
                max_abs=max(x.max_abs for x in row),
                warm=all(x.warm for x in row),
                value_abs=sum(x.value_abs for x in row),
                stockouts=sum(x.stockouts for x in row),
            )
        )
    n_sites = len(first.site_ids)

    def add_dicts(dicts: list[dict[str, int]]) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in dicts:
            for key, value in d.items():
                out[key] = out.get(key, 0) + value
        return out

    warm = [p.warm_at for p in parts]
    return RunData(
        site_ids=first.site_ids,
        feed_modes=first.feed_modes,
        cells_per_site=sum(p.cells_per_site for p in parts),
        samples=samples,
        latency_s=[np.concatenate([p.latency_s[s] for p in parts]) for s in range(n_sites)],
        occurred_s=[np.concatenate([p.occurred_s[s] for p in parts]) for s in range(n_sites)],
        duplicates=[sum(p.duplicates[s] for p in parts) for s in range(n_sites)],
        dlq=[sum(p.dlq[s] for p in parts) for s in range(n_sites)],
        injected_duplicates=add_dicts([p.injected_duplicates for p in parts]),
        injected_malformed=add_dicts([p.injected_malformed for p in parts]),
        flows=add_dicts([p.flows for p in parts]),
        network_stock=sum(p.network_stock for p in parts),
        negative_truth=any(p.negative_truth for p in parts),
        warm_at=None if None in warm else max(w for w in warm if w is not None),
        active_until_s=first.active_until_s,
        stats=add_dicts([p.stats for p in parts]),
    )


def build_report(
    data: RunData,
    *,
    header: dict[str, Any],
    windows: list[FaultWindow],
    recovered_accuracy: float,
    demand_windows: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """DESIGN's resilience report from one run's data (see the scenario README for fields).

    Faults are judged here against the run's own usual level; `simulator.control` judges
    them against control runs where it has them (offline).
    """
    n_sites = len(data.site_ids)
    final = data.samples[-1]
    # Means and minima leave out the warm-up: the first opening counts in flight.
    warm = [x for x in data.samples if x.warm] or [final]
    abs_sum = [sum(x.site_abs[s] for x in warm) for s in range(n_sites)]
    total_abs = float(sum(abs_sum))
    times = [x.t for x in data.samples]
    per_site: dict[str, Any] = {}
    for s, site in enumerate(data.site_ids):
        per_site[site] = {
            "feed_mode": data.feed_modes[s],
            "accuracy_mean": _r(np.mean([data.site_accuracy(x, s) for x in warm])),
            "accuracy_min": _r(min(data.site_accuracy(x, s) for x in warm)),
            "accuracy_final": _r(data.site_accuracy(final, s)),
            "staleness_s": _latency_stats(data.latency_s[s]),
            "abs_atp_error_sum": abs_sum[s],
            "discrepancy_share": _r(abs_sum[s] / total_abs) if total_abs else 0.0,
            "duplicates_injected": data.injected_duplicates.get(site, 0),
            "duplicates_rejected": data.duplicates[s],
            "malformed_injected": data.injected_malformed.get(site, 0),
            "dlq": data.dlq[s],
        }
    cells = data.cells_per_site * n_sites or 1
    stats = data.stats
    expected = (
        data.flows["opening"]
        + data.flows["received_from_suppliers"]
        + data.flows["returned_by_customers"]
        - data.flows["shipped_to_customers"]
        - data.flows["scrapped"]
        - data.flows["shrinkage"]
    )
    return {
        **header,
        "accuracy": {
            "final": _r(data.accuracy(final)),
            "mean": _r(np.mean([data.accuracy(x) for x in warm])),
            "min": _r(min(data.accuracy(x) for x in warm)),
            "warmup_end_h": _opt(None if data.warm_at is None else data.warm_at / HOUR),
            "series": [[_r(x.t / HOUR), _r(data.accuracy(x))] for x in data.samples],
            "site_series": {
                site: [_r(data.site_accuracy(x, s)) for x in data.samples]
                for s, site in enumerate(data.site_ids)
            },
        },
        "atp_error": {
            "max_abs": max(x.max_abs for x in warm),
            "mean_abs": _r(np.mean([sum(x.site_abs) / cells for x in warm])),
            "final_max_abs": final.max_abs,
        },
        "stockouts": {
            "final": final.stockouts,
            "max": max(x.stockouts for x in warm),
            "mean": _r(np.mean([x.stockouts for x in warm])),
        },
        "value_at_risk": {
            "final": _r(final.value_abs),
            "max": _r(max(x.value_abs for x in warm)),
            "mean": _r(np.mean([x.value_abs for x in warm])),
        },
        "staleness": {site: per_site[site]["staleness_s"] for site in data.site_ids},
        "staleness_p95_series": {
            site: _window_p95(data.latency_s[s], data.occurred_s[s], times)
            for s, site in enumerate(data.site_ids)
        },
        "over_promises": stats.get("over_promises", 0),
        "orders": {
            "placed": stats.get("orders", 0),
            "filled": stats.get("orders_filled", 0),
            "lost": stats.get("lost_orders", 0),
            "over_promised": stats.get("over_promises", 0),
        },
        "duplicates": {
            "injected": sum(data.injected_duplicates.values()),
            "rejected": sum(data.duplicates),
        },
        "dlq": {
            "count": sum(data.dlq),
            "malformed_injected": sum(data.injected_malformed.values()),
        },
        "faults": [_recovery(data, w, windows, recovered_accuracy) for w in windows],
        "demand_windows": list(demand_windows or []),
        "sites": per_site,
        "discrepancy_share": {site: per_site[site]["discrepancy_share"] for site in data.site_ids},
        "flows": {
            **data.flows,
            "network_stock": data.network_stock,
            "expected_stock": expected,
            "balanced": data.network_stock == expected,
        },
        "truth_never_negative": not data.negative_truth,
        "stats": dict(stats),
    }


def _window_p95(
    latency: np.ndarray, occurred: np.ndarray, times: list[float]
) -> list[float | None]:
    """p95 staleness of the events that became visible in each sample interval."""
    if not latency.size:
        return [None] * len(times)
    visible = occurred + latency
    order = np.argsort(visible, kind="stable")
    visible, latency = visible[order], latency[order]
    edges = np.searchsorted(visible, np.asarray(times), side="right")
    out: list[float | None] = []
    lo = 0
    for hi in edges.tolist():
        out.append(_r(float(np.percentile(latency[lo:hi], 95))) if hi > lo else None)
        lo = hi
    return out


def _catch_up(data: RunData, idx: list[int], start: float, end: float) -> float | None:
    """Seconds after `end` until the twin had seen every movement of the fault window."""
    last: float | None = None
    for s in idx:
        occurred = data.occurred_s[s]
        inside = (occurred >= start) & (occurred < end)
        if inside.any():
            seen = float((occurred[inside] + data.latency_s[s][inside]).max())
            last = seen if last is None else max(last, seen)
    return None if last is None else max(0.0, last - end)


def _recovery(
    data: RunData, window: FaultWindow, windows: list[FaultWindow], recovered_accuracy: float
) -> dict[str, Any]:
    """How long after the fault the twin caught up, and got back to its usual accuracy.

    `catch_up_s`: from the end of the fault until every movement that happened during it at
    the affected sites was visible in the twin (a feed's cadence is in it: an hourly file
    reads as up to an hour). `accuracy_recovery_s`: until the affected sites' accuracy was
    back at their usual level (sample resolution). Without a control run `recovery_s` is
    the latter; `simulator.control.judge_faults` replaces it with the control's verdict.
    """
    idx = site_indices(data, window.sites)
    samples = [x for x in data.samples if x.warm] or data.samples[-1:]
    # "Usual" = the lower quartile of those sites' accuracy outside every fault window
    # (busy hours included): a fault never has to beat a site's normal lag.
    quiet = [
        data.group_accuracy(x, idx)
        for x in samples
        if x.t <= data.active_until_s
        and not any(w.start_s <= x.t < w.end_s + HOUR for w in windows)
    ]
    usual = float(np.percentile(quiet, 25)) if quiet else recovered_accuracy
    threshold = min(recovered_accuracy, usual)
    recovery: float | None = None
    worst = 1.0
    for x in samples:
        acc = data.group_accuracy(x, idx)
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
        "judged_against": "usual level",
        "recovery_s": _opt(recovery),
        "catch_up_s": _opt(_catch_up(data, idx, window.start_s, window.end_s)),
        "accuracy_recovery_s": _opt(recovery),
    }


def site_indices(data: RunData, sites: list[str] | None) -> list[int]:
    everything = list(range(len(data.site_ids)))
    if not sites:
        return everything
    wanted = set(sites)
    return [s for s, site in enumerate(data.site_ids) if site in wanted] or everything


def _latency_stats(values: np.ndarray) -> dict[str, float | int]:
    if not values.size:
        return {"count": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "count": int(values.size),
        "p50": _r(p50),
        "p95": _r(p95),
        "p99": _r(p99),
        "max": _r(values.max()),
    }


def _opt(value: float | None) -> float | None:
    return None if value is None else _r(value)


def _r(value: float | np.floating[Any]) -> float:
    return round(float(value), 4)
