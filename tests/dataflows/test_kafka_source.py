"""The batch source's resume position (only real offsets move it) and its client settings."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError as ConfluentKafkaError

from dataflows.kafka_io import _BatchPartition, kafka_source
from dataflows.settings import FlowSettings
from infra.kafka_clients import ClientLogLimiter


@dataclass
class _Message:
    """The accessors of a confluent-kafka `Message` the source reads."""

    _offset: int
    _error: ConfluentKafkaError | None = None

    def error(self) -> ConfluentKafkaError | None:
        return self._error

    def offset(self) -> int:
        return self._offset

    def key(self) -> None:
        return None

    def value(self) -> bytes:
        return b"{}"

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return 0


class _Consumer:
    def __init__(self, batches: list[list[_Message]]) -> None:
        self.batches = batches

    def consume(self, num_messages: int, timeout: float) -> list[_Message]:
        return self.batches.pop(0) if self.batches else []


def test_an_error_without_an_offset_does_not_move_the_resume_position() -> None:
    # the constructor builds a real consumer (nothing listens there)
    config = {"bootstrap.servers": "127.0.0.1:1", "group.id": "unused"}
    part = _BatchPartition("read", config, "t", 0, 0, 41, 500, False)
    part._consumer.close()  # replaced by a scripted consumer below
    transport = ConfluentKafkaError(ConfluentKafkaError._TRANSPORT)
    part._consumer = _Consumer(  # type: ignore[assignment]
        [
            [_Message(41), _Message(42)],
            [_Message(-1001, transport)],  # e.g. a broker going away: no offset
            [_Message(43), _Message(-1001, transport)],
        ]
    )
    assert len(part.next_batch()[0]) == 2
    assert part.snapshot() == 43
    (batch,) = part.next_batch()
    assert len(batch) == 1  # the error still goes down the flow, to the dead-letter topic
    assert part.snapshot() == 43  # not -1000 ("stored offset"), which would skip to the end
    part.next_batch()
    assert part.snapshot() == 43  # a trailing error leaves the position after the last record
    part._consumer = _Consumer([[_Message(44)]])  # type: ignore[assignment]
    part.next_batch()
    assert part.snapshot() == 45


def test_the_flow_sources_take_the_security_settings_and_the_log_limit(monkeypatch) -> None:
    monkeypatch.setenv("TWIN_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("TWIN_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    logs = ClientLogLimiter()
    source = kafka_source(FlowSettings(), ["feeds.api.v1"], logs)
    config = source._add_config
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["logger"] is logs and config["error_cb"] == logs.error
