"""Shared pytest fixtures: the real Kafka broker, unique topics per test, dedicated brokers.

- `kafka_bootstrap` (session): a reachable broker (TWIN_KAFKA_BOOTSTRAP, default
  127.0.0.1:9092) is reused; otherwise the project's local broker is started, and stopped
  at the end of the session only if this session started it. It never skips: when no broker
  can be had, every test that needs one fails with the reason.
- `topic_suffix`, `twin_topics` (function): every contract topic created under a name unique
  to the test (`twin_topics["inventory.events.v1"]` -> the real name), deleted afterwards.
- `new_topic` (function): a factory for extra unique topics.
- `dedicated_broker` (function): a started broker on free ports and its own data dir, for
  tests that kill or restart a broker. Never kill the shared one.
- `dedicated_cluster` (function): likewise, a started cluster of three KRaft nodes.

In CI (`CI=true`) a skipped test fails the run: nothing may silently not run there.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from infra.broker import LocalBroker
from infra.cluster import LocalCluster
from infra.dedicated import dedicated_broker as dedicated_broker_for
from infra.dedicated import dedicated_cluster as dedicated_cluster_for
from infra.dedicated import discard_cluster, stop_and_discard
from infra.errors import BrokerError
from infra.kafka_clients import delete_topics, ensure_topics
from infra.probe import broker_reachable
from infra.settings import BrokerSettings
from infra.topics import TOPIC_SPECS, TopicSpec, topic_names


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of a live broker for the whole session."""
    settings = BrokerSettings()
    if broker_reachable(settings.kafka_bootstrap):
        yield settings.kafka_bootstrap
        return
    broker = LocalBroker(settings)
    was_running = broker.pid() is not None
    try:
        broker.up()
    except BrokerError as exc:
        pytest.fail(
            f"no Kafka broker at {settings.kafka_bootstrap} and the local one cannot start:\n{exc}",
            pytrace=False,
        )
    try:
        yield broker.bootstrap
    finally:
        if not was_running:
            broker.down()


@pytest.fixture
def topic_suffix() -> str:
    """A suffix that makes topic names unique to this test (valid in Kafka topic names)."""
    return f".t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def twin_topics(kafka_bootstrap: str, topic_suffix: str) -> Iterator[dict[str, str]]:
    """Every contract topic, created for this test: contract name -> real name."""
    names = topic_names(topic_suffix)
    ensure_topics(kafka_bootstrap, TOPIC_SPECS, suffix=topic_suffix)
    yield names
    _delete_quietly(kafka_bootstrap, names.values())


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """Factory: `new_topic("orders", partitions=6, config={...})` -> a unique, created name."""
    made: list[str] = []

    def make(
        prefix: str = "test", partitions: int = 6, config: dict[str, str] | None = None
    ) -> str:
        name = f"{prefix}.t{uuid.uuid4().hex[:12]}"
        ensure_topics(kafka_bootstrap, [TopicSpec(name, partitions, dict(config or {}))])
        made.append(name)
        return name

    yield make
    _delete_quietly(kafka_bootstrap, made)


@pytest.fixture
def dedicated_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A started broker of this test's own (free ports, data under tmp_path); killed after."""
    broker = dedicated_broker_for(tmp_path / "broker")
    try:
        broker.up()
    except BrokerError as exc:
        stop_and_discard(broker)
        pytest.fail(f"cannot start a dedicated Kafka broker:\n{exc}", pytrace=False)
    try:
        yield broker
    finally:
        stop_and_discard(broker)


@pytest.fixture
def dedicated_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A started three-node cluster of this test's own (free ports, data under tmp_path)."""
    cluster = dedicated_cluster_for(tmp_path / "cluster", nodes=3)
    try:
        cluster.up()
    except BrokerError as exc:
        discard_cluster(cluster)
        pytest.fail(f"cannot start a dedicated Kafka cluster:\n{exc}", pytrace=False)
    try:
        yield cluster
    finally:
        discard_cluster(cluster)


def _delete_quietly(bootstrap: str, names: Iterable[str]) -> None:
    # Topics of finished tests only cost disk and file handles; a failed delete must not
    # turn a passing test red.
    with contextlib.suppress(BrokerError):
        delete_topics(bootstrap, list(names))


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI, a skipped test is a failure: every test must really run there."""
    if not _in_ci():
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter is not None:
            reporter.write_line(
                f"CI: {len(skipped)} test(s) skipped; tests must not skip in CI.", red=True
            )
