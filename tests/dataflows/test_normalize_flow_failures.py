"""A record the normalizer raises on (a bug of ours) becomes a `processing_failed` dead letter
with its exact bytes and coordinates, and the records around it are normalized as usual."""

from __future__ import annotations

import msgspec
import pytest

from dataflows.kafka_io import SinkRecord
from dataflows.normalize import build_normalize_flow
from tests.dataflows.flowkit import RecordSink, kafka_messages, run, source
from twin.masterdata_gen import generate_master_data
from twin.normalize import Normalizer
from twin.wire import dead_letter_decoder

TOPIC = "feeds.api.v1"


def api_event(event_id: str) -> bytes:
    return msgspec.json.encode(
        {
            "event_id": event_id,
            "type": "RECEIVED",
            "sku": "SKU-00001",
            "site": "WH-01",
            "qty": 1,
            "uom": "each",
            "occurred_at": "2026-11-26T10:00:00Z",
        }
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_a_record_the_normalizer_raises_on_is_dead_lettered_and_the_others_normalized(
    monkeypatch, workers
):
    master = generate_master_data(sites=3, skus=5, seed=1)
    normalize = Normalizer.normalize

    def buggy(self, feed, raw, **kw):
        if b"boom" in raw:
            raise RecursionError("maximum recursion depth exceeded")
        return normalize(self, feed, raw, **kw)

    monkeypatch.setattr(Normalizer, "normalize", buggy)
    records = [api_event("e-1"), api_event("boom"), api_event("e-2")]
    events: list[SinkRecord] = []
    dlq: list[SinkRecord] = []
    flow = build_normalize_flow(
        {"api": source(kafka_messages(TOPIC, records))}, RecordSink(events), RecordSink(dlq), master
    )
    run(flow, workers)

    assert len(events) == 2
    (letter,) = [dead_letter_decoder.decode(m.value) for m in dlq]
    assert letter.error_code == "processing_failed"
    assert "RecursionError" in letter.message
    assert bytes(letter.original) == records[1]
    assert (letter.source_topic, letter.partition, letter.offset) == (TOPIC, 0, 1)
