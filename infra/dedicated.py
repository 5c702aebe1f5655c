"""Throw-away brokers and clusters on free ports with their own data dir, for tests that
kill brokers.

Resilience tests and benchmarks must never kill the shared development broker; they start
one of these instead (`dedicated_broker(tmp_dir)`, or `dedicated_cluster(tmp_dir, nodes=3)`)
and stop it when done.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

from infra.broker import LocalBroker
from infra.cluster import LocalCluster
from infra.settings import LOOPBACK, BrokerSettings


def free_ports(count: int) -> list[int]:
    """Ports the OS says are free right now (held open together so they are distinct)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((LOOPBACK, 0))
        return [sock.getsockname()[1] for sock in socks]


def dedicated_broker(home: Path, heap: str = "384m") -> LocalBroker:
    """A broker (not started) on two free ports, keeping everything under `home`."""
    port, controller_port = free_ports(2)
    settings = BrokerSettings(
        state_dir=home,
        kafka_bootstrap=f"{LOOPBACK}:{port}",
        kafka_port=port,
        kafka_controller_port=controller_port,
        kafka_heap=heap,
    )
    # A short broker session: a restart after SIGKILL is accepted ~3 s after the crash
    # instead of 9 s. Fine for a private broker; the shared one keeps the safer default.
    return LocalBroker(settings, session_timeout_ms=3000, quick_start=True)


def dedicated_cluster(home: Path, nodes: int = 3, heap: str = "320m") -> LocalCluster:
    """A cluster (not started) of `nodes` KRaft nodes on free ports, everything under `home`."""
    ports = free_ports(2 * nodes)
    settings = BrokerSettings(
        state_dir=home,
        kafka_bootstrap=",".join(f"{LOOPBACK}:{port}" for port in ports[:nodes]),
        kafka_port=ports[0],
        kafka_heap=heap,
    )
    return LocalCluster(
        settings,
        nodes=nodes,
        home=home / "kafka",
        ports=ports[:nodes],
        controller_ports=ports[nodes:],
        session_timeout_ms=3000,  # as for a dedicated broker: quick rejoin after a kill
        quick_start=True,
    )


@contextlib.contextmanager
def running_dedicated_cluster(
    home: Path, nodes: int = 3, heap: str = "320m"
) -> Iterator[LocalCluster]:
    """Start a dedicated cluster, yield it, then kill every node and remove the data."""
    cluster = dedicated_cluster(home, nodes, heap)
    try:
        cluster.up()
        yield cluster
    finally:
        discard_cluster(cluster)


def discard_cluster(cluster: LocalCluster) -> None:
    """Kill every node of a dedicated cluster and throw its data away."""
    for node in cluster.nodes:
        stop_and_discard(node)
    cluster.state_file.unlink(missing_ok=True)


@contextlib.contextmanager
def running_dedicated_broker(home: Path, heap: str = "384m") -> Iterator[LocalBroker]:
    """Start a dedicated broker, yield it, then kill it and remove its data."""
    broker = dedicated_broker(home, heap)
    try:
        broker.up()
        yield broker
    finally:
        stop_and_discard(broker)


def stop_and_discard(broker: LocalBroker) -> None:
    """Kill a dedicated broker (its data is thrown away, so no clean shutdown is needed)."""
    if broker.pid() is not None:
        broker.kill()
    broker.state_file.unlink(missing_ok=True)
    shutil.rmtree(broker.layout.data_dir, ignore_errors=True)
