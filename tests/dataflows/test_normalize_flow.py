"""The normalize flow with Bytewax's testing source and sink, on 1 and 2 workers."""

from __future__ import annotations

import random

import msgspec
import pytest
from bytewax.connectors.kafka import KafkaError, KafkaSourceMessage
from confluent_kafka import KafkaError as ConfluentKafkaError

from dataflows.kafka_io import SinkRecord
from dataflows.normalize import build_normalize_flow
from tests.dataflows.flowkit import RecordSink, kafka_messages, run, source
from tests.dataflows.scripted import raw_feeds, script_events
from twin.events import InventoryEvent
from twin.masterdata_gen import generate_master_data
from twin.wire import dead_letter_decoder

_events = msgspec.json.Decoder(InventoryEvent)


@pytest.fixture(scope="module")
def master():
    return generate_master_data(sites=5, skus=40, seed=11)


@pytest.fixture(scope="module")
def feeds(master):
    rng = random.Random(5)
    return raw_feeds(master, script_events(master, rng, 600), rng, dup_rate=0.05)


def _run(master, feeds, workers: int):
    events: list[SinkRecord] = []
    dlq: list[SinkRecord] = []
    flow = build_normalize_flow(
        {
            "api": source(kafka_messages("feeds.api.v1", feeds.api)),
            "batch": source(kafka_messages("feeds.batch.v1", feeds.batch)),
            "3pl": source(kafka_messages("feeds.3pl.v1", feeds.threepl)),
        },
        RecordSink(events),
        RecordSink(dlq),
        master,
    )
    run(flow, workers)
    return events, dlq


@pytest.mark.parametrize("workers", [1, 2])
def test_every_record_becomes_a_canonical_event_or_a_dead_letter(master, feeds, workers):
    events, dlq = _run(master, feeds, workers)

    decoded = [_events.decode(m.value) for m in events]
    assert all(m.key == e.sku.encode() for m, e in zip(events, decoded, strict=True))
    assert sorted(e.event_id for e in decoded) == sorted(e.event_id for e in feeds.canonical)
    assert len(events) + len(dlq) == feeds.records()
    letters = [dead_letter_decoder.decode(m.value) for m in dlq]
    assert sorted(bytes(x.original) for x in letters) == sorted(feeds.malformed)
    assert {x.source_topic for x in letters} == {"feeds.api.v1", "feeds.batch.v1", "feeds.3pl.v1"}
    assert all(x.offset >= 0 and x.error_code and x.message for x in letters)
    # a dead letter names its site when the record tells it, for per-site DLQ counts
    assert {x.site for x in letters} - {None} <= {s.id for s in master.sites}
    assert any(x.site is not None for x in letters)


def test_one_and_two_workers_give_the_same_output(master, feeds):
    one = _run(master, feeds, 1)
    two = _run(master, feeds, 2)
    assert sorted(m.value for m in one[0]) == sorted(m.value for m in two[0])
    assert sorted(dead_letter_decoder.decode(m.value).original for m in one[1]) == sorted(
        dead_letter_decoder.decode(m.value).original for m in two[1]
    )


def test_a_consumer_error_is_dead_lettered_and_the_flow_goes_on(master):
    good = (
        b'{"event_id":"e1","type":"RECEIVED","sku":"SKU-00001","site":"WH-01","qty":3,'
        b'"uom":"each","occurred_at":"2026-11-16T12:00:00Z"}'
    )
    broken = KafkaError(
        ConfluentKafkaError(ConfluentKafkaError._MSG_TIMED_OUT, "fetch failed"),
        KafkaSourceMessage(
            key=None, value=b"\x00garbage", topic="feeds.api.v1", partition=2, offset=41
        ),
    )
    events: list[SinkRecord] = []
    dlq: list[SinkRecord] = []
    items = [broken, *kafka_messages("feeds.api.v1", [b"not json", good])]
    flow = build_normalize_flow({"api": source(items)}, RecordSink(events), RecordSink(dlq), master)
    run(flow, 1)

    assert [_events.decode(m.value).event_id for m in events] == ["e1"]
    letters = [dead_letter_decoder.decode(m.value) for m in dlq]
    assert letters[0].error_code == "KAFKA_CONSUMER_ERROR"
    assert (letters[0].original, letters[0].partition, letters[0].offset) == (b"\x00garbage", 2, 41)
    assert letters[1].original == b"not json"
