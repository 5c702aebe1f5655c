"""Dead-letter messages for `inventory.dlq.v1`, built the same way by every flow.

A dead letter keeps the exact original bytes and the Kafka coordinates they came from, and
is keyed by `topic:partition` so a replay of one source partition keeps its order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from bytewax.connectors.kafka import KafkaError

from dataflows.kafka_io import SinkRecord
from twin.errors import FieldError
from twin.wire import DeadLetter


def dead_letter_message(
    encoder: msgspec.json.Encoder,
    *,
    error_code: str,
    message: str,
    original: bytes,
    source: Any,
    now: datetime,
    errors: list[FieldError] | None = None,
    record_index: int | None = None,
    site: str | None = None,
) -> SinkRecord:
    """`source` is the consumed record (`RawRecord` or `KafkaSourceMessage`)."""
    letter = DeadLetter(
        error_code=error_code,
        message=message,
        original=original,
        source_topic=source.topic or "",
        partition=source.partition if source.partition is not None else -1,
        offset=source.offset if source.offset is not None else -1,
        rejected_at=now,
        errors=errors or [],
        record_index=record_index,
        site=site,
    )
    key = f"{letter.source_topic}:{letter.partition}".encode()
    return SinkRecord(key, encoder.encode(letter))


def consumer_error_message(
    encoder: msgspec.json.Encoder, err: KafkaError, now: datetime
) -> SinkRecord:
    """A Kafka consumer error, as data: the flow goes on."""
    return dead_letter_message(
        encoder,
        error_code="KAFKA_CONSUMER_ERROR",
        message=f"the Kafka consumer reported an error: {err.err.str()}",
        original=err.msg.value or b"",
        source=err.msg,
        now=now,
    )
