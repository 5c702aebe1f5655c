"""One offline seed with its control runs, turned into the fair report (`simulator.control`).

The fault run streams its progress to `on_event` in this process; its control runs (same
seed, a fault left out) run meanwhile in other processes when this process may start them,
one after the other in it otherwise (inside a replication's worker).
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from simulator.control import (
    Variant,
    control_variants,
    feed_fault_indices,
    judge_faults,
    split_discrepancy,
    without_faults,
)
from simulator.engine import OnEvent
from simulator.faults import FaultPlan, demand_windows
from simulator.report import RunData, build_report
from simulator.spec import Scenario

HOUR = 3600.0
RunResult = tuple[RunData, dict[str, Any]]


def run_data(
    scenario: Scenario, seed: int, *, workers: int = 1, on_event: OnEvent | None = None
) -> RunResult:
    """One offline run's data and header, in this process or split by SKU over `workers`."""
    if workers > 1:
        from simulator.parallel import sharded_data

        return sharded_data(scenario, seed, workers, on_event=on_event)
    from simulator.runner import offline_shard  # the runner imports this module

    return offline_shard(scenario, seed, 0, 1, on_event=on_event)


def _control_job(args: tuple[str, int, Variant]) -> RunData:
    scenario_json, seed, kept = args
    scenario = without_faults(Scenario.model_validate_json(scenario_json), kept)
    return run_data(scenario, seed)[0]


def may_start_processes() -> bool:
    """A pool worker (daemonic) may not start processes of its own."""
    return not multiprocessing.current_process().daemon and (os.cpu_count() or 1) > 1


def pool_context() -> Any:
    # fork: no re-import per worker (the offline path starts no threads before this point)
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run_offline_fair(
    scenario: Scenario,
    seed: int,
    *,
    workers: int = 1,
    on_event: OnEvent | None = None,
    parallel: bool = True,
) -> dict[str, Any]:
    """The report of one seed, each fault judged against its control run."""
    variants = control_variants(scenario)
    controls: dict[Variant, RunData] = {}
    if variants and parallel and workers == 1 and may_start_processes():
        jobs = [(scenario.model_dump_json(), seed, kept) for kept in variants]
        processes = min(len(jobs), max((os.cpu_count() or 1) - 1, 1))
        with pool_context().Pool(processes=processes) as pool:
            pending = pool.map_async(_control_job, jobs)
            main = run_data(scenario, seed, on_event=on_event)
            controls = dict(zip(variants, pending.get(), strict=True))
    else:
        main = run_data(scenario, seed, workers=workers, on_event=on_event)
        for kept in variants:
            controls[kept] = run_data(without_faults(scenario, kept), seed, workers=workers)[0]
    return fair_report(scenario, main, controls)


def fair_report(
    scenario: Scenario, main: RunResult, controls: dict[Variant, RunData]
) -> dict[str, Any]:
    data, header = main
    windows = FaultPlan.from_scenario(scenario).windows(scenario.duration_hours * HOUR)
    report = build_report(
        data,
        header=header,
        windows=windows,
        recovered_accuracy=scenario.report.recovered_accuracy,
        demand_windows=demand_windows(scenario),
    )
    if not controls:
        return report
    judge_faults(
        report,
        data,
        windows,
        controls,
        all_faults=feed_fault_indices(scenario),
        tolerance=scenario.report.control_tolerance,
        sample_s=scenario.report.sample_minutes * 60.0,
    )
    split_discrepancy(report, data, controls[()])
    report["controls"] = {
        "runs": len(controls),
        "faults_judged_against": "the same seed without that fault",
        "cadence_share_from": "the same seed without any fault",
        "tolerance": scenario.report.control_tolerance,
    }
    return report
