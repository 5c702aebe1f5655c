"""`invtwin flow normalize | twin`: run a Bytewax dataflow alone or as part of a cluster.

One process, N worker threads:      invtwin flow twin -w 2
N local processes, one cluster:     invtwin flow twin -p 2
A cluster across hosts (run one command per host, same address list, its own -i):
    host A: invtwin flow twin -a "10.0.0.1:2101;10.0.0.2:2101" -i 0
    host B: invtwin flow twin -a "10.0.0.1:2101;10.0.0.2:2101" -i 1
Every process needs the same master data and, with recovery, the same recovery directory
($TWIN_STATE_DIR/recovery/<flow>, on a shared volume across hosts).

An accelerated domain clock (what the demo runs the flows on, see `infra.clock`):
    invtwin flow twin --clock-origin 2026-11-27T06:00:00Z --clock-speed 600
(or TWIN_CLOCK_ORIGIN / TWIN_CLOCK_SPEED); every process of the stack must get the same pair.

Every flow process serves /metrics (Prometheus) and /healthz on its flow's base port plus its
process id: TWIN_FLOW_METRICS_PORT, by default 9110 (normalize) and 9120 (twin); 0 turns it off.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from typing import Annotated, Literal

import typer
from pydantic import ValidationError

from dataflows.runner import ClusterArgs, ensure_recovery_dir, run_flow
from dataflows.settings import FlowSettings

app = typer.Typer(no_args_is_help=True)

FlowName = Literal["normalize", "twin"]

Workers = Annotated[int, typer.Option("--workers", "-w", min=1, help="Worker threads per process.")]
Processes = Annotated[
    int, typer.Option("--processes", "-p", min=1, help="Local processes forming one cluster.")
]
Addresses = Annotated[
    str | None,
    typer.Option("--addresses", "-a", help='All cluster processes, "host:port;host:port".'),
]
ProcessId = Annotated[
    int | None, typer.Option("--process-id", "-i", min=0, help="This process's index in -a.")
]
Recovery = Annotated[
    bool | None,
    typer.Option("--recovery/--no-recovery", help="Bytewax snapshots (default: on)."),
]
SnapshotInterval = Annotated[
    float | None,
    typer.Option(
        "--snapshot-interval",
        help="Seconds between snapshots (default: twin 30, normalize 5; see README).",
    ),
]
Shards = Annotated[int | None, typer.Option("--shards", help="Twin shards (state keys).")]
TopicSuffix = Annotated[
    str | None, typer.Option("--topic-suffix", help="Suffix added to every topic name.")
]
StopAtEnd = Annotated[
    bool, typer.Option("--stop-at-end", help="Stop at the end of the input topics.")
]
BasePort = Annotated[int, typer.Option("--base-port", help="First port used by -p processes.")]
ClockOrigin = Annotated[
    str | None,
    typer.Option(
        "--clock-origin",
        help="Domain clock: the UTC instant where it meets the wall clock (ISO 8601 with zone).",
    ),
]
ClockSpeed = Annotated[
    float | None,
    typer.Option(
        "--clock-speed",
        help="Domain clock: simulated seconds per wall second (needs an origin; default 1).",
    ),
]


def _settings(
    recovery: bool | None,
    snapshot_interval: float | None,
    shards: int | None,
    topic_suffix: str | None,
    stop_at_end: bool,
    clock_origin: str | None = None,
    clock_speed: float | None = None,
) -> FlowSettings:
    overrides: dict[str, object] = {}
    if recovery is not None:
        overrides["flow_recovery"] = recovery
    if snapshot_interval is not None:
        overrides["flow_snapshot_interval_s"] = snapshot_interval
    if shards is not None:
        overrides["flow_shards"] = shards
    if topic_suffix is not None:
        overrides["flow_topic_suffix"] = topic_suffix
    if stop_at_end:
        overrides["flow_stop_at_end"] = True
    if clock_origin is not None:
        overrides["clock_origin"] = clock_origin
    if clock_speed is not None:
        overrides["clock_speed"] = clock_speed
    try:
        return FlowSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:  # a bad origin or speed: say which, as a usage error
        raise typer.BadParameter(str(exc)) from exc


def _run(
    name: FlowName,
    settings: FlowSettings,
    workers: int,
    processes: int,
    addresses: str | None,
    process_id: int | None,
    base_port: int,
) -> None:
    if processes > 1:
        if addresses is not None or process_id is not None:
            raise typer.BadParameter("use either -p or -a/-i, not both")
        _spawn_local_cluster(name, settings, processes, base_port)
        return
    if (addresses is None) != (process_id is None):
        raise typer.BadParameter("-a and -i go together")
    from dataflows.health import observe  # deferred, like the flow itself
    from dataflows.production import build_flow  # deferred: loads master data, Kafka libs

    # one line per record, with time and source: the Kafka clients' (rate-limited) logs and
    # the dead-lettered records' tracebacks go here
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cluster = ClusterArgs(
        workers=workers,
        process_id=process_id,
        addresses=addresses.split(";") if addresses else None,
    )
    # /metrics and /healthz on this process's own port (the flow's base port + process id)
    metrics = observe(name, settings, process_id)
    run_flow(build_flow(name, settings, metrics), settings, name, cluster)


def _spawn_local_cluster(
    name: FlowName, settings: FlowSettings, processes: int, base_port: int
) -> None:
    """Start `processes` copies of this command as one cluster on this host and wait."""
    if settings.flow_recovery:
        # Created once here so the members do not race to initialise it.
        ensure_recovery_dir(settings.recovery_dir(name), settings.flow_recovery_partitions)
    addresses = ";".join(f"127.0.0.1:{base_port + n}" for n in range(processes))
    argv = _drop_option_values(sys.argv[1:], ("-p", "--processes"))
    children = [
        subprocess.Popen([sys.executable, "-m", "cli.main", *argv, "-a", addresses, "-i", str(n)])
        for n in range(processes)
    ]
    # SIGTERM must reach the members too: turn it into SystemExit so `finally` runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    codes = []
    try:
        codes = [child.wait() for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
                child.wait()
    if any(codes):
        raise typer.Exit(code=max(codes))


def _drop_option_values(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """argv without `names` options and their values (`-p 2`, `-p2`, `--processes=2`)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in names:
            skip = True
            continue
        if any(arg.startswith(n + "=") for n in names) or (
            arg.startswith("-p") and not arg.startswith("--") and arg[2:].isdigit()
        ):
            continue
        out.append(arg)
    return out


