"""The middleware batch feed (`feeds.batch.v1`): one batch of canonical events per message.

`{"batch_id": ..., "site": ..., "sent_at": ..., "records": [events]}`. Each record is judged
on its own and a rejected record keeps its exact original bytes (the records are decoded as
`msgspec.Raw` first). A record must be of the batch's site; `source` defaults to
`batch:<site>` and `recorded_at` to the batch's `sent_at` (when the middleware posted it).
A message whose envelope is unreadable is rejected whole (`record_index` None).
"""

from __future__ import annotations

from typing import Any

import msgspec

from twin.events import AwareDatetime, NonEmpty
from twin.masterdata import MasterIndex
from twin.normalize.common import NormalizeResult, json_record, rejection
from twin.validation import DECODE_FAILURES, explain_failure

SOURCE_PREFIX = "batch"


class Batch(msgspec.Struct, frozen=True, kw_only=True):
    """A middleware batch; records stay raw bytes until each is judged on its own."""

    batch_id: NonEmpty
    site: NonEmpty
    sent_at: AwareDatetime
    records: list[msgspec.Raw]


class _BatchShape(msgspec.Struct, frozen=True, kw_only=True):
    # The same envelope with records as plain values: used only to explain a failure.
    batch_id: NonEmpty
    site: NonEmpty
    sent_at: AwareDatetime
    records: list[Any]


batch_decoder = msgspec.json.Decoder(Batch)


def normalize_batch(index: MasterIndex, raw: bytes) -> NormalizeResult:
    """Canonical events and per-record rejections for one batch message."""
    result = NormalizeResult()
    try:
        batch = batch_decoder.decode(raw)
    except DECODE_FAILURES:
        result.rejections.append(rejection(explain_failure(raw, _BatchShape, array=False), raw))
        return result
    for i, record in enumerate(batch.records):
        original = bytes(record)
        outcome = json_record(
            index,
            original,
            source_prefix=SOURCE_PREFIX,
            site=batch.site,
            recorded_at=batch.sent_at,
        )
        if isinstance(outcome, list):
            result.rejections.append(rejection(outcome, original, i))
        else:
            result.events.append(outcome)
    return result
