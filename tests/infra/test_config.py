"""Settings, broker configuration, client configuration and the Kafka port probe."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from infra.broker_config import BrokerLayout, server_properties
from infra.cluster import LocalCluster
from infra.kafka_clients import consumer_config, producer_config
from infra.probe import speaks_kafka
from infra.settings import BrokerSettings
from infra.topics import TopicSpec


def _props(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def test_server_properties_describe_a_single_kraft_node_on_loopback() -> None:
    props = _props(server_properties(BrokerLayout(9092, 9093, Path("/data"))))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert props["log.dirs"] == "/data"
    assert props["auto.create.topics.enable"] == "false"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["min.insync.replicas"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["num.partitions"] == "6"
    assert not any(key.startswith("log.flush") for key in props)


def test_local_port_follows_a_loopback_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWIN_KAFKA_BOOTSTRAP", "localhost:19092")
    settings = BrokerSettings()
    assert (settings.client_port(), settings.controller_port()) == (19092, 19093)


def test_remote_bootstrap_leaves_the_local_broker_on_the_default_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWIN_KAFKA_BOOTSTRAP", "kafka.example:9092")
    monkeypatch.setenv("TWIN_KAFKA_CONTROLLER_PORT", "29093")
    settings = BrokerSettings()
    assert (settings.client_port(), settings.controller_port()) == (9092, 29093)


def test_state_dir_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TWIN_STATE_DIR", str(tmp_path))
    assert BrokerSettings().kafka_dir() == tmp_path / "kafka"


def test_producer_is_idempotent_with_acks_all_and_overridable() -> None:
    config = producer_config("h:1", **{"linger.ms": 50})
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert config["linger.ms"] == 50


def test_consumer_stores_offsets_only_when_told() -> None:
    config = consumer_config("h:1", "g")
    assert config["group.id"] == "g"
    assert config["enable.auto.offset.store"] is False
    assert config["auto.offset.reset"] == "earliest"


def test_probe_says_no_for_a_silent_listener() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        assert not speaks_kafka("127.0.0.1", server.getsockname()[1], timeout=0.3)


@pytest.mark.integration
def test_probe_says_yes_for_the_broker(kafka_bootstrap: str) -> None:
    host, _, port = kafka_bootstrap.split(",")[0].rpartition(":")
    assert speaks_kafka(host, int(port))


def test_cluster_nodes_share_a_static_quorum_and_replicate_three_times() -> None:
    voters = ((1, 9095), (2, 9096), (3, 9097))
    props = _props(
        server_properties(BrokerLayout(9093, 9096, Path("/data"), node_id=2, voters=voters))
    )
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:9095,2@127.0.0.1:9096,3@127.0.0.1:9097"
    )
    assert "controller.quorum.bootstrap.servers" not in props
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9093,CONTROLLER://127.0.0.1:9096"
    for key in ("default.replication.factor", "offsets.topic.replication.factor"):
        assert props[key] == "3"
    assert props["transaction.state.log.replication.factor"] == "3"
    assert props["min.insync.replicas"] == props["transaction.state.log.min.isr"] == "2"


def test_topics_replicate_as_the_cluster_allows() -> None:
    spec = TopicSpec("t", 6, {"retention.ms": "1000"})
    assert [spec.replication_factor_on(n) for n in (1, 2, 3, 5)] == [1, 2, 3, 3]
    assert spec.config_on(1) == spec.config_on(2) == {"retention.ms": "1000"}
    assert spec.config_on(3) == {"min.insync.replicas": "2", "retention.ms": "1000"}


def test_cluster_ports_count_up_from_the_client_port(tmp_path: Path) -> None:
    settings = BrokerSettings(state_dir=tmp_path, kafka_port=19092)
    cluster = LocalCluster(settings, nodes=3)
    assert cluster.ports == [19092, 19093, 19094]
    assert cluster.controller_ports == [19095, 19096, 19097]
    assert [node.home for node in cluster.nodes] == [
        tmp_path / "kafka" / f"node-{n}" for n in (1, 2, 3)
    ]
    assert cluster.bootstrap == "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
    assert len({node.cluster_id for node in cluster.nodes}) == 1
    assert [n.layout.voters for n in cluster.nodes] == [((1, 19095), (2, 19096), (3, 19097))] * 3
