"""Replications: one scenario over N seeds in parallel processes, each figure as risk.

Replication i runs seed + i offline with its own control runs (`simulator.fair`); at most
`os.cpu_count()` run at once. The report gives each headline figure of the single-run
report as its mean over the replications, the 95% confidence interval of that mean
(Student t, `simulator.interval`) and the worst replication, per fault and per site too,
and the accuracy over time as a band (mean, interval, min-max) for the plots. The same seed
and N give the same report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from simulator.engine import OnEvent
from simulator.fair import may_start_processes, pool_context, run_offline_fair
from simulator.interval import Worse, mean_ci95, summarize
from simulator.spec import Scenario

Getter = Callable[[dict[str, Any]], float]
Bounds = tuple[float | None, float | None]
SHARE: Bounds = (0.0, 1.0)  # accuracies and shares of a whole
COUNT: Bounds = (0.0, None)  # counts, errors, values, seconds
FREE: Bounds = (None, None)  # differences, which may go either way


def _worst_site_p95(report: dict[str, Any]) -> float:
    return max((s["p95"] for s in report["staleness"].values()), default=0.0)


# Headline figures: (name, how to read it from a single-run report, which way is worse).
FIGURES: list[tuple[str, Getter, Worse, Bounds]] = [
    ("accuracy.final", lambda r: r["accuracy"]["final"], "low", SHARE),
    ("accuracy.mean", lambda r: r["accuracy"]["mean"], "low", SHARE),
    ("accuracy.min", lambda r: r["accuracy"]["min"], "low", SHARE),
    ("atp_error.max_abs", lambda r: r["atp_error"]["max_abs"], "high", COUNT),
    ("atp_error.mean_abs", lambda r: r["atp_error"]["mean_abs"], "high", COUNT),
    ("orders.lost", lambda r: r["orders"]["lost"], "high", COUNT),
    ("orders.over_promised", lambda r: r["orders"]["over_promised"], "high", COUNT),
    ("stockouts.max", lambda r: r["stockouts"]["max"], "high", COUNT),
    ("stockouts.mean", lambda r: r["stockouts"]["mean"], "high", COUNT),
    ("value_at_risk.max", lambda r: r["value_at_risk"]["max"], "high", COUNT),
    ("value_at_risk.mean", lambda r: r["value_at_risk"]["mean"], "high", COUNT),
    ("staleness.p95_worst_site_s", _worst_site_p95, "high", COUNT),
    ("dlq.count", lambda r: r["dlq"]["count"], "high", COUNT),
]
FAULT_FIGURES: list[tuple[str, Worse, Bounds]] = [
    ("recovery_s", "high", COUNT),
    ("catch_up_s", "high", COUNT),
    ("accuracy_gap_max", "high", FREE),
    ("abs_error_added", "high", FREE),
    ("worst_accuracy", "low", SHARE),
]
SITE_FIGURES: list[tuple[str, Worse, Bounds]] = [
    ("discrepancy_share", "high", SHARE),
    ("cadence_share", "high", SHARE),
    ("fault_share", "high", FREE),
    ("accuracy_mean", "low", SHARE),
]
INTERVAL = (
    "95% confidence interval of the mean over the replications: Student t with n-1 degrees"
    " of freedom on the per-replication values (mean ± t·s/√n). It narrows like 1/√n; a"
    " single day can fall outside it, which is what `worst` is for. Cut at the figure's"
    " possible range (counts at 0, accuracies and shares at 0 and 1)."
)


def _replication_job(args: tuple[str, int]) -> dict[str, Any]:
    scenario_json, seed = args
    return run_offline_fair(Scenario.model_validate_json(scenario_json), seed, parallel=False)


def run_replications(
    scenario: Scenario, seed: int, replications: int, *, on_event: OnEvent | None = None
) -> dict[str, Any]:
    """Run seeds `seed` .. `seed + replications - 1` and summarise them (module docstring)."""
    seeds = [seed + i for i in range(replications)]
    jobs = [(scenario.model_dump_json(), s) for s in seeds]
    reports: list[dict[str, Any]] = []

    def done(report: dict[str, Any]) -> None:
        reports.append(report)
        if on_event is not None:
            on_event(
                {"type": "progress", "sim_time_s": scenario.duration_hours * 3600.0,
                 "pct": round(100.0 * len(reports) / replications, 2), "events": 0}
            )  # fmt: skip

    if may_start_processes():
        processes = min(os.cpu_count() or 1, replications)
        with pool_context().Pool(processes=processes) as pool:
            for report in pool.imap(_replication_job, jobs):
                done(report)
    else:
        for job in jobs:
            done(_replication_job(job))
    return summarize_replications(scenario, seeds, reports)


def summarize_replications(
    scenario: Scenario, seeds: list[int], reports: list[dict[str, Any]]
) -> dict[str, Any]:
    """The replicated report from the single-run reports of `seeds` (in seed order)."""
    first = reports[0]
    figures = {
        name: summarize([get(r) for r in reports], worse, bounds)
        for name, get, worse, bounds in FIGURES
    }
    return {
        "scenario": first["scenario"],
        "description": first["description"],
        "mode": first["mode"],
        "seed": seeds[0],
        "seeds": seeds,
        "replications": len(seeds),
        "interval": INTERVAL,
        "start": first["start"],
        "duration_hours": first["duration_hours"],
        "network": first["network"],
        "figures": figures,
        "faults": _faults(reports),
        "sites": _sites(reports),
        "demand_windows": first["demand_windows"],
        "controls": first.get("controls"),
        "accuracy_band": _band(reports),
        "runs": [
            {
                "seed": s,
                "stream_sha256": r["stream_sha256"],
                **{name: get(r) for name, get, _, _ in FIGURES},
            }
            for s, r in zip(seeds, reports, strict=True)
        ],
    }


def _faults(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, fault in enumerate(reports[0]["faults"]):
        entries = [r["faults"][i] for r in reports]
        row: dict[str, Any] = {
            key: fault[key]
            for key in ("kind", "sites", "detail", "start_h", "end_h", "judged_against")
        }
        for name, worse, bounds in FAULT_FIGURES:
            values = [e[name] for e in entries if e.get(name) is not None]
            row[name] = summarize(values, worse, bounds) if values else None
        # A replication that never got back within the band: the worst case is "never".
        row["not_recovered"] = sum(1 for e in entries if e["recovery_s"] is None)
        out.append(row)
    return out


def _sites(reports: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for site, figures in reports[0]["sites"].items():
        row: dict[str, Any] = {"feed_mode": figures["feed_mode"]}
        for name, worse, bounds in SITE_FIGURES:
            if name in figures:
                row[name] = summarize([r["sites"][site][name] for r in reports], worse, bounds)
        row["staleness_p95_s"] = summarize(
            [r["sites"][site]["staleness_s"]["p95"] for r in reports], "high", COUNT
        )
        out[site] = row
    return out


def _band(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy over time across replications: mean, 95% interval, min and max per sample.

    Replications sample on the same grid; one that drained sooner keeps its last value.
    """
    longest = max(reports, key=lambda r: len(r["accuracy"]["series"]))
    hours = [h for h, _ in longest["accuracy"]["series"]]
    band: dict[str, list[float]] = {"mean": [], "ci95_low": [], "ci95_high": [], "min": [],
                                    "max": []}  # fmt: skip
    site_mean: dict[str, list[float]] = {site: [] for site in longest["accuracy"]["site_series"]}
    for i in range(len(hours)):
        values = [_at(r["accuracy"]["series"], i)[1] for r in reports]
        mean, half = mean_ci95(values)
        half = half or 0.0
        band["mean"].append(round(mean, 4))
        band["ci95_low"].append(round(max(mean - half, 0.0), 4))
        band["ci95_high"].append(round(min(mean + half, 1.0), 4))
        band["min"].append(min(values))
        band["max"].append(max(values))
        for site, series in site_mean.items():
            site_values = [_at(r["accuracy"]["site_series"][site], i) for r in reports]
            series.append(round(sum(site_values) / len(site_values), 4))
    return {"hours": hours, **band, "site_mean": site_mean}


