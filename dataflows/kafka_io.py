"""Kafka sources and sinks of the flows, built from the project's client configuration.

Flow builders take sources and sinks as parameters (tests pass Bytewax testing ones); these
factories are what production passes. Sources never raise on consumer errors: errors come
into the flow as `KafkaError` items and end up in the dead-letter topic like any bad record.
"""

from __future__ import annotations

from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource
from confluent_kafka import OFFSET_BEGINNING

from dataflows.settings import FlowSettings
from infra.kafka_clients import producer_config

SinkMessage = KafkaSinkMessage[bytes, bytes]


def kafka_source(settings: FlowSettings, topics: list[str]) -> KafkaSource:
    """Read `topics` from the beginning; offsets are kept by Bytewax recovery, not a group."""
    return KafkaSource(
        settings.brokers(),
        topics,
        tail=not settings.flow_stop_at_end,
        starting_offset=OFFSET_BEGINNING,
        add_config={
            # Larger fetches: the flow is throughput-bound on Python, not on the network.
            "fetch.min.bytes": "1",
            "fetch.wait.max.ms": "20",
            "queued.min.messages": "20000",
            "log_level": "3",
        },
        batch_size=settings.flow_consume_batch,
        raise_on_errors=False,
    )


def kafka_sink(settings: FlowSettings, topic: str) -> KafkaSink:
    """An idempotent `acks=all` producer sink (the project-wide producer configuration)."""
    config = producer_config(
        settings.kafka_bootstrap, **{"enable.idempotence": True, "acks": "all"}
    )
    return KafkaSink(settings.brokers(), topic, add_config=config)
