"""The topic fixtures give each test its own, really created, contract topics."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka.admin import ConfigResource

from infra.kafka_clients import ensure_topics
from infra.probe import quiet_admin
from infra.topics import TOPIC_SPECS, TWIN_POSITIONS

pytestmark = pytest.mark.integration


def test_twin_topics_exist_on_the_broker_under_unique_names(
    kafka_bootstrap: str, twin_topics: dict[str, str], topic_suffix: str
) -> None:
    md = quiet_admin(kafka_bootstrap).list_topics(timeout=10)
    assert set(twin_topics) == {spec.name for spec in TOPIC_SPECS}
    for spec in TOPIC_SPECS:
        real = twin_topics[spec.name]
        assert real == spec.name + topic_suffix
        assert len(md.topics[real].partitions) == spec.partitions


def test_ensure_topics_is_idempotent_and_applies_configs(
    kafka_bootstrap: str, twin_topics: dict[str, str], topic_suffix: str
) -> None:
    assert ensure_topics(kafka_bootstrap, TOPIC_SPECS, suffix=topic_suffix) == set()
    resource = ConfigResource(ConfigResource.Type.TOPIC, twin_topics[TWIN_POSITIONS])
    admin = quiet_admin(kafka_bootstrap)  # keep the handle alive until the result is in
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    assert configs["cleanup.policy"].value == "compact"


def test_new_topic_factory_creates_distinct_topics(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    first, second = new_topic("orders", partitions=2), new_topic("orders", partitions=2)
    assert first != second
    md = quiet_admin(kafka_bootstrap).list_topics(timeout=10)
    assert len(md.topics[first].partitions) == 2
    assert len(md.topics[second].partitions) == 2