def _at(series: list[Any], i: int) -> Any:
    return series[min(i, len(series) - 1)]


def summary_lines(report: dict[str, Any], wall_s: float) -> list[str]:
    """A replicated report for a terminal: each headline figure as mean [interval] worst."""
    seeds = report["seeds"]
    lines = [
        f"{report['scenario']} ({report['mode']}, {report['replications']} replications, "
        f"seeds {seeds[0]}-{seeds[-1]}) in {wall_s:.1f} s wall",
        "  figure                          mean   [95% interval]            worst",
    ]
    for name, stats in report["figures"].items():
        lines.append(f"  {name:<28}{_stats_text(stats)}")
    for fault in report["faults"]:
        where = ",".join(fault["sites"] or ["all"])
        never = f", never in {fault['not_recovered']}" if fault["not_recovered"] else ""
        lines.append(
            f"  fault {fault['kind']:<12} {where:<10} {fault['start_h']:g}-{fault['end_h']:g} h"
            f"  recovery s {_stats_text(fault['recovery_s'])}{never}"
        )
    return lines


def _stats_text(stats: dict[str, Any] | None) -> str:
    if stats is None:
        return "-"
    ci = stats["ci95"]
    interval = "" if ci is None else f"[{ci[0]:g}, {ci[1]:g}]"
    return f"{stats['mean']:>10g}   {interval:<24}{stats['worst']:g}"
