"""Kafka client configuration used across the project, and idempotent topic creation.

Every producer and consumer is built from these factories, so delivery guarantees are
decided in one place: idempotent producers with `acks=all`, consumers that commit only
what the application says it has processed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

from infra.errors import BrokerError
from infra.probe import quiet_admin
from infra.topics import TopicSpec


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """An idempotent, ordered producer: no duplicates or reordering on retries.

    A short linger lets librdkafka batch under load without adding visible latency;
    lz4 is cheap on CPU and shrinks JSON well.
    """
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.size": 256 * 1024,
        "compression.type": "lz4",
        "message.timeout.ms": 120_000,
        "queue.buffering.max.messages": 500_000,
    }
    config.update(overrides)
    return config


def consumer_config(bootstrap: str, group_id: str, **overrides: Any) -> dict[str, Any]:
    """A consumer that starts from the earliest offset and commits explicitly.

    `enable.auto.offset.store=False`: offsets are stored only for messages the caller has
    handled (`consumer.store_offsets(msg)`), then auto-committed in the background, so a
    crash re-reads what was not yet handled instead of skipping it.
    """
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "session.timeout.ms": 10_000,
        "fetch.wait.max.ms": 100,
    }
    config.update(overrides)
    return config


def ensure_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec],
    suffix: str = "",
    timeout: float = 30.0,
) -> set[str]:
    """Create the topics that do not exist yet; return the names created now.

    Idempotent: an existing topic is left as it is. Returns once every topic has a leader
    for all its partitions, so a producer can write to it immediately.
    """
    wanted = {
        spec.name + suffix: NewTopic(
            spec.name + suffix,
            num_partitions=spec.partitions,
            replication_factor=1,
            config=dict(spec.config),
        )
        for spec in specs
    }
    admin = quiet_admin(bootstrap)
    created: set[str] = set()
    try:
        futures = admin.create_topics(list(wanted.values()), operation_timeout=timeout)
    except KafkaException as exc:
        raise BrokerError(f"cannot create topics on {bootstrap}: {exc}") from exc
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
            created.add(name)
        except KafkaException as exc:
            err = exc.args[0]
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise BrokerError(f"cannot create topic {name} on {bootstrap}: {exc}") from exc
    _await_leaders(admin, wanted, created, bootstrap, time.monotonic() + timeout)
    return created


def delete_topics(bootstrap: str, names: Iterable[str], timeout: float = 10.0) -> None:
    """Delete topics (best effort: missing ones are ignored)."""
    names = list(names)
    if not names:
        return
    admin = quiet_admin(bootstrap)  # must outlive the futures, or they fail with _DESTROY
    futures = admin.delete_topics(names, operation_timeout=timeout)
    for future in futures.values():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            err = exc.args[0]
            if not (isinstance(err, KafkaError) and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART):
                raise BrokerError(f"cannot delete topics on {bootstrap}: {exc}") from exc


def _await_leaders(
    admin: Any, wanted: dict[str, NewTopic], created: set[str], bootstrap: str, deadline: float
) -> None:
    while True:
        try:
            md = admin.list_topics(timeout=max(0.5, deadline - time.monotonic()))
        except KafkaException as exc:
            raise BrokerError(f"cannot read metadata from {bootstrap}: {exc}") from exc
        missing = [
            name
            for name, topic in wanted.items()
            if name not in md.topics
            or not md.topics[name].partitions
            or (name in created and len(md.topics[name].partitions) < topic.num_partitions)
            or any(p.leader < 0 for p in md.topics[name].partitions.values())
        ]
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise BrokerError(f"topics without a leader on {bootstrap}: {', '.join(missing)}")
        time.sleep(0.05)
