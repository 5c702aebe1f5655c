"""Writes the server.properties of a single-node KRaft broker (combined broker + controller).

Tuned for a small shared machine and fast tests: replication factors of one, no initial
rebalance delay, few internal-topic partitions, a small log-cleaner buffer (it is allocated
on the heap), and no explicit log flush. Durability comes from the OS page cache: a SIGKILL
of the JVM loses nothing that the broker acknowledged, since the kernel keeps the written
pages; only a machine crash could, which is acceptable for a local development broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.settings import LOOPBACK


@dataclass(frozen=True)
class BrokerLayout:
    """Ports and folders of one local broker."""

    port: int
    controller_port: int
    data_dir: Path
    node_id: int = 1
    # After a crash the controller accepts the restarted broker only once the dead
    # incarnation's session expired: brokers that get killed on purpose use a short one.
    session_timeout_ms: int = 9000

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"


def server_properties(layout: BrokerLayout) -> str:
    """The broker's configuration file text."""
    host = LOOPBACK
    props: dict[str, str | int] = {
        "process.roles": "broker,controller",
        "node.id": layout.node_id,
        "controller.quorum.bootstrap.servers": f"{host}:{layout.controller_port}",
        "listeners": f"PLAINTEXT://{host}:{layout.port},CONTROLLER://{host}:{layout.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{layout.port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(layout.data_dir),
        # Topics: tests and `invtwin kafka topics` create them explicitly, with their configs.
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        "num.partitions": 6,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        # Internal topics on one node: replication 1, and few partitions so the first
        # consumer group or transaction does not wait for 50 partitions to be created.
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 6,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": 6,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        # Consumers join at once; tests may use short sessions.
        "group.initial.rebalance.delay.ms": 0,
        "group.min.session.timeout.ms": 1000,
        "broker.session.timeout.ms": layout.session_timeout_ms,
        "broker.heartbeat.interval.ms": min(2000, layout.session_timeout_ms // 3),
        # Two cores shared with many processes: a few threads are plenty.
        "num.network.threads": 2,
        "num.io.threads": 4,
        "num.recovery.threads.per.data.dir": 2,
        "background.threads": 4,
        "log.cleaner.threads": 1,
        "log.cleaner.dedupe.buffer.size": 32 * 1024 * 1024,
        "log.retention.hours": 168,
        "log.retention.check.interval.ms": 300000,
        # Middleware batches can be large; allow 4 MiB messages (clients default to 1 MiB).
        "message.max.bytes": 4 * 1024 * 1024,
        "replica.fetch.max.bytes": 4 * 1024 * 1024,
    }
    lines = ["# Written by infra/broker.py; regenerated on every start.", ""]
    lines += [f"{key}={value}" for key, value in props.items()]
    return "\n".join(lines) + "\n"
