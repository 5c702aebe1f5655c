"""A chaos soak with ground truth: the live simulator against the whole stack on a cluster,
while a random broker, flow or API process is crashed or frozen every `interval_s`.

The soak runs on a throw-away cluster of its own (never the development broker) and a stack
of its own (free ports, its own state dir), so it can kill anything it started. Faults come
one at a time: the next waits until the last one's target serves again, so the system is
never asked to survive more than one node down (what `min.insync.replicas=2` of three
promises). When the simulated day ends, the soak stops injecting, waits for the twin to
agree with the simulator's ground truth (`simulator.live.run_live`'s quiescence) and
compares every bucket of every SKU-site.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cli.chaos_targets import Target, broker_targets, stack_targets
from cli.demo import scenario_master_data
from cli.stack import Stack, free_port, generate_tokens
from infra.clock import DomainClock
from infra.dedicated import dedicated_cluster, discard_cluster, free_ports

Say = Callable[[str], None]
Action = Literal["kill", "freeze"]
SIMULATED_HOURS = 24.0


@dataclass(frozen=True)
class SoakOptions:
    minutes: float  # wall minutes of simulated load (one simulated day)
    home: Path  # where the cluster, the stack's state and the logs go
    nodes: int = 3
    interval_s: float = 30.0
    scenario: str = "baseline"
    seed: int = 7
    freeze_s: tuple[float, float] = (3.0, 12.0)  # how long a frozen process stays stopped
    recover_timeout_s: float = 180.0  # a target that does not serve again by then fails the soak
    quiescence_timeout_s: float = 300.0


@dataclass
class Fault:
    at_s: float  # since the load started
    action: Action
    target: str
    kind: str
    held_s: float = 0.0  # a freeze: how long the process stood still
    recovered_s: float | None = None  # from the fault until the target served again

    def describe(self) -> str:
        what = (
            f"froze {self.target} for {self.held_s:.1f} s"
            if self.action == "freeze"
            else (f"killed {self.target} (SIGKILL) and started it again")
        )
        back = (
            f"serving again after {self.recovered_s:.1f} s"
            if self.recovered_s is not None
            else "NOT serving again"
        )
        return f"[t+{self.at_s:6.1f} s] {what}; {back}"


@dataclass
class FaultLog:
    faults: list[Fault] = field(default_factory=list)
    failed: str | None = None  # why injecting stopped early, if it did


def run_soak(options: SoakOptions, say: Say = print) -> dict[str, Any]:
    """Start cluster and stack, run the load under faults, and return the verdict."""
    from simulator.live import run_live
    from simulator.scenarios import load_scenario_arg

    options.home.mkdir(parents=True, exist_ok=True)
    speed = SIMULATED_HOURS * 3600.0 / (options.minutes * 60.0)
    scenario = load_scenario_arg(options.scenario)
    live = scenario.live.model_copy(update={"quiescence_timeout_s": options.quiescence_timeout_s})
    scenario = scenario.model_copy(update={"duration_hours": SIMULATED_HOURS, "live": live})
    cluster = dedicated_cluster(options.home, nodes=options.nodes)
    say(f"Chaos: starting a {options.nodes}-node cluster under {options.home}")
    cluster.up()
    clock = DomainClock(origin=datetime.now(UTC), speed=speed)
    tokens = generate_tokens()
    normalize_port, twin_port = free_ports(2)
    stack = Stack(
        bootstrap=cluster.bootstrap,
        master_data=scenario_master_data(options.scenario, options.home),
        state_dir=options.home,
        tokens=tokens,
        api_port=free_port(),
        clock=clock,
        flow_metrics_ports={"normalize": normalize_port, "twin": twin_port},
    )
    log = FaultLog()
    stop = threading.Event()
    try:
        stack.start(say=say)
        targets = broker_targets(cluster) + stack_targets(stack, tokens["viewer"])
        started = time.monotonic()
        injector = threading.Thread(
            target=_inject_until,
            args=(targets, options, started, started + options.minutes * 60.0, stop, log, say),
            name="chaos-injector",
            daemon=True,
        )
        say(
            f"Chaos: a simulated day of '{options.scenario}' in {options.minutes:g} min "
            f"(x{speed:g}); a fault every {options.interval_s:g} s"
        )
        injector.start()
        try:
            report = run_live(scenario, options.seed, bootstrap=cluster.bootstrap, clock=clock)
        finally:
            stop.set()
            injector.join(timeout=options.recover_timeout_s + 30.0)
    finally:
        stack.stop()
        discard_cluster(cluster)
    return verdict(log, report["live"])


def _inject_until(
    targets: list[Target],
    options: SoakOptions,
    started: float,
    until: float,
    stop: threading.Event,
    log: FaultLog,
    say: Say,
) -> None:
    rng = random.Random(options.seed)
    next_at = started + options.interval_s
    while not stop.wait(max(0.0, next_at - time.monotonic())):
        if time.monotonic() >= until:
            return
        target = rng.choice(targets)
        action: Action = rng.choice(("kill", "freeze"))
        fault = Fault(
            at_s=round(time.monotonic() - started, 1),
            action=action,
            target=target.name,
            kind=target.kind,
        )
        try:
            _strike(target, fault, rng.uniform(*options.freeze_s), options.recover_timeout_s)
        except Exception as exc:  # a fault that cannot be undone ends the soak
            log.failed = f"{fault.action} {fault.target}: {exc}"
        log.faults.append(fault)
        say(fault.describe())
        if fault.recovered_s is None or log.failed:
            log.failed = log.failed or f"{fault.target} did not serve again"
            return
        next_at = max(next_at + options.interval_s, time.monotonic())


def _strike(target: Target, fault: Fault, hold_s: float, timeout_s: float) -> None:
    begun = time.monotonic()
    if fault.action == "kill":
        target.crash()
        target.start_again()
    else:
        target.freeze()
        try:
            time.sleep(hold_s)  # the freeze itself: the process stands still this long on purpose
        finally:
            target.thaw()
        fault.held_s = round(time.monotonic() - begun, 1)
    deadline = begun + timeout_s
    while time.monotonic() < deadline:
        if target.serving():
            fault.recovered_s = round(time.monotonic() - begun, 1)
            return
        time.sleep(0.2)  # polling the target with a deadline


def verdict(log: FaultLog, live: dict[str, Any]) -> dict[str, Any]:
    """The soak's figures and whether the twin ended exact (every bucket of every SKU-site)."""
    differences = live["differences"]
    sku_sites = differences["sku_sites"]
    recovery: dict[str, float] = {}
    for fault in log.faults:
        if fault.recovered_s is not None:
            recovery[fault.kind] = max(recovery.get(fault.kind, 0.0), fault.recovered_s)
    exact = (
        log.failed is None
        and not live["producer_errors"]
        and differences["sku_sites_differing"] == 0
    )
    return {
        "faults_injected": len(log.faults),
        "faults": [asdict(fault) for fault in log.faults],
        "injection_stopped": log.failed,
        "records_acknowledged": live["records_acknowledged"],
        "producer_errors": live["producer_errors"],
        "sku_sites": sku_sites,
        "sku_sites_differing": differences["sku_sites_differing"],
        "units_over": differences["units_over"],
        "units_under": differences["units_under"],
        "final_accuracy": round(1.0 - differences["sku_sites_differing"] / sku_sites, 6),
        "max_recovery_s": recovery,
        "differences": differences["examples"],
        "exact": exact,
    }
