"""`invtwin kafka up | down | status | topics`: the local broker and the contract topics."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from infra.broker import LocalBroker
from infra.errors import BrokerError
from infra.jars import ensure_jars
from infra.kafka_clients import ensure_topics
from infra.settings import KAFKA_VERSION, BrokerSettings
from infra.topics import TOPIC_SPECS

app = typer.Typer(no_args_is_help=True)


def _fail(exc: BrokerError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=1)


@app.command()
def up(
    timeout: Annotated[
        float | None,
        typer.Option(help="Seconds to wait for the broker (default TWIN_KAFKA_START_TIMEOUT_S)."),
    ] = None,
) -> None:
    """Start the local Kafka broker (no-op when it runs) and wait until it answers."""
    broker = LocalBroker(BrokerSettings())
    try:
        status = broker.up(timeout=timeout)
    except BrokerError as exc:
        raise _fail(exc) from exc
    typer.echo(status.describe())


@app.command()
def down() -> None:
    """Stop the local Kafka broker started from this state dir."""
    broker = LocalBroker(BrokerSettings())
    if broker.down():
        typer.echo(f"Kafka at {broker.bootstrap} stopped.")
    else:
        typer.echo(f"Kafka from {broker.home} was not running.")


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Say whether the broker runs, where, which version; exit 1 when it does not run."""
    broker = LocalBroker(BrokerSettings())
    current = broker.status()
    typer.echo(json.dumps(broker.describe_state()) if as_json else current.describe())
    if not current.running:
        raise typer.Exit(code=1)


@app.command()
def jars() -> None:
    """Resolve the official Kafka jars with Maven into .cache/kafka/ (once)."""
    try:
        path = ensure_jars()
    except BrokerError as exc:
        raise _fail(exc) from exc
    typer.echo(f"Apache Kafka {KAFKA_VERSION} jars in {path}")


@app.command()
def topics(
    suffix: Annotated[str, typer.Option(help="Appended to every topic name.")] = "",
    bootstrap: Annotated[str | None, typer.Option(help="Defaults to TWIN_KAFKA_BOOTSTRAP.")] = None,
) -> None:
    """Create every contract topic (idempotent) and list them with their partitions."""
    target = bootstrap or BrokerSettings().kafka_bootstrap
    try:
        created = ensure_topics(target, TOPIC_SPECS, suffix=suffix)
    except BrokerError as exc:
        raise _fail(exc) from exc
    for spec in TOPIC_SPECS:
        name = spec.name + suffix
        mark = "created" if name in created else "exists"
        typer.echo(f"{name:32} {spec.partitions:2d} partitions  {mark}")
