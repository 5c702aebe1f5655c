"""`invtwin sim run | network | list`: the SimPy simulator, its scenarios and networks.

invtwin sim list
invtwin sim run --scenario peak --mode offline --seed 7 --out reports/
invtwin sim run --scenario my-what-if.yaml --mode live --seed 7 --out reports/
invtwin sim network --sites 10 --skus 5000 --out network.yaml
invtwin sim network --sites 20 --skus 100000 --out network-bundle/
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_cmd() -> None:
    """List the shipped scenarios with their descriptions."""
    from simulator.scenarios import list_scenarios, load_scenario

    for name in list_scenarios():
        scenario = load_scenario(name)
        modes = "/".join(scenario.modes)
        typer.echo(f"{name:<20} [{modes}] {scenario.description}")


@app.command("network")
def network_cmd(
    out: Annotated[
        Path,
        typer.Option(
            help="Where to write: a .yaml/.yml file (small networks) or a CSV bundle directory."
        ),
    ],
    sites: Annotated[int, typer.Option(min=1, help="Number of sites.")] = 6,
    skus: Annotated[int, typer.Option(min=1, help="Number of SKUs.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same network.")] = 0,
) -> None:
    """Generate master data (sites, SKUs, aliases, partner profile, lanes) as YAML or CSV."""
    from cli.masterdata import describe, write_master
    from twin.masterdata_gen import generate_columns

    started = time.perf_counter()
    columns = generate_columns(sites=sites, skus=skus, seed=seed)
    form = write_master(columns, out)
    modes = ", ".join(f"{s.id}={s.feed_mode}" for s in columns.sites)
    typer.echo(
        f"wrote {out} ({form}) in {time.perf_counter() - started:.1f} s: {describe(columns)}"
        f" ({modes})"
    )


@app.command("run")
def run_cmd(
    scenario: Annotated[
        str, typer.Option(help="A shipped scenario name, or the path of a .yaml file.")
    ],
    mode: Annotated[
        Literal["offline", "live"], typer.Option(help="offline (in-process) or live (Kafka).")
    ] = "offline",
    seed: Annotated[int | None, typer.Option(help="Override the scenario's seed.")] = None,
    out: Annotated[Path, typer.Option(help="Directory for report.json and plots.")] = Path(
        "reports"
    ),
    bootstrap: Annotated[
        str | None,
        typer.Option(help="Kafka bootstrap for live mode and --from-live (default: settings)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Offline: processes, each simulating a share of the SKUs.")
    ] = 1,
    topic_suffix: Annotated[
        str,
        typer.Option(
            help="Live mode and --from-live: suffix of every topic name (as the flows use)."
        ),
    ] = "",
    replications: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Offline: run this many seeds (seed, seed+1, ...) in parallel processes and "
            "report mean, 95% interval and worst (default: the scenario's).",
        ),
    ] = None,
    from_live: Annotated[
        bool,
        typer.Option(
            "--from-live",
            help="Open from the running twin: read its positions topic up to the current end "
            "offsets (recorded in the report) as the opening stock, on its master data, then "
            "run the scenario's demand and faults forward offline. Same as `from: live` in "
            "the scenario.",
        ),
    ] = False,
    master_data: Annotated[
        Path | None,
        typer.Option(
            help="With --from-live: the running twin's master data (default: TWIN_MASTER_DATA,"
            " as the flows read it)."
        ),
    ] = None,
) -> None:
    """Run a scenario and write its resilience report (JSON + PNG plots).

    Example, a peak day from the twin's stock now: invtwin sim run --scenario peak --from-live
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from simulator.runner import run_scenario
    from simulator.scenarios import ScenarioError, load_scenario_arg

    try:
        spec = load_scenario_arg(scenario)
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if from_live:
        spec = spec.model_copy(update={"from_": "live"})
    if spec.from_ == "live" and master_data is None:
        from dataflows.settings import FlowSettings

        master_data = FlowSettings().master_data
    run_seed = spec.seed if seed is None else seed
    runs = spec.replications if replications is None else replications
    suffix = "" if runs == 1 else f"-x{runs}"
    origin = "-live" if spec.from_ == "live" else ""
    out_dir = out / f"{spec.name}{origin}-{mode}-seed{run_seed}{suffix}"
    topics = None
    if topic_suffix:
        from infra.topics import topic_names

        topics = topic_names(topic_suffix)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    started = time.perf_counter()
    with Progress(*columns) as progress:
        task = progress.add_task(f"{spec.name} ({mode})", total=100.0, status="")

        def on_event(event: dict[str, Any]) -> None:
            if event["type"] == "progress":
                progress.update(task, completed=event["pct"])
            elif event["type"] == "metrics":
                p95 = event.get("staleness_p95_s")
                p95_text = "-" if p95 is None else f"{p95:.0f}s"
                progress.update(
                    task,
                    status=(
                        f"sim {event['sim_time_s'] / 3600:5.1f} h  accuracy "
                        f"{event['accuracy'] * 100:5.1f}%  staleness p95 {p95_text}"
                    ),
                )

        hook = None
        if mode == "live":
            from infra.settings import BrokerSettings
            from simulator.live import local_broker_restart_hook

            hook = local_broker_restart_hook(bootstrap or BrokerSettings().kafka_bootstrap)
        try:
            report = run_scenario(
                spec,
                mode=mode,
                seed=run_seed,
                out_dir=out_dir,
                on_event=on_event,
                bootstrap=bootstrap,
                topics=topics,
                restart_hook=hook,
                workers=workers,
                replications=runs,
                master_data=master_data,
            )
        except ScenarioError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        progress.update(task, completed=100.0)
    _summary(report, out_dir, time.perf_counter() - started)


