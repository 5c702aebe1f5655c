"""Benchmark: how fast the simulator runs offline, with and without the twin core.

Scenario: a generated network (half the sites on the API, batch middleware, one 3PL), the
retail diurnal curve, 10 customer orders per SKU-site per day on average (each order is
RESERVED -> PICKED -> SHIPPED), replenishment, transfers, holds, returns and cycle counts.

Measured in one run:
- `sim_only`: the simulator alone (physical model, feeds encoding raw messages), no twin —
  the baseline, what the simulator itself costs;
- `with_twin`: the same run delivering every raw message through `twin.normalize` and
  `twin.shard.TwinShard` in-process (offline mode) — `sim_events_per_s`;
  both on 10 sites x 1,000 SKUs x 6 h, median of `--repeat` runs;
- `day_10x5000`: one simulated day of 10 sites x 5,000 SKUs offline including the twin
  (`day_10x5000_seconds`, wall; CPU seconds alongside since this machine is shared), and
  the same day with the simulator alone as its baseline (`day_10x5000_sim_only_seconds`),
  and split by SKU over `--workers` processes (`run_scenario(workers=...)`); the headline
  `day_10x5000_seconds` is the faster of the two, `day_10x5000_workers` says which.
  One run each (a day takes a minute or more here); the load average is recorded since the
  machine is shared.
- `replications_10_seconds`: ten replications (seeds 1-10) of that day, in parallel
  processes (at most one per CPU), wall seconds to the replicated report (mean, 95%
  interval, worst); CPU seconds alongside. No faults, so no control runs. `--rep-sites`,
  `--rep-skus` and `--rep-hours` shrink it for a loaded machine: the result is then
  `replications_scaled` with the size it ran at, never the headline key.

The last line of stdout is the JSON result, also written to bench/results/sim_throughput.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import simpy

from bench.publish import publish
from simulator.engine import Simulation
from simulator.runner import run_scenario
from simulator.scenarios import parse_scenario
from simulator.spec import Scenario


def scenario(sites: int, skus: int, hours: float, diurnal: str = "retail") -> Scenario:
    return parse_scenario(
        f"""
