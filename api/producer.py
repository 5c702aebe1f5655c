"""Producing ingested events to Kafka, awaited until the broker acknowledged them.

The confluent-kafka producer is idempotent with `acks=all` (from `infra.kafka_clients`);
its delivery callbacks run on a poll thread and resolve asyncio futures on the loop, so a
request handler can `await producer.send(...)` without blocking the loop. A bounded
`message.timeout.ms` turns an unreachable broker into a `BrokerUnavailable` (503), never a
hang or a silent loss.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Protocol

from confluent_kafka import KafkaError, Producer

from api.problems import BrokerUnavailable
from infra.kafka_clients import producer_config


class EventProducer(Protocol):
    """What the ingest route needs: send one message, durable when the await returns."""

    async def send(self, topic: str, key: bytes, value: bytes) -> None: ...

    def close(self) -> None: ...


class KafkaEventProducer:
    """An idempotent confluent-kafka producer with awaitable deliveries."""

    def __init__(self, bootstrap: str, delivery_timeout_s: float) -> None:
        timeout_ms = int(delivery_timeout_s * 1000)
        self._producer = Producer(
            producer_config(
                bootstrap,
                **{
                    "linger.ms": 2,
                    "message.timeout.ms": timeout_ms,
                    "request.timeout.ms": min(timeout_ms, 30_000),
                    "socket.connection.setup.timeout.ms": min(timeout_ms, 30_000),
                    # librdkafka's own log lines go through the service's structured logs.
                    "logger": logging.getLogger("api.kafka.producer"),
                },
            )
        )
        self._retry_after_s = max(1, int(delivery_timeout_s))
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="ingest-producer", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def delivered(err: KafkaError | None, _msg: Any) -> None:
            loop.call_soon_threadsafe(_resolve, future, err)

        try:
            self._producer.produce(topic, value=value, key=key, on_delivery=delivered)
        except BufferError:
            raise BrokerUnavailable(
                "the producer queue is full", headers={"Retry-After": str(self._retry_after_s)}
            ) from None
        try:
            await future
        except _DeliveryFailed as exc:
            raise BrokerUnavailable(
                f"the broker did not acknowledge the event: {exc}",
                headers={"Retry-After": str(self._retry_after_s)},
            ) from None

    def close(self) -> None:
        self._producer.flush(5)
        self._stop.set()
        self._poller.join(timeout=5)


class _DeliveryFailed(Exception):
    pass


def _resolve(future: asyncio.Future[None], err: KafkaError | None) -> None:
    if future.done():
        return
    if err is None:
        future.set_result(None)
    else:
        future.set_exception(_DeliveryFailed(str(err)))
