"""`invtwin kafka up --nodes 3 | status | topics | down` on a cluster of this test's own.

The ports are six consecutive free ones (clients from TWIN_KAFKA_PORT upward, controllers
after them) and the data lives under the test's TWIN_STATE_DIR, so the shared development
broker is never touched.
"""

from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path

import pytest
from confluent_kafka.admin import ConfigResource
from typer.testing import CliRunner

from cli.main import app
from infra.dedicated import free_ports
from infra.probe import quiet_admin
from infra.settings import LOOPBACK
from infra.topics import INVENTORY_EVENTS, TOPIC_SPECS

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def consecutive_free_ports(count: int, tries: int = 50) -> int:
    """The first of `count` consecutive ports that can all be bound right now."""
    for _ in range(tries):
        (start,) = free_ports(1)
        if start + count > 65535:
            continue
        with contextlib.ExitStack() as stack:
            try:
                for port in range(start, start + count):
                    stack.enter_context(socket.socket()).bind((LOOPBACK, port))
            except OSError:
                continue
            return start
    raise RuntimeError(f"no {count} consecutive free ports found")


def _min_insync_replicas(bootstrap: str, topic: str) -> str:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    admin = quiet_admin(bootstrap)  # must outlive the future
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    return str(configs["min.insync.replicas"].value)


def test_a_three_node_cluster_from_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = consecutive_free_ports(6)
    monkeypatch.setenv("TWIN_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("TWIN_KAFKA_PORT", str(base))
    monkeypatch.setenv("TWIN_KAFKA_BOOTSTRAP", f"{LOOPBACK}:{base}")
    monkeypatch.setenv("TWIN_KAFKA_HEAP", "320m")
    monkeypatch.delenv("TWIN_KAFKA_CONTROLLER_PORT", raising=False)
    runner = CliRunner()
    try:
        up = runner.invoke(app, ["kafka", "up", "--nodes", "3"])
        assert up.exit_code == 0, up.output

        status = runner.invoke(app, ["kafka", "status", "--json"])
        assert status.exit_code == 0, status.output
        nodes = json.loads(status.output)["nodes"]
        assert [n["port"] for n in nodes] == [base, base + 1, base + 2]
        assert [n["controller_port"] for n in nodes] == [base + 3, base + 4, base + 5]
        assert all(n["alive"] and n["pid"] for n in nodes)
        assert sum(n["quorum_leader"] for n in nodes) == 1
        assert [n["data_dir"] for n in nodes] == [
            str(tmp_path / "kafka" / f"node-{i}" / "data") for i in (1, 2, 3)
        ]

        again = runner.invoke(app, ["kafka", "up", "--nodes", "3"])  # already running: no-op
        assert again.exit_code == 0, again.output
        after = json.loads(runner.invoke(app, ["kafka", "status", "--json"]).output)["nodes"]
        assert [n["pid"] for n in after] == [n["pid"] for n in nodes]

        topics = runner.invoke(app, ["kafka", "topics"])
        assert topics.exit_code == 0, topics.output
        lines = topics.output.strip().splitlines()
        assert len(lines) == len(TOPIC_SPECS)
        assert all("RF 3" in line and "created" in line for line in lines), topics.output
        bootstrap = ",".join(f"{LOOPBACK}:{base + i}" for i in range(3))
        assert _min_insync_replicas(bootstrap, INVENTORY_EVENTS) == "2"
    finally:
        down = runner.invoke(app, ["kafka", "down"])
    assert down.exit_code == 0, down.output
    assert "3 of 3 nodes were running" in down.output
    assert runner.invoke(app, ["kafka", "status"]).exit_code == 1