def _summary(report: dict[str, Any], out_dir: Path, wall_s: float) -> None:
    fork = report.get("from_live")
    if fork:
        offsets = ", ".join(f"{p}:{o}" for p, o in fork["offsets"].items())
        typer.echo(
            f"opened from the live twin: {fork['sku_sites']} SKU-sites of {fork['topic']} "
            f"at offsets {offsets} (read in {fork['read_seconds']} s)"
        )
    if report.get("replications", 1) > 1:
        from simulator.replications import summary_lines

        for line in summary_lines(report, wall_s):
            typer.echo(line)
        typer.echo(f"  report: {out_dir / 'report.json'}")
        typer.echo(json.dumps({"report": str(out_dir / "report.json")}))
        return
    acc = report["accuracy"]
    typer.echo(
        f"{report['scenario']} ({report['mode']}, seed {report['seed']}): "
        f"{report['events']['physical']} events in {wall_s:.1f} s wall"
    )
    typer.echo(
        f"  accuracy final {acc['final'] * 100:.2f}%  mean {acc['mean'] * 100:.2f}%  "
        f"min {acc['min'] * 100:.2f}%   max |ATP error| {report['atp_error']['max_abs']}"
    )
    typer.echo(
        f"  over-promises {report['over_promises']}   duplicates rejected "
        f"{report['duplicates']['rejected']}/{report['duplicates']['injected']} injected   "
        f"DLQ {report['dlq']['count']}"
    )
    for fault in report["faults"]:
        where = ",".join(fault["sites"] or ["all"])
        typer.echo(
            f"  fault {fault['kind']:<12} {where:<14} {fault['start_h']:g}-{fault['end_h']:g} h  "
            f"recovery {fault['recovery_s']} s (vs {fault['judged_against']})"
        )
    worst = sorted(report["discrepancy_share"].items(), key=lambda kv: -kv[1])[:3]
    typer.echo("  discrepancy share: " + ", ".join(f"{s} {v * 100:.1f}%" for s, v in worst))
    split = report.get("discrepancy_split")
    if split:
        typer.echo(
            "    of which cadence lag / fault impact: "
            + ", ".join(
                f"{s} {split[s]['cadence'] * 100:.1f}% / {split[s]['fault'] * 100:.1f}%"
                for s, _ in worst
            )
        )
    typer.echo(f"  report: {out_dir / 'report.json'}")
    typer.echo(json.dumps({"report": str(out_dir / "report.json")}))
