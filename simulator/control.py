"""The fair report: each fault judged against a control run of the same seed without it.

Removing a fault changes no physical stream: demand, fulfilment and replenishment draw from
the model's own seeded streams and each feed from its own, and a feed whose fault does not
apply draws nothing for it. So a control run has the same demand and the same feed cadences
as the fault run; only the fault's own draws (and what follows them in that feed) differ.

- `control_variants`: which runs a scenario needs: the scenario without each fault, and
  without any (the cadence control); `without_faults` builds one.
- `judge_faults`: `recovery_s` of each fault = from the end of its window until the
  affected sites' accuracy is back within the band of its control (the control's lowest
  accuracy over the neighbouring samples, minus `control_tolerance`). A fault the twin
  shrugs off reports 0; a feed's rhythm, present in the control too, counts for nothing.
- `split_discrepancy`: each site's share of all ATP discrepancy, split into cadence lag
  (what the cadence control has too) and fault impact (the difference).
"""

from __future__ import annotations

import bisect
from typing import Any

from simulator.faults import FaultWindow
from simulator.report import RunData, Sample, site_indices
from simulator.spec import Scenario

# The kept faults of a variant: indices into the scenario's `faults` list.
Variant = tuple[int, ...]


def feed_fault_indices(scenario: Scenario) -> Variant:
    """The faults a control can leave out offline (restarts need live mode)."""
    return tuple(i for i, f in enumerate(scenario.faults) if f.kind != "restart")


def control_variants(scenario: Scenario) -> list[Variant]:
    """The control runs a scenario's fair report needs, without repeats.

    One without each fault, then one without any; a single fault needs only one control.
    Empty when controls are off or the scenario has no faults.
    """
    faults = feed_fault_indices(scenario)
    if not faults or not scenario.report.controls:
        return []
    variants = [tuple(j for j in faults if j != i) for i in faults]
    variants.append(())
    return list(dict.fromkeys(variants))


def without_faults(scenario: Scenario, kept: Variant) -> Scenario:
    """The scenario with only the faults at `kept` (same seed, demand and feeds)."""
    return scenario.model_copy(update={"faults": [scenario.faults[i] for i in kept]})


def judge_faults(
    report: dict[str, Any],
    data: RunData,
    windows: list[FaultWindow],
    controls: dict[Variant, RunData],
    *,
    all_faults: Variant,
    tolerance: float,
    sample_s: float,
) -> None:
    """Replace each fault's `recovery_s` in `report` by its control's verdict (in place)."""
    for window, entry in zip(windows, report["faults"], strict=True):
        kept = tuple(i for i in all_faults if i != window.fault_index)
        control = controls.get(kept)
        if control is None or window.fault_index < 0:
            continue
        entry.update(_against_control(data, control, window, tolerance, sample_s))


def _against_control(
    data: RunData, control: RunData, window: FaultWindow, tolerance: float, sample_s: float
) -> dict[str, Any]:
    idx = site_indices(data, window.sites)
    control_at = _Lookup(control, idx)
    recovery: float | None = None
    gap = 0.0
    added = 0
    for x in data.samples:
        if x.t < window.start_s:
            continue
        acc = data.group_accuracy(x, idx)
        gap = max(gap, control_at.accuracy(x.t) - acc)
        if x.warm:
            added += sum(x.site_abs[s] for s in idx) - control_at.abs_error(x.t)
        band = control_at.lowest(x.t - sample_s, x.t + sample_s) - tolerance
        if recovery is None and x.t >= window.end_s and acc >= band:
            # At sample resolution; within the band at the first look after the fault is 0.
            first_after = x is _first_at_or_after(data.samples, window.end_s)
            recovery = 0.0 if first_after else x.t - window.end_s
    return {
        "judged_against": "control",
        "recovery_s": None if recovery is None else round(recovery, 4),
        "accuracy_gap_max": round(gap, 4),
        "abs_error_added": int(added),
    }


def _first_at_or_after(samples: list[Sample], t: float) -> Sample | None:
    return next((x for x in samples if x.t >= t), None)


class _Lookup:
    """A control run's accuracy of some sites at any instant (its last sample at or before)."""

    def __init__(self, control: RunData, idx: list[int]) -> None:
        self.times = [x.t for x in control.samples]
        self.acc = [control.group_accuracy(x, idx) for x in control.samples]
        self.abs = [sum(x.site_abs[s] for s in idx) for x in control.samples]

    def _at(self, t: float) -> int:
        return max(bisect.bisect_right(self.times, t + 1e-6) - 1, 0)

    def accuracy(self, t: float) -> float:
        return self.acc[self._at(t)]

    def abs_error(self, t: float) -> int:
        return self.abs[self._at(t)]

    def lowest(self, lo: float, hi: float) -> float:
        """The control's lowest accuracy over the samples from `lo` to `hi`."""
        return min(self.acc[self._at(lo) : self._at(hi) + 1])


def split_discrepancy(report: dict[str, Any], data: RunData, cadence: RunData) -> None:
    """Add each site's cadence and fault shares of all discrepancy to `report` (in place).

    Shares are of the fault run's total absolute ATP error over the warm samples: cadence =
    the site's error in the control without faults, fault = the site's error beyond it
    (negative when the fault run happened to do better there). They add up to the site's
    `discrepancy_share`.
    """
    run_abs = _site_abs(data)
    control_abs = _site_abs(cadence)
    total = float(sum(run_abs)) or 1.0
    split: dict[str, dict[str, float]] = {}
    for s, site in enumerate(data.site_ids):
        cadence_share = round(control_abs[s] / total, 4)
        fault_share = round((run_abs[s] - control_abs[s]) / total, 4)
        split[site] = {"cadence": cadence_share, "fault": fault_share}
        report["sites"][site]["cadence_share"] = cadence_share
        report["sites"][site]["fault_share"] = fault_share
        report["sites"][site]["control_abs_atp_error_sum"] = control_abs[s]
    report["discrepancy_split"] = split


def _site_abs(data: RunData) -> list[int]:
    warm = [x for x in data.samples if x.warm] or data.samples[-1:]
    return [sum(x.site_abs[s] for x in warm) for s in range(len(data.site_ids))]
