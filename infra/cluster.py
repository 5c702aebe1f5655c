"""A local Kafka cluster: N KRaft nodes from the same jars, each broker and controller.

`LocalCluster(settings, nodes=3).up()` starts every node (a static controller quorum of all
of them, one cluster id), then waits until each answers a metadata request listing all the
brokers, which also means the quorum elected a leader. Node N keeps everything under
`<state dir>/kafka/node-N/`; `<state dir>/kafka/cluster.json` says how many nodes there are
and which ports they use, so `status` and `down` find them again.

Ports: client ports from the local client port upward (9092, 9093, 9094), controller ports
right after them (9095, 9096, 9097) unless TWIN_KAFKA_CONTROLLER_PORT says where they start.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from infra.broker import LocalBroker, new_cluster_id
from infra.errors import BrokerError, BrokerStartFailed
from infra.probe import port_open, quiet_admin
from infra.settings import LOOPBACK, BrokerSettings


@dataclass(frozen=True)
class NodeStatus:
    """One node, as `invtwin kafka status` shows it."""

    node_id: int
    pid: int | None
    port: int
    controller_port: int
    alive: bool
    quorum_leader: bool
    data_dir: str

    def describe(self) -> str:
        state = f"running (pid {self.pid})" if self.alive else "not running"
        leader = "  controller quorum leader" if self.quorum_leader else ""
        return (
            f"node {self.node_id}: {state}  client {LOOPBACK}:{self.port}  "
            f"controller {LOOPBACK}:{self.controller_port}{leader}"
        )


@dataclass(frozen=True)
class ClusterStatus:
    nodes: list[NodeStatus]
    bootstrap: str

    @property
    def running(self) -> bool:
        return all(node.alive for node in self.nodes)

    def describe(self) -> str:
        alive = sum(node.alive for node in self.nodes)
        head = (
            f"Kafka cluster of {len(self.nodes)} nodes, {alive} running; "
            f"bootstrap {self.bootstrap}"
        )
        return "\n".join([head, *(node.describe() for node in self.nodes)])


class LocalCluster:
    """N local nodes under one state dir (or on given ports, for throw-away test clusters)."""

    def __init__(
        self,
        settings: BrokerSettings | None = None,
        *,
        nodes: int = 3,
        home: Path | None = None,
        ports: list[int] | None = None,
        controller_ports: list[int] | None = None,
        session_timeout_ms: int = 9000,
        quick_start: bool = False,
    ) -> None:
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        self.settings = settings or BrokerSettings()
        self.home = home or self.settings.kafka_dir()
        first = self.settings.client_port()
        self.ports = ports or [first + i for i in range(nodes)]
        if controller_ports is None:
            start = self.settings.kafka_controller_port or first + nodes
            controller_ports = [start + i for i in range(nodes)]
        self.controller_ports = controller_ports
        if len(self.ports) != nodes or len(self.controller_ports) != nodes:
            raise ValueError("one client and one controller port per node")
        self.cluster_id = self._known_cluster_id() or new_cluster_id()
        voters = tuple((i + 1, port) for i, port in enumerate(self.controller_ports))
        self.nodes = [
            LocalBroker(
                self.settings,
                home=self.home / f"node-{i + 1}",
                port=self.ports[i],
                controller_port=self.controller_ports[i],
                session_timeout_ms=session_timeout_ms,
                quick_start=quick_start,
                node_id=i + 1,
                voters=voters,
                cluster_id=self.cluster_id,
            )
            for i in range(nodes)
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def state_file(self) -> Path:
        return self.home / "cluster.json"

    def node(self, node_id: int) -> LocalBroker:
        return self.nodes[node_id - 1]

    def up(self, timeout: float | None = None) -> ClusterStatus:
        """Start every node that is not running; return once all answer as one cluster."""
        timeout = timeout if timeout is not None else self.settings.kafka_start_timeout_s
        self.home.mkdir(parents=True, exist_ok=True)
        self._write_state()
        for node in self.nodes:
            node.launch()
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            node.await_ready(max(1.0, deadline - time.monotonic()))
        self._await_all_registered(deadline)
        return self.status()

    def down(self, timeout: float = 30.0) -> int:
        """Stop every node (clean shutdown, SIGKILL if one lingers); how many were running.

        All nodes are signalled first: a node stopping alone waits for a quorum that the
        others, stopping one by one, would no longer form.
        """
        running = [node for node in self.nodes if node.pid() is not None]
        for node in running:
            node.terminate()
        for node in running:
            node.down(timeout)
        self.state_file.unlink(missing_ok=True)
        return len(running)

    def status(self) -> ClusterStatus:
        leader = self.quorum_leader()
        nodes = []
        for number, node in enumerate(self.nodes, start=1):
            pid = node.pid()
            nodes.append(
                NodeStatus(
                    node_id=number,
                    pid=pid,
                    port=node.layout.port,
                    controller_port=node.layout.controller_port,
                    alive=pid is not None and port_open(LOOPBACK, node.layout.port),
                    quorum_leader=pid is not None and number == leader,
                    data_dir=str(node.layout.data_dir),
                )
            )
        return ClusterStatus(nodes=nodes, bootstrap=self.bootstrap)

    def describe_state(self) -> dict[str, object]:
        return asdict(self.status())

    def quorum_leader(self) -> int | None:
        """The controller quorum's leader as the running nodes last recorded it.

        Each controller keeps the quorum state it knows in a small JSON file; the newest
        epoch among the live nodes wins. Cheap (no JVM tool), and right once elections settle.
        """
        best: tuple[int, int] | None = None  # (epoch, leader id)
        for node in self.nodes:
            if node.pid() is None:
                continue
            path = node.layout.data_dir / "__cluster_metadata-0" / "quorum-state"
            try:
                state = json.loads(path.read_text())
                epoch, leader = int(state["leaderEpoch"]), int(state["leaderId"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if leader >= 0 and (best is None or epoch > best[0]):
                best = (epoch, leader)
        return best[1] if best is not None else None

    def broker_count(self, timeout: float = 5.0) -> int:
        """How many brokers the cluster's metadata lists now."""
        return len(quiet_admin(self.bootstrap).list_topics(timeout=timeout).brokers)

    def _await_all_registered(self, deadline: float) -> None:
        wanted = len(self.nodes)
        seen = 0
        while time.monotonic() < deadline:
            try:
                seen = self.broker_count(timeout=max(0.5, min(5.0, deadline - time.monotonic())))
            except Exception:  # KafkaException while a node still starts
                seen = 0
            if seen == wanted and self.quorum_leader() is not None:
                return
            time.sleep(0.2)
        raise BrokerStartFailed(
            f"the Kafka cluster at {self.bootstrap} lists {seen} of {wanted} brokers"
            + ("" if self.quorum_leader() is not None else " and has no controller leader")
        )

    def _known_cluster_id(self) -> str | None:
        # A restarted cluster keeps the id its storage was formatted with.
        try:
            return str(json.loads(self.state_file.read_text())["cluster_id"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        for number in range(1, 10):
            meta = self.home / f"node-{number}" / "data" / "meta.properties"
            try:
                for line in meta.read_text().splitlines():
                    if line.startswith("cluster.id="):
                        return line.split("=", 1)[1].strip()
            except OSError:
                continue
        return None

    def _write_state(self) -> None:
        state = {
            "nodes": len(self.nodes),
            "cluster_id": self.cluster_id,
            "ports": self.ports,
            "controller_ports": self.controller_ports,
        }
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")


def recorded_cluster(settings: BrokerSettings) -> LocalCluster | None:
    """The cluster last started from this state dir (by `kafka up --nodes N`), if any."""
    path = settings.kafka_dir() / "cluster.json"
    try:
        state = json.loads(path.read_text())
        return LocalCluster(
            settings,
            nodes=int(state["nodes"]),
            ports=[int(p) for p in state["ports"]],
            controller_ports=[int(p) for p in state["controller_ports"]],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def require_no_single_broker(settings: BrokerSettings) -> None:
    """A cluster and the single-node broker of the same state dir share ports: one at a time."""
    single = LocalBroker(settings)
    if single.pid() is not None:
        raise BrokerError(
            f"the single-node broker runs at {single.bootstrap} (pid {single.pid()}); "
            "stop it with `invtwin kafka down` before starting a cluster"
        )
