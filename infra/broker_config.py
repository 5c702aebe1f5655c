"""Writes the server.properties of a local KRaft node (combined broker + controller).

One node alone (the default) or one of a small cluster whose nodes are all controllers
(`BrokerLayout.voters`, a static quorum). Tuned for a small shared machine and fast tests:
replication factors of one on a single node (three, with min ISR 2, on a cluster), no initial
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
class SaslSslListener:
    """A second client listener with TLS and SCRAM-SHA-512 logins, as managed Kafka services
    offer (for testing secured clients against a real broker). The keystore is PKCS12."""

    port: int
    keystore: Path
    keystore_password: str


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
    # The controller quorum of a cluster: (node id, controller port) of every node, this one
    # included. Empty for a single node, which bootstraps its quorum from its own port.
    voters: tuple[tuple[int, int], ...] = ()
    sasl_ssl: SaslSslListener | None = None

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def replication_factor(self) -> int:
        """What internal and new topics get: every node up to three."""
        return replication_factor_for(max(1, len(self.voters)))

    @property
    def min_insync_replicas(self) -> int:
        return min_insync_replicas_for(self.replication_factor)


def replication_factor_for(broker_count: int) -> int:
    """Three copies where the cluster has three brokers or more, else one per broker."""
    return max(1, min(3, broker_count))


def min_insync_replicas_for(replication_factor: int) -> int:
    """Two acknowledging copies once there are three: one broker may die without data loss
    or a stop of `acks=all` producers."""
    return 2 if replication_factor >= 3 else 1


def server_properties(layout: BrokerLayout) -> str:
    """The broker's configuration file text."""
    host = LOOPBACK
    quorum: dict[str, str] = (
        {
            "controller.quorum.voters": ",".join(
                f"{node}@{host}:{port}" for node, port in layout.voters
            )
        }
        if layout.voters
        else {"controller.quorum.bootstrap.servers": f"{host}:{layout.controller_port}"}
    )
    replicas, min_isr = layout.replication_factor, layout.min_insync_replicas
    props: dict[str, str | int] = {
        "process.roles": "broker,controller",
        "node.id": layout.node_id,
        **quorum,
        "listeners": f"PLAINTEXT://{host}:{layout.port},CONTROLLER://{host}:{layout.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{layout.port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        **(_sasl_ssl_properties(layout.sasl_ssl, host) if layout.sasl_ssl else {}),
        "log.dirs": str(layout.data_dir),
        # Topics: tests and `invtwin kafka topics` create them explicitly, with their configs.
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        "num.partitions": 6,
        "default.replication.factor": replicas,
        "min.insync.replicas": min_isr,
        # Internal topics as replicated as the cluster allows, and few partitions so the
        # first consumer group or transaction does not wait for 50 partitions to be created.
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": 6,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": 6,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
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
    if layout.sasl_ssl is not None:
        # The secured listener joins the plain one in the listener lists built above.
        secured = f"SASL_SSL://{host}:{layout.sasl_ssl.port}"
        props["listeners"] = f"{props['listeners']},{secured}"
        props["advertised.listeners"] = f"{props['advertised.listeners']},{secured}"
        props["listener.security.protocol.map"] = (
            f"{props['listener.security.protocol.map']},SASL_SSL:SASL_SSL"
        )
    lines = ["# Written by infra/broker.py; regenerated on every start.", ""]
    lines += [f"{key}={value}" for key, value in props.items()]
    return "\n".join(lines) + "\n"


def _sasl_ssl_properties(listener: SaslSslListener, host: str) -> dict[str, str | int]:
    prefix = "listener.name.sasl_ssl."
    return {
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        prefix + "scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        prefix + "ssl.keystore.type": "PKCS12",
        prefix + "ssl.keystore.location": str(listener.keystore),
        prefix + "ssl.keystore.password": listener.keystore_password,
        prefix + "ssl.key.password": listener.keystore_password,
    }