name: bench-{sites}x{skus}
duration_hours: {hours}
network: {{generate: {{sites: {sites}, skus: {skus}, seed: 1}}}}
demand: {{orders_per_sku_site_per_day: 10, diurnal: {diurnal}}}
report: {{sample_minutes: 30}}
"""
    )


def sim_only(spec: Scenario, seed: int) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    env = simpy.Environment()
    sim = Simulation(spec, seed, env)
    env.run(until=sim.start())
    assert sim.model is not None
    events = sim.model.stats["events"]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"events": events, "wall_s": wall, "cpu_s": cpu, "events_per_s": events / wall}


def with_twin(spec: Scenario, seed: int, workers: int = 1) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), _cpu()
    report = run_scenario(spec, mode="offline", seed=seed, workers=workers)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    events = report["events"]["physical"]
    return {
        "events": events,
        "orders": report["orders"]["placed"],
        "wall_s": wall,
        "cpu_s": cpu,
        "events_per_s": events / wall,
        "accuracy_final": report["accuracy"]["final"],
    }


def replications_run(sites: int, skus: int, hours: float, n: int) -> dict[str, Any]:
    spec = scenario(sites, skus, hours)
    wall, cpu = time.perf_counter(), _cpu()
    report = run_scenario(spec, mode="offline", seed=1, replications=n)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    return {
        "network": f"{sites} sites x {skus} SKUs, {hours:g} h",
        "replications": n,
        "processes": min(os.cpu_count() or 1, n),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "accuracy_final_mean": report["figures"]["accuracy.final"]["mean"],
        "orders_lost_ci95": report["figures"]["orders.lost"]["ci95"],
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }


def _cpu() -> float:
    # This process and its finished children (the SKU shards of a multi-worker run).
    own = os.times()
    return own.user + own.system + own.children_user + own.children_system


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-day", action="store_true", help="skip the 10x5000 day")
    parser.add_argument("--workers", type=int, default=2, help="SKU shards for the split day")
    parser.add_argument("--only-replications", action="store_true",
                        help="run only the replications case")  # fmt: skip
    parser.add_argument("--skip-replications", action="store_true")
    parser.add_argument("--replications", type=int, default=10)
    parser.add_argument("--rep-sites", type=int, default=10)
    parser.add_argument("--rep-skus", type=int, default=5000)
    parser.add_argument("--rep-hours", type=float, default=24.0)
    args = parser.parse_args()
    if args.only_replications:
        publish("sim_throughput_replications", _replications_result(args))
        return

    # Flat demand, so six hours carry a quarter of a day's orders (not a quiet night).
    small = scenario(10, 1000, 6, diurnal="flat")
    base = [sim_only(small, seed) for seed in range(1, args.repeat + 1)]
    twin = [with_twin(small, seed) for seed in range(1, args.repeat + 1)]
    result: dict[str, Any] = {
        "sim_events_per_s": _median(twin, "events_per_s"),
        "sim_only_events_per_s": _median(base, "events_per_s"),
        "sim_events_per_cpu_s": round(statistics.median(r["events"] / r["cpu_s"] for r in twin), 1),
        "small_run": {
            "network": "10 sites x 1000 SKUs, 6 h, flat demand",
            "repeat": args.repeat,
            "events_median": _median(twin, "events"),
            "sim_only_wall_s_median": _median(base, "wall_s"),
            "with_twin_wall_s_median": _median(twin, "wall_s"),
            "with_twin_cpu_s_median": _median(twin, "cpu_s"),
        },
    }
    if not args.skip_day:
        day_spec = scenario(10, 5000, 24)
        day_base = sim_only(day_spec, 1)
        day = with_twin(day_spec, 1)
        day2 = with_twin(day_spec, 1, workers=args.workers)
        best = min((day, 1), (day2, args.workers), key=lambda d: d[0]["wall_s"])
        result["day_10x5000_seconds"] = round(best[0]["wall_s"], 2)
        result["day_10x5000_workers"] = best[1]
        result["day_10x5000_seconds_by_workers"] = {
            "1": round(day["wall_s"], 2),
            str(args.workers): round(day2["wall_s"], 2),
        }
        result["day_10x5000_cpu_seconds_by_workers"] = {
            "1": round(day["cpu_s"], 2),
            str(args.workers): round(day2["cpu_s"], 2),
        }
        result["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
        # The baseline of the same day: the simulator alone, no twin attached.
        result["day_10x5000_sim_only_seconds"] = round(day_base["wall_s"], 2)
        result["day_10x5000_sim_only_cpu_seconds"] = round(day_base["cpu_s"], 2)
        result["day_10x5000"] = {
            "events": day["events"],
            "orders": day["orders"],
            "orders_per_sku_site": round(day["orders"] / 50_000, 2),
            "events_per_s": round(day["events_per_s"], 1),
            "accuracy_final": day["accuracy_final"],
            "split_events": day2["events"],
            "split_orders_per_sku_site": round(day2["orders"] / 50_000, 2),
            "split_accuracy_final": day2["accuracy_final"],
            "target_seconds": 30,
            "runs": 1,
        }
    if not args.skip_replications:
        result.update(_replications_result(args))
    publish("sim_throughput", result)


def _replications_result(args: argparse.Namespace) -> dict[str, Any]:
    run = replications_run(args.rep_sites, args.rep_skus, args.rep_hours, args.replications)
    full = (args.rep_sites, args.rep_skus, args.rep_hours, args.replications) == (10, 5000, 24, 10)
    if not full:
        return {"replications_scaled": run}
    return {
        "replications_10_seconds": run["wall_s"],
        "replications_10": {**run, "target_seconds": 60},
    }


if __name__ == "__main__":
    main()
