"""`invtwin loadtest`: a headless Locust run against a running stack, with pass/fail thresholds.

Writes `<out>/stats_*.csv` and `<out>/report.html`; exits non-zero when a threshold is broken
(failure ratio, HTTP p95, WebSocket delivery p95) or Locust itself fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from loadtests.settings import REPO_ROOT, LoadTestSettings


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
    peak: bool,
    max_failure_ratio: float,
    max_p95_ms: float,
    max_ws_p95_ms: float,
) -> list[str]:
    """The Locust command line of a headless run (also used by the compose file's service)."""
    files = [str(REPO_ROOT / "loadtests" / "locustfile.py")]
    if peak:
        files.append(str(REPO_ROOT / "loadtests" / "peak_locustfile.py"))
    return [
        sys.executable, "-m", "locust",
        "-f", ",".join(files),
        "--headless", "--only-summary",
        "--host", host,
        "--users", str(users),
        "--spawn-rate", str(spawn_rate),
        "--run-time", run_time,
        "--stop-timeout", "5",
        "--csv", str(out_dir / "stats"),
        "--html", str(out_dir / "report.html"),
        "--viewer-token", viewer_token,
        "--ingest-token", ingest_token,
        "--master-data", str(master_data),
        "--max-failure-ratio", str(max_failure_ratio),
        "--max-p95-ms", str(max_p95_ms),
        "--max-ws-p95-ms", str(max_ws_p95_ms),
    ]  # fmt: skip


def run(
    host: Annotated[str, typer.Option(help="Base URL of the twin API.")] = "http://127.0.0.1:8000",
    users: Annotated[int, typer.Option(help="Concurrent users (normal load).")] = 20,
    spawn_rate: Annotated[float, typer.Option(help="Users started per second.")] = 10.0,
    run_time: Annotated[str, typer.Option(help="Run time, e.g. 30s, 2m.")] = "30s",
    out_dir: Annotated[Path, typer.Option(help="Where CSV and HTML reports go.")] = Path(
        "test-artifacts/loadtest"
    ),
    peak: Annotated[bool, typer.Option(help="Use the peak-day load shape.")] = False,
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
    max_ws_p95_ms: Annotated[
        float, typer.Option(help="Highest WebSocket delivery p95, ms (0: none).")
    ] = 5000.0,
) -> None:
    """Run Locust headless against HOST and fail when a threshold is broken."""
    settings = LoadTestSettings()
    viewer = viewer_token or settings.token_for("viewer", "architect", "admin")
    ingest = ingest_token or settings.token_for("ingest", "admin")
    if not viewer or not ingest:
        typer.echo(
            "error: need a viewer and an ingest token: pass --viewer-token/--ingest-token or "
            "set TWIN_API_TOKENS (the demo prints them).",
            err=True,
        )
        raise typer.Exit(code=2)
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = locust_argv(
        host=host,
        users=users,
        spawn_rate=spawn_rate,
        run_time=run_time,
        out_dir=out_dir,
        viewer_token=viewer,
        ingest_token=ingest,
        master_data=master_data or settings.master_data,
        peak=peak,
        max_failure_ratio=max_failure_ratio,
        max_p95_ms=max_p95_ms,
        max_ws_p95_ms=max_ws_p95_ms,
    )
    code = subprocess.call(argv, cwd=REPO_ROOT)
    typer.echo(f"reports: {out_dir / 'report.html'}, {out_dir}/stats_*.csv")
    if code != 0:
        typer.echo(f"load test FAILED (locust exit code {code})", err=True)
    else:
        typer.echo("load test PASSED")
    raise typer.Exit(code=code)
