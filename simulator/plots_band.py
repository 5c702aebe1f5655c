"""PNG plots of a replicated report: bands over the replications, not one run's line.

- `accuracy.png`: the network's mean accuracy over time with its 95% confidence interval
  shaded dark and the min-max over replications light, the sites' mean lines faint, fault
  and demand windows shaded as in a single run's plot.
- `staleness.png`: each site's p95 staleness, mean with 95% interval whiskers and the worst
  replication marked.
- `discrepancy.png`: each site's mean share of all discrepancy, split into cadence lag and
  fault impact when the runs had controls, with the interval of the total.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window, as in simulator.plots

import matplotlib.pyplot as plt

from simulator.plots import save_figure, shade_windows


def write_band_plots(report: dict[str, Any], out_dir: Path) -> dict[str, str]:
    plots = {
        "accuracy": _accuracy(report, out_dir / "accuracy.png"),
        "staleness": _staleness(report, out_dir / "staleness.png"),
        "discrepancy": _discrepancy(report, out_dir / "discrepancy.png"),
    }
    return {name: str(path) for name, path in plots.items()}


def _title(report: dict[str, Any], what: str) -> str:
    seeds = report["seeds"]
    return (
        f"{report['scenario']} ({report['mode']}, {report['replications']} replications, "
        f"seeds {seeds[0]}-{seeds[-1]}): {what}"
    )


def _pct(values: list[float]) -> list[float]:
    return [v * 100 for v in values]


def _accuracy(report: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(11, 5))
    band = report["accuracy_band"]
    hours = band["hours"]
    for site, values in band["site_mean"].items():
        ax.plot(hours, _pct(values), linewidth=0.8, alpha=0.5, label=f"{site} (mean)")
    ax.fill_between(hours, _pct(band["min"]), _pct(band["max"]), color="black", alpha=0.1,
                    linewidth=0, label="network min-max")  # fmt: skip
    ax.fill_between(hours, _pct(band["ci95_low"]), _pct(band["ci95_high"]), color="black",
                    alpha=0.3, linewidth=0, label="network 95% interval")  # fmt: skip
    ax.plot(hours, _pct(band["mean"]), color="black", linewidth=2.0, label="network mean")
    shade_windows(ax, report)
    ax.axvline(report["duration_hours"], color="grey", linestyle=":", linewidth=1)
    busy = [h for h, low in zip(hours, band["min"], strict=True) if low < 1.0]
    right = max(report["duration_hours"], busy[-1] if busy else 0.0) * 1.08 + 0.5
    ax.set_xlim(0, min(right, hours[-1] + 0.5) if hours else right)
    ax.set_ylim(0, 101)
    ax.set_xlabel("simulated hours")
    ax.set_ylabel("SKU-sites where twin ATP = true ATP (%)")
    final = report["figures"]["accuracy.final"]
    ax.set_title(_title(report, f"accuracy (final mean {final['mean'] * 100:.1f}%)"))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=7, ncol=3)
    return save_figure(fig, path)


def _whiskers(stats: dict[str, Any]) -> tuple[float, float]:
    if stats["ci95"] is None:
        return 0.0, 0.0
    low, high = stats["ci95"]
    return stats["mean"] - low, high - stats["mean"]


def _staleness(report: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(10, 4.5))
    sites = list(report["sites"])
    stats = [report["sites"][s]["staleness_p95_s"] for s in sites]
    means = [max(x["mean"], 1e-3) for x in stats]
    errors = [_whiskers(x) for x in stats]
    ax.bar(range(len(sites)), means, color="#ff7f0e", label="p95, mean",
           yerr=[[e[0] for e in errors], [e[1] for e in errors]], capsize=4)  # fmt: skip
    ax.scatter(range(len(sites)), [max(x["worst"], 1e-3) for x in stats], marker="v",
               color="#d62728", zorder=3, label="p95, worst replication")  # fmt: skip
    ax.set_xticks(range(len(sites)))
    ax.set_xticklabels([f"{s}\n{report['sites'][s]['feed_mode']}" for s in sites], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("event-to-visible latency p95 (s, log)")
    ax.set_title(_title(report, "staleness per site (95% interval)"))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def _discrepancy(report: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4.5))
    sites = sorted(report["sites"], key=lambda s: report["sites"][s]["discrepancy_share"]["mean"])
    rows = [report["sites"][s] for s in sites]
    labels = [f"{s} ({row['feed_mode']})" for s, row in zip(sites, rows, strict=True)]
    totals = [row["discrepancy_share"]["mean"] * 100 for row in rows]
    errors = [tuple(v * 100 for v in _whiskers(row["discrepancy_share"])) for row in rows]
    if all("cadence_share" in row for row in rows):
        cadence = [row["cadence_share"]["mean"] * 100 for row in rows]
        fault = [row["fault_share"]["mean"] * 100 for row in rows]
        ax.barh(labels, cadence, color="#1f77b4", label="cadence lag (in the control)")
        ax.barh(labels, fault, left=cadence, color="#d62728", label="fault impact")
        ax.legend(loc="lower right", fontsize=8)
    else:
        ax.barh(labels, totals, color="#1f77b4")
    ax.errorbar(totals, labels, xerr=[[e[0] for e in errors], [e[1] for e in errors]],
                fmt="none", ecolor="black", capsize=3)  # fmt: skip
    ends = [value + err[1] for value, err in zip(totals, errors, strict=True)]
    for y, (value, end) in enumerate(zip(totals, ends, strict=True)):
        ax.text(end + 0.5, y, f"{value:.1f}%", va="center", fontsize=8)
    ax.set_xlim(0, max([*ends, 1.0]) * 1.2)
    ax.set_xlabel("share of all absolute ATP discrepancy, mean (%), 95% interval")
    ax.set_title(_title(report, "which sites cause the discrepancy"))
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)
