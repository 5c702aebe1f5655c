"""`invtwin demo`: the whole twin on the local broker, fed by a live scenario, in one command.

It starts (or reuses) the broker, creates the topics, runs both dataflows and the API as
supervised processes, feeds them with the simulator, prints the dashboard URL and tokens,
and on Ctrl-C (or SIGTERM) stops everything it started — the broker only if it started it.

The simulator runs `live.speed` times faster than the wall clock, so the flows must judge
time at that speed too: the demo gives every part one accelerated domain clock
(`infra.clock`). Every time on the dashboard is then simulated time, and the page says so.
With `--loop` the scenario runs again with the next seed when it ends; each run continues from
the twin's stock (`simulator.live`), so a loop in a scenario without faults counts nothing
the twin would find wrong.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import httpx
import typer

from api.auth import TokenConfigError
from cli.stack import Stack, StackSettings, generate_tokens, tokens_by_role
from cli.supervisor import Child, ChildFailed
from infra.clock import ClockSettings, DomainClock
from infra.errors import BrokerError

STATUS_EVERY_S = 10.0
QUIET_HINT_S = 60.0  # the baseline scenario shows positions within ~15 s of its start
# Site metrics every wall second on an accelerated clock: at 600x the flows' default of five
# seconds is fifty simulated minutes, too coarse for a feed expected every minute.
METRICS_ENV = "TWIN_FLOW_METRICS_INTERVAL_S"
ACCELERATED_METRICS_INTERVAL_S = "1"


def scenario_master_data(scenario: str, out_dir: Path) -> Path:
    """Write the live scenario's network as the master data the flows and the API read.

    The simulator builds its network from the scenario (a file or a generate spec); the twin
    must know exactly those sites, SKUs and codes, or it would reject what the simulator sends.
    """
    from simulator.network import load_network
    from simulator.scenarios import LIBRARY, load_scenario_arg
    from twin.masterdata import dump_master_data

    spec = load_scenario_arg(scenario)
    as_path = Path(scenario)
    base_dir = as_path.parent if as_path.suffix else LIBRARY
    network = load_network(spec.network, base_dir=base_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"network-{spec.name}.yaml"
    target.write_text(dump_master_data(network.master), encoding="utf-8")
    return target


def scenario_speed(scenario: str) -> float:
    """Simulated seconds per wall second of the live scenario (its `live.speed`)."""
    from simulator.scenarios import load_scenario_arg

    return load_scenario_arg(scenario).live.speed


def demo_clock(speed: float, state_dir: Path) -> DomainClock:
    """The domain clock of this demo run, kept in `<state_dir>/demo/clock.json`.

    It continues the previous run's clock (`DomainClock.continuing`): the twin's recovered
    state and topics hold times of that clock, far ahead of the wall clock after a while, and
    a clock restarting from the wall clock would leave them in its future, so that sites
    could not go stale and latencies would come out negative again.
    """
    path = state_dir / "demo" / "clock.json"
    previous = None
    with contextlib.suppress(OSError, ValueError, TypeError):  # none yet, or unreadable
        saved = ClockSettings(**json.loads(path.read_text(encoding="utf-8")))
        previous = saved.domain_clock()
    clock = DomainClock.continuing(previous, speed)
    if clock.origin is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        saved_form = {"clock_origin": clock.origin.isoformat(), "clock_speed": clock.speed}
        path.write_text(json.dumps(saved_form), encoding="utf-8")
    return clock


def demo_flow_env(clock: DomainClock) -> dict[str, str]:
    """Settings the demo gives the flows beyond the stack's: finer site metrics on an
    accelerated clock, unless the environment sets the interval itself."""
    if clock.accelerated and METRICS_ENV not in os.environ:
        return {METRICS_ENV: ACCELERATED_METRICS_INTERVAL_S}
    return {}


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM takes the same clean path as Ctrl-C.
    raise KeyboardInterrupt


def _banner(stack: Stack, scenario: str) -> str:
    viewer = stack.tokens.get("viewer") or next(iter(stack.tokens.values()))
    lines = [
        "",
        "Inventory Twin demo is running.",
        f"  Dashboard:       {stack.url}/",
        f"  Signed-in link:  {stack.url}/#token={viewer}",
        f"  Viewer token:    {viewer}",
    ]
    if "operator" in stack.tokens:
        lines.append(f"  Operator token:  {stack.tokens['operator']}  (acts on alert cases)")
    if "architect" in stack.tokens:
        lines.append(f"  Architect token: {stack.tokens['architect']}  (scenario panel)")
    if "ingest" in stack.tokens:
        lines.append(f"  Ingest token:    {stack.tokens['ingest']}  (POST /v1/events)")
    if "ingest" in stack.tokens:
        lines.append(
            f"  Load test:       invtwin loadtest --host {stack.url} --viewer-token {viewer} "
            f"--ingest-token {stack.tokens['ingest']}"
        )
    lines += [
        f"  API docs:        {stack.url}/docs",
        f"  Live scenario:   {scenario}",
        _clock_line(stack),
        f"  Logs:            {stack.supervisor.log_dir}",
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def _clock_line(stack: Stack) -> str:
    clock = stack.clock
    if clock is None or clock.origin is None:
        return "  Clock:           the wall clock"
    return (
        f"  Clock:           simulated, {clock.speed:g}x the wall clock (every time, age and "
        "latency on the dashboard is simulated time; its Sites card says so)"
    )


def _status_line(stack: Stack) -> tuple[str, int] | None:
    """One line on what the twin shows now, and how many SKUs it holds (GET /v1/network)."""
    token = stack.tokens.get("viewer") or stack.tokens.get("admin", "")
    try:
        network = httpx.get(
            f"{stack.url}/v1/network", headers={"Authorization": f"Bearer {token}"}, timeout=2.0
        ).json()
    except (httpx.HTTPError, ValueError):
        return None
    totals = network.get("totals", {})
    sites = network.get("sites", [])
    fresh = sum(1 for site in sites if site.get("fresh"))
    alerts = sum(network.get("open_alerts", {}).values())
    line = (
        f"[{time.strftime('%H:%M:%S')}] SKUs {totals.get('skus', 0)} · on hand "
        f"{totals.get('on_hand', 0)} · ATP {totals.get('atp', 0)} · sites fresh "
        f"{fresh}/{len(sites)} · open alerts {alerts}"
    )
    return line, int(totals.get("skus", 0))


def _start_simulator(stack: Stack, scenario: str, seed: int) -> Child:
    child = stack.start_simulator(scenario, seed)
    typer.echo(f"Simulator: {scenario} (seed {seed}) started (pid {child.process.pid})")
    return child


def _supervise(stack: Stack, scenario: str, seed: int, loop: bool, duration: float | None) -> None:
    """Watch the children until interrupted (or `duration` ends); restart the simulator."""
    simulator: Child | None = _start_simulator(stack, scenario, seed)
    started = time.monotonic()
    next_status = started + 5.0
    hinted = False
    while duration is None or time.monotonic() - started < duration:
        for name in ("flow-normalize", "flow-twin", "api"):
            child = next(c for c in stack.supervisor.children if c.name == name)
            if not child.alive():
                raise ChildFailed(
                    f"{name} exited with code {child.process.returncode}; last lines of "
                    f"{child.log_path}:\n{child.log_tail()}"
                )
        if simulator is not None and not simulator.alive():
            code = simulator.process.returncode
            if code != 0:
                typer.echo(f"simulator exited with code {code}:\n{simulator.log_tail(15)}")
                typer.echo("The twin stays up; post events to /v1/events or restart the demo.")
                simulator = None
            elif loop:
                seed += 1
                typer.echo(
                    f"Scenario {scenario} finished; running it again with seed {seed}, "
                    "continuing from the twin's stock (no new opening counts)."
                )
                stack.supervisor.children.remove(simulator)
                simulator = _start_simulator(stack, scenario, seed)
            else:
                typer.echo(f"Scenario {scenario} finished; the twin stays up.")
                simulator = None
        if time.monotonic() >= next_status:
            status = _status_line(stack)
            if status:
                typer.echo(status[0])
                if status[1] == 0 and not hinted and time.monotonic() - started > QUIET_HINT_S:
                    hinted = True
                    typer.echo(
                        f"No position has reached the twin after {QUIET_HINT_S:.0f} s: see the "
                        f"logs in {stack.supervisor.log_dir} (simulator.log, flow-*.log)."
                    )
            next_status = time.monotonic() + STATUS_EVERY_S
        time.sleep(0.5)  # the supervision tick, not a wait for a condition


def run(
    scenario: Annotated[
        str, typer.Option(help="Live scenario that feeds the twin (see `invtwin sim list`).")
    ] = "baseline",
    port: Annotated[int, typer.Option(help="API and dashboard port.")] = 8000,
    seed: Annotated[int, typer.Option(help="Seed of the first scenario run.")] = 7,
    loop: Annotated[
        bool, typer.Option(help="Run the scenario again (next seed) when it ends.")
    ] = True,
    duration: Annotated[
        float | None, typer.Option(help="Stop by itself after this many seconds.")
    ] = None,
    topic_suffix: Annotated[
        str, typer.Option(help="Suffix added to every topic name (isolated runs).")
    ] = "",
) -> None:
    """Run the whole twin on the local broker with a live scenario; Ctrl-C stops it."""
    settings = StackSettings()
    try:
        tokens = tokens_by_role(settings.api_tokens) if settings.api_tokens else generate_tokens()
    except TokenConfigError as exc:
        typer.echo(f"error: TWIN_API_TOKENS: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    try:
        master_data = scenario_master_data(scenario, settings.state_dir / "demo")
        clock = demo_clock(scenario_speed(scenario), settings.state_dir)
    except Exception as exc:  # unknown scenario, bad YAML: say so before starting anything
        typer.echo(f"error: scenario {scenario!r}: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    stack = Stack(
        bootstrap=settings.kafka_bootstrap,
        master_data=master_data,
        state_dir=settings.state_dir,
        tokens=tokens,
        api_port=port,
        topic_suffix=topic_suffix,
        clock=clock,
        flow_env=demo_flow_env(clock),
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    # Also when started in the background, where the shell hands SIGINT down as ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 0
    stopped = "dataflows, API and simulator"
    try:
        stack.start(say=typer.echo)
        typer.echo(_banner(stack, scenario))
        _supervise(stack, scenario, seed, loop, duration)
    except KeyboardInterrupt:
        typer.echo("\nStopping…")
    except (ChildFailed, BrokerError) as exc:
        typer.echo(f"error: {exc}", err=True)
        code = 1
    finally:
        # A second Ctrl-C during shutdown must not leave processes behind.
        with contextlib.suppress(KeyboardInterrupt):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            if stack.broker is not None:
                stopped += " and the broker this demo started"
            stack.stop()
            signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, previous)
        typer.echo(f"Stopped {stopped}.")
    raise typer.Exit(code=code)
