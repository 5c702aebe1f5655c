"""The fault plan of a scenario: which feed misbehaves how, when, and what was injected.

Feeds ask the plan while they send ("is this site's feed down now?", "duplicate this?"); the
plan counts every record it made a feed duplicate or break, so the report can set what was
injected against what the twin rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.spec import (
    BatchDelayFault,
    DuplicateFault,
    MalformedFault,
    OutageFault,
    ReorderFault,
    RestartFault,
    Scenario,
)

HOUR = 3600.0


@dataclass
class FaultWindow:
    """A fault as the report shows it: kind, affected sites, start and end in sim seconds."""

    kind: str
    sites: list[str] | None
    start_s: float
    end_s: float
    detail: str = ""
    fault_index: int = -1  # its place in the scenario's `faults` list


@dataclass
class FaultPlan:
    """Fault queries by site and simulated time (seconds), and the injection counters."""

    outages: list[OutageFault] = field(default_factory=list)
    batch_delays: list[BatchDelayFault] = field(default_factory=list)
    duplicates: list[DuplicateFault] = field(default_factory=list)
    reorders: list[ReorderFault] = field(default_factory=list)
    malformed: list[MalformedFault] = field(default_factory=list)
    restarts: list[RestartFault] = field(default_factory=list)
    injected_duplicates: dict[str, int] = field(default_factory=dict)
    injected_malformed: dict[str, int] = field(default_factory=dict)
    # id(fault) -> its place in the scenario's list (the windows are sorted by time)
    scenario_index: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> FaultPlan:
        plan = cls()
        by_type: dict[type, list[Any]] = {
            OutageFault: plan.outages,
            BatchDelayFault: plan.batch_delays,
            DuplicateFault: plan.duplicates,
            ReorderFault: plan.reorders,
            MalformedFault: plan.malformed,
            RestartFault: plan.restarts,
        }
        for i, fault in enumerate(scenario.faults):
            by_type[type(fault)].append(fault)
            plan.scenario_index[id(fault)] = i
        return plan

    def touches(self, site: str) -> bool:
        """Whether any feed fault ever applies to the site (feeds skip the checks if not)."""
        faults = (*self.outages, *self.batch_delays, *self.duplicates, *self.reorders,
                  *self.malformed)  # fmt: skip
        return any(f.sites is None or site in f.sites for f in faults)

    def outage_end(self, site: str, t: float) -> float | None:
        """If the site's feed is down at `t`, when it comes back (seconds); else None."""
        end: float | None = None
        hour = t / HOUR
        for fault in self.outages:
            if fault.covers(site, hour):
                stop = (fault.start_hour + fault.duration_hours) * HOUR
                end = stop if end is None else max(end, stop)
        return end

    def batch_delay_s(self, site: str, t: float) -> float:
        hour = t / HOUR
        return max(
            (f.delay_minutes * 60.0 for f in self.batch_delays if f.covers(site, hour)),
            default=0.0,
        )

    def duplicate_rate(self, site: str, t: float) -> float:
        hour = t / HOUR
        return max((f.rate for f in self.duplicates if f.covers(site, hour)), default=0.0)

    def reorder(self, site: str, t: float) -> tuple[float, float]:
        """(probability, max hold-back seconds) of holding a message back at `t`."""
        hour = t / HOUR
        active = [f for f in self.reorders if f.covers(site, hour)]
        if not active:
            return 0.0, 0.0
        return max(f.rate for f in active), max(f.max_minutes for f in active) * 60.0

    def malformed_rate(self, site: str, t: float) -> float:
        hour = t / HOUR
        return max((f.rate for f in self.malformed if f.covers(site, hour)), default=0.0)

    def count_duplicate(self, site: str, records: int) -> None:
        self.injected_duplicates[site] = self.injected_duplicates.get(site, 0) + records

    def count_malformed(self, site: str, records: int) -> None:
        self.injected_malformed[site] = self.injected_malformed.get(site, 0) + records

    def windows(self, duration_s: float) -> list[FaultWindow]:
        """Every fault as a time window, in scenario order (restarts as short windows)."""
        out: list[FaultWindow] = []
        feed_faults: list[
            OutageFault | BatchDelayFault | DuplicateFault | ReorderFault | MalformedFault
        ] = [*self.outages, *self.batch_delays, *self.duplicates, *self.reorders, *self.malformed]
        for fault in feed_faults:
            start = fault.start_hour * HOUR
            end = min(start + fault.duration_hours * HOUR, duration_s)
            detail = ""
            if isinstance(fault, BatchDelayFault):
                detail = f"+{fault.delay_minutes:g} min"
            elif isinstance(fault, DuplicateFault | MalformedFault | ReorderFault):
                detail = f"rate {fault.rate:g}"
            index = self.scenario_index.get(id(fault), -1)
            out.append(FaultWindow(fault.kind, fault.sites, start, end, detail, index))
        for restart in self.restarts:
            start = restart.at_hour * HOUR
            index = self.scenario_index.get(id(restart), -1)
            out.append(
                FaultWindow(
                    "restart", None, start, start + restart.down_seconds, restart.target, index
                )
            )
        out.sort(key=lambda w: (w.start_s, w.kind))
        return out


def demand_windows(scenario: Scenario) -> list[dict[str, Any]]:
    """The scenario's demand peaks as report windows (hours, cut at the end of demand)."""
    out: list[dict[str, Any]] = []
    for peak in scenario.demand.peaks:
        start = peak.start_hour
        if start >= scenario.duration_hours:
            continue
        end = min(start + peak.duration_hours, scenario.duration_hours)
        out.append(
            {"kind": "demand", "multiplier": peak.multiplier, "sites": peak.sites,
             "start_h": round(start, 4), "end_h": round(end, 4)}
        )  # fmt: skip
    return out
