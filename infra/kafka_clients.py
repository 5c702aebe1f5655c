"""Kafka client configuration used across the project, and idempotent topic creation.

Every producer and consumer is built from these factories, so delivery guarantees are
decided in one place: idempotent producers with `acks=all`, consumers that commit only
what the application says it has processed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

from infra.errors import BrokerError
from infra.kafka_security import security_config
from infra.log_limit import KindLimit
from infra.probe import quiet_admin
from infra.topics import TopicSpec


class ClientLogLimiter:
    """One rate limit for the librdkafka logs and client errors of every Kafka client of a
    process (consumers, producers, admin clients: pass `config()` into each).

    librdkafka logs every failed connection attempt of every client: with a consumer per
    partition that was hundreds of lines a second while a broker was down. Here the first
    line of each kind is logged, then at most one reminder per `reminder_s` saying how many
    lines like it were held back. A kind is the log facility plus the text without its
    numbers (ports, durations, client ids), so the same failure of many clients is one kind.
    """

    _THREAD = re.compile(r"^\[thrd:[^\]]*\]:\s*")
    _NUMBERS = re.compile(r"\d+")

    def __init__(
        self,
        logger: logging.Logger | None = None,
        reminder_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger or logging.getLogger("kafka")
        self.reminder_s = reminder_s
        self._limit = KindLimit(reminder_s, clock)

    def config(self) -> dict[str, Any]:
        """The client settings that route its logs and errors here."""
        return {"logger": self, "error_cb": self.error}

    def log(self, level: int, fmt: str, *args: Any) -> None:
        """What confluent-kafka calls for each librdkafka log line (facility, client, text)."""
        if len(args) == 3:
            facility, client, text = (str(a) for a in args)
            text = self._THREAD.sub("", text)
            self._emit(level, f"{facility} {self._NUMBERS.sub('', text)}", f"{client}: {text}")
        else:
            self._emit(level, fmt, fmt % args if args else fmt)

    def error(self, err: KafkaError) -> None:
        """`error_cb`: errors a client reports besides its records (e.g. brokers down)."""
        level = logging.ERROR if err.fatal() else logging.WARNING
        self._emit(level, err.name(), f"Kafka client error {err.name()}: {err.str()}")

    def _emit(self, level: int, kind: str, text: str) -> None:
        admitted = self._limit.admit(kind)
        if admitted is None:
            return
        if admitted.held:
            text += f" ({admitted.held} more like it in the last {admitted.since_s:.0f} s)"
        self.logger.log(level, "%s", text)


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """An idempotent, ordered producer: no duplicates or reordering on retries.

    A short linger lets librdkafka batch under load without adding visible latency;
    lz4 is cheap on CPU and shrinks JSON well.
    """
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        **security_config(),  # TWIN_KAFKA_SECURITY_PROTOCOL, TWIN_KAFKA_SASL_*, ...
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
        **security_config(),  # TWIN_KAFKA_SECURITY_PROTOCOL, TWIN_KAFKA_SASL_*, ...
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
    admin = quiet_admin(bootstrap)
    # Replicated as the cluster allows when created (RF min(3, brokers), min ISR 2 at RF 3).
    brokers = _broker_count(admin, bootstrap, timeout)
    wanted = {
        spec.name + suffix: NewTopic(
            spec.name + suffix,
            num_partitions=spec.partitions,
            replication_factor=spec.replication_factor_on(brokers),
            config=spec.config_on(brokers),
        )
        for spec in specs
    }
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


def _broker_count(admin: Any, bootstrap: str, timeout: float) -> int:
    try:
        return len(admin.list_topics(timeout=timeout).brokers)
    except KafkaException as exc:
        raise BrokerError(f"cannot read metadata from {bootstrap}: {exc}") from exc


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
