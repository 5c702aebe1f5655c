"""`invtwin loadtest`: a headless Locust run against a running stack, with pass/fail thresholds.

Writes `<out>/stats_*.csv` (with `stats_history.csv`, the users and figures every few seconds)
and `<out>/report.html`; exits non-zero when a threshold is broken (failure ratio, HTTP p95,
ingest-to-visible p95, WebSocket delivery p95) or Locust itself fails. `--workers N` runs
Locust's distributed mode on this machine: a master and N worker processes (Locust's
`--processes`), one per core being the useful most.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from cli.stack import free_port
from loadtests.catalog import Catalog
from loadtests.settings import REPO_ROOT, LoadTestSettings
from loadtests.shapes import SHAPE_SUMMARY, SHAPES, default_run_time


@dataclass(frozen=True)
class Thresholds:
    max_failure_ratio: float = 0.01
    max_p95_ms: float = 1000.0
    max_ws_p95_ms: float = 5000.0
    max_visible_p95_ms: float = 5000.0


def locust_argv(
    *,
    host: str,
    users: int,
    spawn_rate: float,
    run_time: str,
    out_dir: Path,
    viewer_token: str,
    ingest_token: str,
    master_data: Path,
    catalog: Path | None = None,
    shape: str | None = None,
    thresholds: Thresholds = Thresholds(),
    peak_users: int = 0,
    steps: int = 5,
    probe_users: int = 2,
    visible_timeout_s: float = 30.0,
    workers: int = 0,
    master_port: int = 0,
) -> list[str]:
    """The Locust command line of a headless run.

    `shape` None is Locust's own steady run; `workers` > 0 forks that many worker processes
    under a master listening on `master_port` (a free one when 0, so runs side by side do not
    collide on Locust's default 5557).
    """
    files = [str(REPO_ROOT / "loadtests" / "locustfile.py")]
    if shape is not None:
        files.append(str(REPO_ROOT / "loadtests" / "shape_locustfile.py"))
    argv = [
        sys.executable, "-m", "locust",
        "-f", ",".join(files),
        "--headless", "--only-summary",
        "--host", host,
        "--users", str(users),
        "--spawn-rate", str(spawn_rate),
        "--run-time", run_time,
        "--stop-timeout", "5",
        "--csv", str(out_dir / "stats"), "--csv-full-history",
        "--html", str(out_dir / "report.html"),
        "--viewer-token", viewer_token,
        "--ingest-token", ingest_token,
        "--master-data", str(master_data),
        "--shape", shape or "steady",
        "--peak-users", str(peak_users),
        "--steps", str(steps),
        "--probe-users", str(probe_users),
        "--visible-timeout-s", str(visible_timeout_s),
        "--max-failure-ratio", str(thresholds.max_failure_ratio),
        "--max-p95-ms", str(thresholds.max_p95_ms),
        "--max-ws-p95-ms", str(thresholds.max_ws_p95_ms),
        "--max-visible-p95-ms", str(thresholds.max_visible_p95_ms),
    ]  # fmt: skip
    if catalog is not None:
        argv += ["--catalog", str(catalog)]
    if workers:
        port = str(master_port or free_port())
        argv += ["--processes", str(workers), "--master-bind-port", port, "--master-port", port]
    return argv


def worker_count(workers: int) -> int:
    """-1 means one worker per core."""
    return (os.cpu_count() or 1) if workers < 0 else workers


def run(
    host: Annotated[str, typer.Option(help="Base URL of the twin API.")] = "http://127.0.0.1:8000",
    users: Annotated[
        int, typer.Option(help="Concurrent users (the normal load; shapes scale from it).")
    ] = 20,
    spawn_rate: Annotated[float, typer.Option(help="Users started per second.")] = 10.0,
    run_time: Annotated[
        str | None,
        typer.Option(help="Run time, e.g. 30s, 2m, 1h (default: 30s; 30m for --shape soak)."),
    ] = None,
    shape: Annotated[
        str | None,
        typer.Option(help=f"Load shape, users over time: {SHAPE_SUMMARY}. Default: steady."),
    ] = None,
    peak_users: Annotated[
        int, typer.Option(help="Users at the top of the peak and spike shapes (0: 3 x --users).")
    ] = 0,
    steps: Annotated[int, typer.Option(help="Stairs of the step shape.")] = 5,
    peak: Annotated[
        bool, typer.Option(help="The same as --shape peak (kept for older scripts).", hidden=True)
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            help="Distributed mode on this machine: a Locust master and this many worker "
            "processes (-1: one per core; 0: one process, the default). For workers on other "
            "machines see the README."
        ),
    ] = 0,
    probe_users: Annotated[
        int,
        typer.Option(
            help="Users timing ingest to visible: each posts an event, then waits for a "
            "WebSocket to show it (taken out of --users; 0: none)."
        ),
    ] = 2,
    out_dir: Annotated[Path, typer.Option(help="Where CSV and HTML reports go.")] = Path(
        "test-artifacts/loadtest"
    ),
    viewer_token: Annotated[
        str | None, typer.Option(help="Viewer token (default: from TWIN_API_TOKENS).")
    ] = None,
    ingest_token: Annotated[
        str | None, typer.Option(help="Ingest token (default: from TWIN_API_TOKENS).")
    ] = None,
    master_data: Annotated[
        Path | None, typer.Option(help="Master data YAML (default: TWIN_MASTER_DATA).")
    ] = None,
    max_failure_ratio: Annotated[float, typer.Option(help="Highest failure share.")] = 0.01,
    max_p95_ms: Annotated[float, typer.Option(help="Highest HTTP p95 per request, ms.")] = 1000.0,
    max_visible_p95_ms: Annotated[
        float,
        typer.Option(
            help="Highest ingest-to-visible p95, ms: an event posted until a WebSocket shows "
            "it, on this machine's clock (0: none)."
        ),
    ] = 5000.0,
    visible_timeout_s: Annotated[
        float, typer.Option(help="A probe event not shown within this many seconds fails.")
    ] = 30.0,
    max_ws_p95_ms: Annotated[
        float,
        typer.Option(
            help="Highest WebSocket delivery p95 (twin published → subscriber), ms (0: none)."
        ),
    ] = 5000.0,
) -> None:
    """Run Locust headless against HOST and fail when a threshold is broken."""
    settings = LoadTestSettings()
    viewer = viewer_token or settings.token_for("viewer", "operator", "architect", "admin")
    ingest = ingest_token or settings.token_for("ingest", "admin")
    if not viewer or not ingest:
        typer.echo(
            "error: need a viewer and an ingest token: pass --viewer-token/--ingest-token or "
            "set TWIN_API_TOKENS (the demo prints them).",
            err=True,
        )
        raise typer.Exit(code=2)
    if peak and shape is None:
        shape = "peak"
    if shape is not None and shape not in SHAPES:
        typer.echo(f"error: no shape {shape!r}; choose one of {', '.join(SHAPES)}", err=True)
        raise typer.Exit(code=2)
    out_dir.mkdir(parents=True, exist_ok=True)
    master = master_data or settings.master_data
    # parsed once here, not in every Locust process
    catalog = Catalog.load(master).save(out_dir / "catalog.json")
    argv = locust_argv(
        host=host,
        users=users,
        spawn_rate=spawn_rate,
        run_time=run_time or default_run_time(shape),
        out_dir=out_dir,
        viewer_token=viewer,
        ingest_token=ingest,
        master_data=master,
        catalog=catalog,
        shape=shape,
        thresholds=Thresholds(max_failure_ratio, max_p95_ms, max_ws_p95_ms, max_visible_p95_ms),
        peak_users=peak_users,
        steps=steps,
        probe_users=probe_users,
        visible_timeout_s=visible_timeout_s,
        workers=worker_count(workers),
    )
    code = subprocess.call(argv, cwd=REPO_ROOT)
    typer.echo(f"reports: {out_dir / 'report.html'}, {out_dir}/stats_*.csv")
    if code != 0:
        typer.echo(f"load test FAILED (locust exit code {code})", err=True)
    else:
        typer.echo("load test PASSED")
    raise typer.Exit(code=code)
