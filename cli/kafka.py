"""`invtwin kafka up | down | status | topics`: the local broker and the contract topics.

`kafka up` runs one KRaft node; `kafka up --nodes 3` runs a local cluster of three (the
production shape: topics replicated three times, two in sync). `down` and `status` act on
whichever of the two was started from this state dir.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from confluent_kafka import KafkaException

from infra.broker import LocalBroker
from infra.cluster import LocalCluster, recorded_cluster, require_no_single_broker
from infra.errors import BrokerError
from infra.jars import ensure_jars
from infra.kafka_clients import ensure_topics
from infra.probe import quiet_admin
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
    nodes: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=9,
            help="Run a local cluster of this many nodes (client ports from TWIN_KAFKA_PORT "
            "upward, controller ports after them; data in $TWIN_STATE_DIR/kafka/node-N).",
        ),
    ] = None,
) -> None:
    """Start the local Kafka broker, or cluster (no-op when it runs); wait until it answers."""
    settings = BrokerSettings()
    try:
        if nodes is None:
            typer.echo(LocalBroker(settings).up(timeout=timeout).describe())
            return
        require_no_single_broker(settings)
        cluster = LocalCluster(settings, nodes=nodes)
        recorded = recorded_cluster(settings)
        if recorded is not None and recorded.ports != cluster.ports and recorded.down():
            typer.echo(f"Stopped the previous cluster of {len(recorded.nodes)} nodes.")
        typer.echo(cluster.up(timeout=timeout).describe())
    except BrokerError as exc:
        raise _fail(exc) from exc


@app.command()
def down() -> None:
    """Stop the local Kafka broker (or cluster) started from this state dir."""
    settings = BrokerSettings()
    cluster = recorded_cluster(settings)
    if cluster is not None:
        stopped = cluster.down()
        typer.echo(f"Kafka cluster: {stopped} of {len(cluster.nodes)} nodes were running; stopped.")
    broker = LocalBroker(settings)
    if broker.down():
        typer.echo(f"Kafka at {broker.bootstrap} stopped.")
    else:
        if cluster is None:
            typer.echo(f"Kafka from {broker.home} was not running.")


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Say whether the broker (or each node of the cluster) runs and where; exit 1 if not."""
    settings = BrokerSettings()
    cluster = recorded_cluster(settings)
    if cluster is not None:
        state = cluster.status()
        typer.echo(json.dumps(cluster.describe_state()) if as_json else state.describe())
        if not state.running:
            raise typer.Exit(code=1)
        return
    broker = LocalBroker(settings)
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
    """Create every contract topic (idempotent) and list them with their partitions.

    New topics get replication factor min(3, brokers) and, at three, min.insync.replicas 2.
    """
    settings = BrokerSettings()
    cluster = recorded_cluster(settings) if bootstrap is None else None
    target = bootstrap or (cluster.bootstrap if cluster is not None else settings.kafka_bootstrap)
    try:
        created = ensure_topics(target, TOPIC_SPECS, suffix=suffix)
        md = quiet_admin(target).list_topics(timeout=10)
    except BrokerError as exc:
        raise _fail(exc) from exc
    except KafkaException as exc:
        raise _fail(BrokerError(f"cannot read metadata from {target}: {exc}")) from exc
    for spec in TOPIC_SPECS:
        name = spec.name + suffix
        mark = "created" if name in created else "exists"
        topic = md.topics.get(name)
        partitions = topic.partitions.values() if topic is not None else []
        replicas = max((len(p.replicas) for p in partitions), default=0)
        typer.echo(f"{name:32} {spec.partitions:2d} partitions  RF {replicas}  {mark}")
