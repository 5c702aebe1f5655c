"""The middleware batch feed (`feeds.batch.v1`): one batch of canonical events per message.

`{"batch_id": ..., "site": ..., "sent_at": ..., "records": [events]}`. Each record is judged
on its own and a rejected record keeps its exact original bytes (the records are decoded as
`msgspec.Raw` first). A record must be of the batch's site; `source` defaults to
`batch:<site>` and `recorded_at` to the batch's `sent_at` (when the middleware posted it).
A message whose envelope is unreadable is rejected whole (`record_index` None). A bare
record (an object with `event_id` and no `records`) is a rejected record replayed from the
DLQ on its own: it is read as a one-record batch of its own site, without `sent_at`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from twin.events import AwareDatetime, NonEmpty
from twin.masterdata import MasterIndex
from twin.normalize.common import NormalizeResult, json_record, rejection, site_of_record
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
        if _is_bare_record(raw):
            _add(result, index, raw, 0, site=None, sent_at=None)
        else:
            errors = explain_failure(raw, _BatchShape, array=False)
            result.rejections.append(rejection(errors, raw))
        return result
    for i, record in enumerate(batch.records):
        _add(result, index, bytes(record), i, site=batch.site, sent_at=batch.sent_at)
    return result


def _add(
    result: NormalizeResult,
    index: MasterIndex,
    original: bytes,
    record_index: int,
    *,
    site: str | None,
    sent_at: datetime | None,
) -> None:
    outcome = json_record(
        index, original, source_prefix=SOURCE_PREFIX, site=site, recorded_at=sent_at
    )
    if isinstance(outcome, list):
        known = site if site in index.sites else site_of_record(index, original)
        result.rejections.append(rejection(outcome, original, record_index, site=known))
    else:
        result.events.append(outcome)


def _is_bare_record(raw: bytes) -> bool:
    # A record without its envelope: one rejected record replayed from the DLQ on its own.
    try:
        shape = _probe_decoder.decode(raw)
    except DECODE_FAILURES:
        return False
    return shape.event_id is not None and shape.records is None


class _Probe(msgspec.Struct):
    event_id: Any = None
    records: Any = None


_probe_decoder = msgspec.json.Decoder(_Probe)
