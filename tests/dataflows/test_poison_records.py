"""Records that once stopped a flow for good, on the real broker: each lands in the DLQ and a
later good event is still applied.

* an event dated 9999-12-31T23:45:00Z (its window ends past the last representable time),
  and one dated 0001-01-01T00:00:01Z as its SKU's first event, posted to the API feed and
  also written straight onto inventory.events.v1 (as a foreign producer could);
* a ~988 KB 3PL file whose header says UNIT instead of UOM: its dead letter (base64, 4/3 of
  the size) would exceed the DLQ producer's 1,000,000 bytes, so it is cut to fit with the
  whole file's size and SHA-256;
* an event id sent again with other content: a conflict, dead-lettered, never merged.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from bytewax.testing import run_main

from dataflows.production import normalize_flow, twin_flow
from tests.dataflows.kafkakit import produce, read_all
from tests.dataflows.test_flows_on_kafka import bounded_settings, calm_master, latest_from_topic
from twin.wire import DeadLetter, dead_letter_decoder

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def api_event(event_id: str, sku: str, qty: int, occurred_at: str) -> bytes:
    return msgspec.json.encode(
        {
            "event_id": event_id,
            "type": "RECEIVED",
            "sku": sku,
            "site": "WH-01",
            "qty": qty,
            "uom": "each",
            "occurred_at": occurred_at,
        }
    )


def canonical_event(event_id: str, sku: str, occurred_at: str) -> bytes:
    record = msgspec.json.decode(api_event(event_id, sku, 5, occurred_at))
    return msgspec.json.encode({**record, "source": "foreign-producer"})


def dead_letters(bootstrap: str, topic: str) -> list[DeadLetter]:
    return [dead_letter_decoder.decode(m.value()) for m in read_all(bootstrap, topic)]


def run_both_flows(bootstrap: str, suffix: str, tmp_path, master) -> None:
    settings = bounded_settings(bootstrap, suffix, tmp_path, flow_recovery=False)
    run_main(normalize_flow(settings, master))
    run_main(twin_flow(settings, master))


def test_events_dated_year_9999_or_year_1_are_dead_lettered_and_later_events_still_apply(
    kafka_bootstrap, twin_topics, topic_suffix, tmp_path
):
    master = calm_master()
    t = twin_topics
    later = (NOW - timedelta(minutes=1)).isoformat()
    produce(
        kafka_bootstrap,
        t["feeds.api.v1"],
        [
            (None, api_event("far-future", "SKU-00001", 3, "9999-12-31T23:45:00Z")),
            (None, api_event("good-1", "SKU-00001", 7, later)),
            (None, api_event("far-past", "SKU-00002", 3, "0001-01-01T00:00:01Z")),
            (None, api_event("good-2", "SKU-00002", 11, later)),
        ],
    )
    # the same times straight on the events topic, past the normalize flow's checks
    produce(
        kafka_bootstrap,
        t["inventory.events.v1"],
        [
            (b"SKU-00003", canonical_event("raw-future", "SKU-00003", "9999-12-31T23:45:00Z")),
            (b"SKU-00004", canonical_event("raw-past", "SKU-00004", "0001-01-01T00:00:01Z")),
        ],
    )

    run_both_flows(kafka_bootstrap, topic_suffix, tmp_path, master)

    positions = latest_from_topic(kafka_bootstrap, t["twin.positions.v1"])
    assert positions["SKU-00001"].sites["WH-01"].on_hand == 7
    assert positions["SKU-00002"].sites["WH-01"].on_hand == 11
    for sku in ("SKU-00003", "SKU-00004"):
        assert sku not in positions or positions[sku].sites["WH-01"].on_hand == 0
    letters = dead_letters(kafka_bootstrap, t["inventory.dlq.v1"])
    originals = [bytes(x.original) for x in letters]
    for event_id in (b"far-future", b"far-past", b"raw-future", b"raw-past"):
        assert sum(event_id in o for o in originals) == 1, (event_id, letters)
    assert not any(b"good-" in o for o in originals)
    assert all(x.source_topic and x.offset >= 0 for x in letters)


def test_a_988_kb_3pl_file_with_a_bad_header_is_dead_lettered_cut_to_fit(
    kafka_bootstrap, twin_topics, topic_suffix, tmp_path
):
    master = calm_master()
    t = twin_topics
    header = b"TXN_ID,WHSE,ITEM,TXN_TYPE,QTY,UNIT,TXN_TS\n"
    row = b"T%07d,TPL01,SKU-00001,REC,5,EA,11/16/2026 06:00:00\n"
    body = b"".join(row % n for n in range((988_000 - len(header)) // len(row % 0)))
    big_file = header + body
    assert 950_000 < len(big_file) <= 988_000
    produce(kafka_bootstrap, t["feeds.3pl.v1"], [(None, big_file)])
    good = api_event("good-after-big", "SKU-00001", 9, (NOW - timedelta(minutes=1)).isoformat())
    produce(kafka_bootstrap, t["feeds.api.v1"], [(None, good)])

    run_both_flows(kafka_bootstrap, topic_suffix, tmp_path, master)

    positions = latest_from_topic(kafka_bootstrap, t["twin.positions.v1"])
    assert positions["SKU-00001"].sites["WH-01"].on_hand == 9
    (letter,) = dead_letters(kafka_bootstrap, t["inventory.dlq.v1"])
    assert letter.source_topic == t["feeds.3pl.v1"]
    assert "UOM" in letter.message
    assert letter.original_size == len(big_file)
    assert letter.original_sha256 == hashlib.sha256(big_file).hexdigest()
    assert 600_000 < len(letter.original) < len(big_file)
    assert big_file.startswith(bytes(letter.original))


def test_an_event_id_reused_with_other_content_lands_in_the_dlq_as_a_conflict(
    kafka_bootstrap, twin_topics, topic_suffix, tmp_path
):
    master = calm_master()
    t = twin_topics
    at = (NOW - timedelta(minutes=5)).isoformat()
    later = (NOW - timedelta(minutes=1)).isoformat()
    first = api_event("reused-1", "SKU-00005", 5, at)
    resend = api_event("reused-1", "SKU-00005", 5, at)  # the same event again: a duplicate
    other = api_event("reused-1", "SKU-00005", 9, at)  # the same id, other content
    # keyed by SKU, as the API produces them: one partition, so the first one sent is the one
    # applied and the other content is the conflict
    key = b"SKU-00005"
    produce(
        kafka_bootstrap,
        t["feeds.api.v1"],
        [
            (key, first),
            (key, resend),
            (key, other),
            (key, api_event("next", "SKU-00005", 2, later)),
        ],
    )

    run_both_flows(kafka_bootstrap, topic_suffix, tmp_path, master)

    positions = latest_from_topic(kafka_bootstrap, t["twin.positions.v1"])
    assert positions["SKU-00005"].sites["WH-01"].on_hand == 5 + 2
    letters = dead_letters(kafka_bootstrap, t["inventory.dlq.v1"])
    conflicts = [x for x in letters if x.error_code == "event_id_conflict"]
    assert len(conflicts) == 1, letters
    assert b"reused-1" in bytes(conflicts[0].original)
    assert msgspec.json.decode(bytes(conflicts[0].original))["qty"] == 9
    assert conflicts[0].source_topic == t["inventory.events.v1"] and conflicts[0].offset >= 0
