"""`invtwin api`: run the FastAPI service under uvicorn.

Without `TWIN_API_TOKENS` the service refuses to start, unless `--dev` (or `TWIN_API_DEV=1`)
is given: then one token per role is generated, printed, and shared with every worker
through the environment of the uvicorn process.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from api.auth import TokenConfigError, generate_dev_tokens, parse_tokens
from api.settings import ApiSettings
from api.telemetry import configure_json_logging


def run(
    host: Annotated[str, typer.Option(help="Interface to bind (loopback).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Uvicorn worker processes (each keeps its own view).")
    ] = 1,
    dev: Annotated[
        bool, typer.Option("--dev", help="Generate and print tokens when none are configured.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Run the API: REST, WebSocket stream, ingest, scenario runs and the dashboard."""
    import uvicorn

    settings = ApiSettings()
    try:
        tokens = parse_tokens(settings.api_tokens)
    except TokenConfigError as exc:
        raise typer.BadParameter(f"TWIN_API_TOKENS: {exc}") from exc
    if not tokens:
        if not (dev or settings.api_dev):
            typer.echo(
                "refusing to start without tokens: set TWIN_API_TOKENS='token:role,...' "
                "or pass --dev to generate some",
                err=True,
            )
            raise typer.Exit(2)
        generated = generate_dev_tokens()
        # The CLI is the composition root of this process: handing the generated tokens to
        # the uvicorn workers through their environment is how they all see the same ones.
        os.environ["TWIN_API_TOKENS"] = generated
        typer.echo("dev mode: generated API tokens (role: token)")
        for token, role in parse_tokens(generated).items():
            typer.echo(f"  {role.value:9} {token}")
        viewer = next(t for t, r in parse_tokens(generated).items() if r.value == "viewer")
        typer.echo(f"dashboard: http://{host}:{port}/#token={viewer}")
    configure_json_logging(log_level.upper())
    uvicorn.run(
        "api.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=None,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        # Compression is per client and per frame: it would undo encoding once per group.
        ws_per_message_deflate=False,
        **settings.uvicorn_limits(),
    )
