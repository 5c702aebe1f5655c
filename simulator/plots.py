"""PNG plots of a resilience report, meant to be read at a glance (matplotlib, Agg backend).

- `accuracy.png`: the share of SKU-sites where twin ATP equals true ATP over simulated time,
  for the network and per site, with every fault window shaded and labelled.
- `staleness.png`: event-to-visible latency per site (p50, p95, p99), log scale.
- `discrepancy.png`: each site's share of all ATP discrepancy, largest first, split into
  cadence lag (present in the control run without faults) and fault impact when the run had
  controls.

Demand windows (peaks) are shaded like faults, hatched. A replicated report gets the same
three files drawn as bands: the mean accuracy with its 95% interval and the min-max over
replications shaded, and bars with 95% interval whiskers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window: this runs in workers and CI

import matplotlib.pyplot as plt

_FAULT_COLORS = {
    "outage": "#d62728",
    "batch_delay": "#ff7f0e",
    "duplicates": "#9467bd",
    "reorder": "#8c564b",
    "malformed": "#e377c2",
    "restart": "#7f7f7f",
}
_DEMAND_COLOR = "#2ca02c"


def write_plots(report: dict[str, Any], out_dir: Path) -> dict[str, str]:
    if report.get("replications", 1) > 1:
        from simulator.plots_band import write_band_plots

        return write_band_plots(report, out_dir)
    plots = {
        "accuracy": _accuracy(report, out_dir / "accuracy.png"),
        "staleness": _staleness(report, out_dir / "staleness.png"),
        "discrepancy": _discrepancy(report, out_dir / "discrepancy.png"),
    }
    return {name: str(path) for name, path in plots.items()}


def _title(report: dict[str, Any], what: str) -> str:
    return f"{report['scenario']} ({report['mode']}, seed {report['seed']}): {what}"


def _accuracy(report: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(11, 5))
    series = report["accuracy"]["series"]
    hours = [h for h, _ in series]
    for site, values in report["accuracy"]["site_series"].items():
        ax.plot(hours, [v * 100 for v in values], linewidth=0.9, alpha=0.6, label=site)
    ax.plot(hours, [a * 100 for _, a in series], color="black", linewidth=2.2, label="network")
    shade_windows(ax, report)
    ax.axvline(report["duration_hours"], color="grey", linestyle=":", linewidth=1)
    ax.text(report["duration_hours"], 2, " demand stops, feeds drain", color="grey", fontsize=8)
    # The long tail of a drain (a transfer still on the road) is flat at 100%: cut it.
    busy = [h for h, a in series if a < 1.0]
    right = max(report["duration_hours"], busy[-1] if busy else 0.0) * 1.08 + 0.5
    ax.set_xlim(0, min(right, hours[-1] + 0.5) if hours else right)
    ax.set_ylim(0, 101)
    ax.set_xlabel("simulated hours")
    ax.set_ylabel("SKU-sites where twin ATP = true ATP (%)")
    ax.set_title(_title(report, f"accuracy (final {report['accuracy']['final'] * 100:.1f}%)"))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, ncol=3)
    return save_figure(fig, path)


def shade_windows(ax: Any, report: dict[str, Any]) -> None:
    """Shade every fault window, and every demand window hatched, each labelled once."""
    seen: set[str] = set()
    for fault in report["faults"]:
        color = _FAULT_COLORS.get(fault["kind"], "#bbbbbb")
        where = ",".join(fault["sites"]) if fault["sites"] else "all sites"
        label = f"{fault['kind']} ({where})"
        ax.axvspan(
            fault["start_h"],
            max(fault["end_h"], fault["start_h"] + 0.05),
            color=color,
            alpha=0.15,
            label=None if label in seen else label,
        )
        seen.add(label)
    for peak in report.get("demand_windows", []):
        where = ",".join(peak["sites"]) if peak["sites"] else "all sites"
        label = f"demand x{peak['multiplier']:g} ({where})"
        ax.axvspan(
            peak["start_h"],
            peak["end_h"],
            facecolor="none",
            edgecolor=_DEMAND_COLOR,
            hatch="//",
            alpha=0.5,
            linewidth=0,
            label=None if label in seen else label,
        )
        seen.add(label)


def _staleness(report: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(10, 4.5))
    sites = list(report["staleness"])
    width = 0.27
    for i, (pct, color) in enumerate((("p50", "#2ca02c"), ("p95", "#ff7f0e"), ("p99", "#d62728"))):
        values = [max(report["staleness"][s][pct], 1e-3) for s in sites]
        xs = [x + (i - 1) * width for x in range(len(sites))]
        ax.bar(xs, values, width=width, color=color, label=pct)
    ax.set_xticks(range(len(sites)))
    ax.set_xticklabels([f"{s}\n{report['sites'][s]['feed_mode']}" for s in sites], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("event-to-visible latency (s, log)")
    ax.set_title(_title(report, "staleness per site"))
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def _discrepancy(report: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4.5))
    shares = sorted(report["discrepancy_share"].items(), key=lambda kv: kv[1])
    labels = [f"{s} ({report['sites'][s]['feed_mode']})" for s, _ in shares]
    values = [v * 100 for _, v in shares]
    split = report.get("discrepancy_split")
    if split:
        # Cadence lag (the control has it too), then what the faults added on top.
        cadence = [split[s]["cadence"] * 100 for s, _ in shares]
        fault = [split[s]["fault"] * 100 for s, _ in shares]
        ax.barh(labels, cadence, color="#1f77b4", label="cadence lag (in the control)")
        ax.barh(labels, fault, left=cadence, color="#d62728", label="fault impact")
        ax.legend(loc="lower right", fontsize=8)
    bars = ax.barh(labels, values, color="none" if split else "#1f77b4")
    for bar, value in zip(bars, values, strict=True):
        ax.text(bar.get_width() + 0.5, bar.get_y() + bar.get_height() / 2, f"{value:.1f}%",
                va="center", fontsize=8)  # fmt: skip
    ax.set_xlim(0, max([*values, 1.0]) * 1.15)
    ax.set_xlabel("share of all absolute ATP discrepancy (%)")
    ax.set_title(_title(report, "which sites cause the discrepancy"))
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def save_figure(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
