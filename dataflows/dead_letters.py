"""Dead-letter messages for `inventory.dlq.v1`, built the same way by every flow.

A dead letter keeps the exact original bytes and the Kafka coordinates they came from, and
is keyed by `topic:partition` so a replay of one source partition keeps its order.

A letter never exceeds `max_bytes` (the DLQ topic's limit, `FlowSettings`): the original is
base64 on the wire (4/3 of its size), so a record of ~750 KB would already be refused by the
producer, and a flow that cannot write a dead letter cannot go on. Such a letter keeps the
first bytes of the original that fit, with the whole record's size and SHA-256, and short
versions of its message and field errors: never dropped, and findable at its coordinates.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import msgspec
from bytewax.connectors.kafka import KafkaError

from dataflows.kafka_io import SinkRecord
from infra.topics import DLQ_MAX_MESSAGE_BYTES
from twin.errors import FieldError
from twin.wire import DeadLetter

# the topic's limit minus room for the record's own framing (`FlowSettings` sets the real one)
DEFAULT_MAX_BYTES = DLQ_MAX_MESSAGE_BYTES - 10_000
# what a cut letter keeps of its text: enough for a person to see what went wrong
_MAX_MESSAGE_CHARS = 2_000
_MAX_ERRORS = 20
_MAX_VALUE_CHARS = 200


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
    max_bytes: int = DEFAULT_MAX_BYTES,
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
    try:
        value = encoder.encode(letter)
    except (TypeError, ValueError):  # a field error's value msgspec cannot write: as text
        letter.errors = [msgspec.structs.replace(e, value=repr(e.value)) for e in letter.errors]
        value = encoder.encode(letter)
    if len(key) + len(value) > max_bytes:
        value = encoder.encode(cut_to_fit(letter, max_bytes - len(key), encoder))
    return SinkRecord(key, value)


def cut_to_fit(letter: DeadLetter, max_bytes: int, encoder: msgspec.json.Encoder) -> DeadLetter:
    """`letter` with its original cut so that it encodes in at most `max_bytes` (see the
    module docstring); `original_size` and `original_sha256` describe the whole record."""
    whole = bytes(letter.original)
    shortened = msgspec.structs.replace(
        letter,
        message=_short(letter.message, _MAX_MESSAGE_CHARS),
        errors=[_short_error(e) for e in letter.errors[:_MAX_ERRORS]],
        original=b"",
        original_size=len(whole),
        original_sha256=hashlib.sha256(whole).hexdigest(),
    )
    overhead = len(encoder.encode(shortened))
    if overhead > max_bytes // 2:  # the texts alone are too long: keep the gist of them
        shortened.errors = []
        shortened.message = _short(shortened.message, _MAX_VALUE_CHARS)
        overhead = len(encoder.encode(shortened))
    # base64: 4 characters per 3 bytes, the last group padded
    room = max(0, (max_bytes - overhead) // 4 * 3)
    return msgspec.structs.replace(shortened, original=whole[:room])


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_error(error: FieldError) -> FieldError:
    value = error.value
    if not (value is None or isinstance(value, bool | int | float)):
        value = _short(str(value), _MAX_VALUE_CHARS)
    return FieldError(
        field=_short(error.field, _MAX_VALUE_CHARS),
        value=value,
        code=_short(error.code, _MAX_VALUE_CHARS),
        message=_short(error.message, _MAX_MESSAGE_CHARS),
    )


def consumer_error_message(
    encoder: msgspec.json.Encoder,
    err: KafkaError[Any, Any],
    now: datetime,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> SinkRecord:
    """A Kafka consumer error, as data: the flow goes on."""
    return dead_letter_message(
        encoder,
        error_code="KAFKA_CONSUMER_ERROR",
        message=f"the Kafka consumer reported an error: {err.err.str()}",
        original=err.msg.value or b"",
        source=err.msg,
        now=now,
        max_bytes=max_bytes,
    )
