"""Compare two variants of a scenario: the same start, the same seeds, the differences.

Each variant is the scenario with some parts replaced (faults, demand, operations, feeds).
Both run every seed of the comparison (`seed` .. `seed + replications - 1`) in parallel
processes; a run from the live twin has already been forked, so both open from the same
snapshot. Since a seed gives both variants the same demand and the same feed behaviour
wherever they agree, each figure's difference (second minus first) is taken seed by seed
and reported as mean, 95% interval (Student t over the paired differences) and the
largest difference: a paired comparison, narrower than two separate intervals.
"""

from __future__ import annotations

import os
from typing import Any

from simulator.engine import OnEvent
from simulator.fair import may_start_processes, pool_context, run_offline_fair
from simulator.interval import summarize
from simulator.replications import FIGURES, FREE, summarize_replications
from simulator.spec import Scenario, VariantSpec

DIFFERENCE = (
    "second variant minus first, seed by seed (same seed, same demand and feeds where the"
    " variants agree): mean, 95% interval of the mean difference (Student t, n-1 degrees of"
    " freedom), and the largest difference seen (`worst`)"
)


def variant_scenario(scenario: Scenario, variant: VariantSpec) -> Scenario:
    """The scenario as one variant runs it (its replaced parts; no comparison of its own)."""
    update: dict[str, Any] = {"compare": None, "name": f"{scenario.name}/{variant.name}"}
    for part in ("faults", "demand", "operations", "feeds"):
        value = getattr(variant, part)
        if value is not None:
            update[part] = value
    return scenario.model_copy(update=update)


def _job(args: tuple[str, int]) -> dict[str, Any]:
    scenario_json, seed = args
    return run_offline_fair(Scenario.model_validate_json(scenario_json), seed, parallel=False)


def run_compare(
    scenario: Scenario, seed: int, replications: int, *, on_event: OnEvent | None = None
) -> dict[str, Any]:
    """Both variants over the same seeds, and the report of their differences."""
    assert scenario.compare is not None
    variants = [variant_scenario(scenario, v) for v in scenario.compare]
    seeds = [seed + i for i in range(replications)]
    jobs = [(v.model_dump_json(), s) for v in variants for s in seeds]
    reports: list[dict[str, Any]] = []

    def done(report: dict[str, Any]) -> None:
        reports.append(report)
        if on_event is not None:
            on_event(
                {"type": "progress", "sim_time_s": scenario.duration_hours * 3600.0,
                 "pct": round(100.0 * len(reports) / len(jobs), 2), "events": 0}
            )  # fmt: skip

    if may_start_processes() and len(jobs) > 1:
        with pool_context().Pool(processes=min(os.cpu_count() or 1, len(jobs))) as pool:
            for report in pool.imap(_job, jobs):
                done(report)
    else:
        for job in jobs:
            done(_job(job))
    first, second = reports[: len(seeds)], reports[len(seeds) :]
    return compare_reports(scenario, seeds, first, second)


def compare_reports(
    scenario: Scenario,
    seeds: list[int],
    first: list[dict[str, Any]],
    second: list[dict[str, Any]],
) -> dict[str, Any]:
    """The comparison report from each variant's single-run reports (in seed order)."""
    assert scenario.compare is not None
    names = [v.name for v in scenario.compare]
    differences = {
        name: summarize([get(b) - get(a) for a, b in zip(first, second, strict=True)], "high", FREE)
        for name, get, _worse, _bounds in FIGURES
    }
    sides = [
        summarize_replications(variant_scenario(scenario, v), seeds, runs)
        for v, runs in ((scenario.compare[0], first), (scenario.compare[1], second))
    ]
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "mode": "offline",
        "seed": seeds[0],
        "seeds": seeds,
        "replications": len(seeds),
        "compare": names,
        "variants": dict(zip(names, sides, strict=True)),
        "differences": differences,
        "difference": DIFFERENCE,
    }
