"""`run_scenario`: the simulator's one entry point for the CLI, the API and the demo.

Offline, the run is as fast as the machine allows and fully determined by the seed: raw feed
messages go through the real normalizer and twin core in-process, in simulated time. Live,
it runs in scaled real time against Kafka (`simulator.live`). Either way the caller gets
progress and metric events through `on_event` as the run goes, and the resilience report
(also written to `out_dir` with its plots) at the end. It blocks: the API runs it in a worker
process.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

import simpy

from simulator.compare import run_compare
from simulator.engine import REPO_ROOT, OnEvent, Simulation, make_recorder
from simulator.fair import run_offline_fair
from simulator.network import load_network, network_from_master
from simulator.offline import OfflineTwin
from simulator.parallel import sku_shard
from simulator.replications import run_replications
from simulator.report import RunData
from simulator.scenarios import ScenarioError, load_scenario
from simulator.spec import Scenario

Mode = Literal["offline", "live"]


def run_scenario(
    scenario: Scenario | str,
    *,
    mode: Mode = "offline",
    seed: int | None = None,
    out_dir: Path | None = None,
    on_event: OnEvent | None = None,
    bootstrap: str | None = None,
    topics: dict[str, str] | None = None,
    restart_hook: Any = None,
    workers: int = 1,
    replications: int | None = None,
    master_data: Path | None = None,
) -> dict[str, Any]:
    """Run a scenario and return its resilience report (see the module docstring).

    `seed` overrides the scenario's seed. `bootstrap` and `topics` (contract topic name →
    actual name) are for live mode; `restart_hook(target, down_seconds)` performs a live
    restart fault. `workers` > 1 runs offline in that many processes, each simulating a
    share of the SKUs (SKUs are independent in the model); the stream then depends on it.
    `replications` (default: the scenario's) > 1 runs that many seeds from `seed` on in
    parallel processes, offline, and reports each figure's mean, 95% interval and worst
    (`simulator.replications`). Offline, each fault is judged against a control run of the
    same seed without it (`simulator.control`), unless the scenario's `report.controls`
    is off. A scenario with `compare` runs its two variants over the same seeds and reports
    both and their differences (`simulator.compare`). A scenario `from: live` first reads
    the running twin's positions (at `bootstrap`, `topics`) on the network of `master_data`,
    the running twin's master data (`simulator.fork`), then runs offline from there; the
    report's `from_live` says which offsets it opened at.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    fork: dict[str, Any] | None = None
    if scenario.from_ == "live":
        scenario, fork = _fork(scenario, mode, bootstrap, topics, master_data)
    if mode not in scenario.modes:
        raise ScenarioError(f"scenario {scenario.name!r} runs only in {', '.join(scenario.modes)}")
    seed = scenario.seed if seed is None else seed
    replications = scenario.replications if replications is None else replications
    if replications < 1:
        raise ScenarioError("replications must be at least 1")
    if replications > 1 and mode != "offline":
        raise ScenarioError("replications run offline only")
    if scenario.compare is not None and mode != "offline":
        raise ScenarioError("a comparison runs offline only")
    if mode == "offline":
        if any(f.kind == "restart" for f in scenario.faults):
            raise ScenarioError(f"scenario {scenario.name!r}: restart faults need live mode")
        if scenario.compare is not None:
            report = run_compare(scenario, seed, replications, on_event=on_event)
        elif replications > 1:
            report = run_replications(scenario, seed, replications, on_event=on_event)
        else:
            report = run_offline_fair(scenario, seed, workers=workers, on_event=on_event)
    elif mode == "live":
        from simulator.live import run_live  # Kafka clients only when needed

        report = run_live(
            scenario,
            seed,
            on_event=on_event,
            bootstrap=bootstrap,
            topics=topics,
            restart_hook=restart_hook,
        )
    else:
        raise ScenarioError(f"unknown mode {mode!r}: use offline or live")
    if fork is not None:
        report["from_live"] = fork
    plots = write_outputs(report, out_dir)
    if on_event is not None:
        on_event({"type": "report", "report": report, "plots": plots})
    return report


def _fork(
    scenario: Scenario,
    mode: str,
    bootstrap: str | None,
    topics: dict[str, str] | None,
    master_data: Path | None,
) -> tuple[Scenario, dict[str, Any]]:
    """The scenario opened from the live twin now, and what the report says of the fork."""
    if mode != "offline":
        raise ScenarioError("a scenario from: live runs forward offline (mode offline)")
    if scenario.opening is None:
        if master_data is None:
            raise ScenarioError(
                "from: live needs the running twin's master data (TWIN_MASTER_DATA or"
                " --master-data)"
            )
        from infra.settings import BrokerSettings
        from simulator.fork import fork_live  # Kafka clients only when needed

        began = time.perf_counter()
        scenario = fork_live(
            scenario,
            bootstrap=bootstrap or BrokerSettings().kafka_bootstrap,
            master_data=master_data,
            topics=topics,
        )
        read_s = time.perf_counter() - began
    else:
        read_s = 0.0
    assert scenario.opening is not None
    return scenario, {**scenario.opening.summary(), "read_seconds": round(read_s, 3)}


def offline_shard(
    scenario: Scenario,
    seed: int,
    shard: int,
    shards: int,
    *,
    on_event: OnEvent | None = None,
) -> tuple[RunData, dict[str, Any]]:
    """One offline run over every `shards`-th SKU of the network (all of them when 1)."""
    network = load_network(scenario.network, base_dir=REPO_ROOT)
    if shards > 1:
        network = network_from_master(sku_shard(network.master, shard, shards))
    env = simpy.Environment()
    entropy = None if shards == 1 else [seed, shard, shards]
    sim = Simulation(scenario, seed, env, network=network, on_event=on_event, entropy=entropy)
    twin = OfflineTwin(sim.network, scenario.start)
    sim.sinks.append(twin.deliver)
    recorder = make_recorder(sim, twin)
    clock = sim.start(twin_atp=twin.atp, run_tag=f"s{shard}" if shards > 1 else "")
    env.process(sim.sampler(recorder, scenario.report.sample_minutes * 60.0))
    env.run(until=clock)
    sim.publish(recorder.sample(env.now))  # the drained state: feeds all delivered
    assert sim.model is not None
    header = sim.header("offline")
    header["twin"] = {
        "applied": twin.applied,
        "expired": twin.expired,
        "alerts": twin.alerts,
        "messages": twin.messages,
    }
    return recorder.data(sim.faults, sim.model.stats), header


def write_outputs(report: dict[str, Any], out_dir: Path | None) -> dict[str, str]:
    """Write `report.json` and the PNG plots into `out_dir`; returns {plot name: path}."""
    if out_dir is None:
        return {}
    from simulator.plots import write_plots  # matplotlib only when writing files

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    if "compare" in report:
        return {}  # the two variants side by side are in the JSON; no plots of their own yet
    return write_plots(report, out_dir)