@app.command()
def normalize(
    workers: Workers = 1,
    processes: Processes = 1,
    addresses: Addresses = None,
    process_id: ProcessId = None,
    recovery: Recovery = None,
    snapshot_interval: SnapshotInterval = None,
    topic_suffix: TopicSuffix = None,
    stop_at_end: StopAtEnd = False,
    base_port: BasePort = 2101,
    clock_origin: ClockOrigin = None,
    clock_speed: ClockSpeed = None,
) -> None:
    """Raw feeds → canonical events (inventory.events.v1) and dead letters (inventory.dlq.v1)."""
    settings = _settings(
        recovery, snapshot_interval, None, topic_suffix, stop_at_end, clock_origin, clock_speed
    )
    _run("normalize", settings, workers, processes, addresses, process_id, base_port)


@app.command()
def twin(
    workers: Workers = 1,
    processes: Processes = 1,
    addresses: Addresses = None,
    process_id: ProcessId = None,
    recovery: Recovery = None,
    snapshot_interval: SnapshotInterval = None,
    shards: Shards = None,
    topic_suffix: TopicSuffix = None,
    stop_at_end: StopAtEnd = False,
    base_port: BasePort = 2201,
    clock_origin: ClockOrigin = None,
    clock_speed: ClockSpeed = None,
) -> None:
    """Canonical events → twin.positions.v1, twin.alerts.v1, twin.metrics.v1."""
    settings = _settings(
        recovery, snapshot_interval, shards, topic_suffix, stop_at_end, clock_origin, clock_speed
    )
    _run("twin", settings, workers, processes, addresses, process_id, base_port)
