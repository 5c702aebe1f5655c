"""`invtwin chaos`: the chaos soak with ground truth (see `cli.chaos_soak`).

    invtwin chaos --minutes 3                 # what CI runs
    invtwin chaos --minutes 10 --out v.json   # what bench/chaos.py runs

It prints each fault as it happens and a verdict at the end, writes the verdict as JSON
with `--out`, and exits 1 unless the twin ended exact.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer

from cli.chaos_soak import SoakOptions, run_soak
from cli.stack import StackSettings


def run(
    minutes: Annotated[
        float, typer.Option(min=0.5, help="Wall minutes of load (one simulated day).")
    ] = 3.0,
    nodes: Annotated[int, typer.Option(min=3, help="Kafka nodes of the soak's own cluster.")] = 3,
    interval: Annotated[
        float, typer.Option(min=5.0, help="Seconds between faults (one at a time).")
    ] = 30.0,
    scenario: Annotated[str, typer.Option(help="Live scenario from the library.")] = "baseline",
    seed: Annotated[int, typer.Option(help="Seed of the load and of the fault schedule.")] = 7,
    out: Annotated[Path | None, typer.Option(help="Write the verdict here as JSON.")] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the soak's logs and state afterwards.")
    ] = False,
) -> None:
    """Crash or freeze a random broker, flow or API process every 30 s under live load, then
    compare the twin with the simulator's ground truth, SKU by SKU; exit 1 unless exact.

    Runs on a cluster and a stack of its own (free ports, under $TWIN_STATE_DIR/chaos), so
    it never touches the development broker or a running demo.
    """
    home = StackSettings().state_dir / "chaos"
    shutil.rmtree(home, ignore_errors=True)
    options = SoakOptions(
        minutes=minutes, home=home, nodes=nodes, interval_s=interval, scenario=scenario, seed=seed
    )
    result = run_soak(options, say=lambda line: typer.echo(line))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    typer.echo(_summary(result))
    if not keep and result["exact"]:
        shutil.rmtree(home, ignore_errors=True)
    if not result["exact"]:
        typer.echo(f"Logs and state kept under {home}", err=True)
        raise typer.Exit(code=1)


def _summary(result: dict[str, object]) -> str:
    verdict = "EXACT" if result["exact"] else "NOT EXACT"
    lines = [
        "",
        f"Verdict: {verdict}",
        f"  faults injected:       {result['faults_injected']}",
        f"  records acknowledged:  {result['records_acknowledged']}",
        f"  SKU-sites differing:   {result['sku_sites_differing']} of {result['sku_sites']}",
        f"  units over / under:    {result['units_over']} / {result['units_under']}",
        f"  final accuracy:        {result['final_accuracy']}",
        f"  max recovery (s):      {result['max_recovery_s']}",
    ]
    if result["injection_stopped"]:
        lines.append(f"  injection stopped:     {result['injection_stopped']}")
    if result["producer_errors"]:
        lines.append(f"  producer errors:       {result['producer_errors']}")
    return "\n".join(lines)
