"""Hostile records through both real flows on the real broker: the flows stay up and every
record is accounted for.

Hypothesis writes random and hostile records onto all three raw feeds and straight onto
inventory.events.v1 (as a foreign producer could): random bytes, events with huge or
fractional numbers, timestamps from year 1 to 9999 and unparseable ones, wrong types, long
strings, CSV junk and bad headers for the 3PL feed, batches mixing good and bad records.
Both flows then run to the end of their input (a crash would raise out of `run_main`) and
the output topics must add up:

* normalize: the records of the raw messages (as the normalizer counts them, or one for a
  message it fails on) = events it wrote + dead letters of raw records;
* twin: records on inventory.events.v1 = applied + duplicates + dead letters of events,
  where applied and duplicates are the site metrics' figures and every event a shard did
  not apply is one dead letter;
* a good event written after all of it is applied.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from bytewax.testing import run_main
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dataflows.production import normalize_flow, twin_flow
from infra.kafka_clients import delete_topics, ensure_topics
from infra.topics import RAW_FEEDS, TOPIC_SPECS, topic_names
from tests.dataflows.kafkakit import produce, read_all
from tests.dataflows.test_flows_on_kafka import bounded_settings, calm_master, latest_from_topic
from twin.normalize import Normalizer
from twin.wire import SiteMetric, dead_letter_decoder, metric_decoder

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MASTER = calm_master()
SKUS = [s.id for s in MASTER.skus[:5]]
SITES = [s.id for s in MASTER.sites]
SENTINEL_SKU = MASTER.skus[-1].id  # only the final good event touches it
PARTNER = MASTER.partners[0]
WAREHOUSES = list(PARTNER.warehouses)
NOW = datetime.now(UTC).replace(microsecond=0)
# the whole range hypothesis can draw (it wants the bounds without a zone)
FIRST = datetime.min.replace(tzinfo=UTC).replace(tzinfo=None)
LAST = datetime.max.replace(tzinfo=UTC).replace(tzinfo=None)

KILLER = {
    "event_id": "killer",
    "type": "RECEIVED",
    "sku": SKUS[0],
    "site": "WH-01",
    "qty": 1,
    "uom": "each",
    "source": "fuzz",
}

odd_times = st.one_of(
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:01Z",
            "9999-12-31T23:45:00Z",
            "9999-12-31T23:59:59.999999Z",
            "1999-12-31T23:59:59Z",
            "2100-01-01T00:00:01Z",
            "2026-13-45T99:00:00Z",
            "2026-11-26T10:00:00",  # no zone
            "",
        ]
    ),
    st.datetimes(FIRST, LAST, timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.integers(-10, 10).map(lambda h: (NOW + timedelta(hours=h)).isoformat()),
)
odd_numbers = st.one_of(
    st.integers(-5, 50),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, -0.0, 1e308, 2**63, 2**64, -(2**63) - 1]),
)
odd_strings = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "x" * 129, "\x00", "☃" * 50, "WH-01\n", "SKU-00001 "]),
    st.just("y" * 20_000),
)
wrong_types = st.one_of(st.none(), st.booleans(), st.lists(st.integers(), max_size=3), odd_numbers)


def event_dicts() -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            "event_id": st.one_of(st.sampled_from(["dup-1", "dup-2", "dup-3"]), odd_strings),
            "type": st.one_of(
                st.sampled_from(["RECEIVED", "SHIPPED", "COUNTED", "TRANSFER_SHIPPED", "NOPE"]),
                wrong_types,
            ),
            "sku": st.one_of(st.sampled_from(SKUS), odd_strings, wrong_types),
            "site": st.one_of(st.sampled_from(SITES), odd_strings),
            "qty": st.one_of(odd_numbers, wrong_types),
            "uom": st.sampled_from(["each", "case", "EA", "", "parsec"]),
            "occurred_at": st.one_of(odd_times, wrong_types),
        },
        optional={
            "recorded_at": odd_times,
            "to_site": st.one_of(st.sampled_from(SITES), odd_strings),
            "transfer_id": odd_strings,
            "source": odd_strings,
        },
    )


def api_messages() -> st.SearchStrategy[bytes]:
    return st.one_of(
        event_dicts().map(msgspec.json.encode),
        st.binary(max_size=200),
        st.lists(event_dicts(), max_size=4).map(msgspec.json.encode),
    )


def batch_messages() -> st.SearchStrategy[bytes]:
    envelope = st.fixed_dictionaries(
        {
            "batch_id": odd_strings,
            "site": st.sampled_from(SITES),
            "sent_at": odd_times,
            "records": st.lists(event_dicts(), max_size=6),
        }
    )
    return st.one_of(envelope.map(msgspec.json.encode), st.binary(max_size=200))


def csv_cell() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([*WAREHOUSES, *SKUS, "REC", "SHP", "CNT", "EA", "CS", "5", "-3", "1.5"]),
        st.sampled_from(["11/16/2026 06:00:00", "02/30/2026 25:61:00", "3927762424"]),
        st.text(alphabet=st.characters(blacklist_characters=",\n\r"), max_size=12),
    )


def threepl_messages() -> st.SearchStrategy[bytes]:
    header = st.sampled_from(
        [
            "TXN_ID,WHSE,ITEM,TXN_TYPE,QTY,UOM,TXN_TS",
            "TXN_ID,WHSE,ITEM,TXN_TYPE,QTY,UNIT,TXN_TS",
            "TXN_ID,WHSE,ITEM,TXN_TYPE,QTY,UOM,TXN_TS,TO_WHSE,XFER_ID",
            "",
        ]
    )
    rows = st.lists(st.lists(csv_cell(), min_size=0, max_size=10).map(",".join), max_size=8)
    files = st.tuples(header, rows).map(lambda hr: "\n".join([hr[0], *hr[1]]).encode())
    return st.one_of(files, st.binary(max_size=300))


def canonical_messages() -> st.SearchStrategy[bytes]:
    """Straight onto inventory.events.v1: a source fills in the field the normalizer would."""
    with_source = event_dicts().map(lambda d: {"source": "fuzz", **d})
    return st.one_of(with_source.map(msgspec.json.encode), st.binary(max_size=200))


def expected_records(normalizer: Normalizer, feed: str, raw: bytes) -> int:
    """How many records the normalizer makes of one raw message (one if it fails on it)."""
    try:
        result = normalizer.normalize(feed, raw)  # type: ignore[arg-type]
    except Exception:
        return 1
    return len(result.events) + len(result.rejections)


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
@example(  # the records that once stopped the flows for good
    api=[
        msgspec.json.encode(
            {**KILLER, "occurred_at": "9999-12-31T23:45:00Z", "event_id": "api-future"}
        )
    ],
    batch=[],
    threepl=[b"TXN_ID,WHSE,ITEM,TXN_TYPE,QTY,UNIT,TXN_TS\nT1,TPL01,X,REC,5,EA,11/16/2026 06:00:00"],
    canonical=[
        msgspec.json.encode({**KILLER, "occurred_at": "0001-01-01T00:00:01Z"}),
        msgspec.json.encode({**KILLER, "occurred_at": "9999-12-31T23:45:00Z", "sku": SKUS[1]}),
    ],
)
@given(
    api=st.lists(api_messages(), max_size=40),
    batch=st.lists(batch_messages(), max_size=8),
    threepl=st.lists(threepl_messages(), max_size=8),
    canonical=st.lists(canonical_messages(), max_size=40),
)
def test_hostile_records_never_stop_the_flows_and_every_record_is_accounted_for(
    kafka_bootstrap, tmp_path_factory, api, batch, threepl, canonical
):
    suffix = f".f{uuid.uuid4().hex[:12]}"
    t = topic_names(suffix)
    ensure_topics(kafka_bootstrap, TOPIC_SPECS, suffix=suffix)
    try:
        good = msgspec.json.encode(
            {
                "event_id": "the-good-one",
                "type": "RECEIVED",
                "sku": SENTINEL_SKU,
                "site": "WH-01",
                "qty": 3,
                "uom": "each",
                "occurred_at": (NOW - timedelta(minutes=5)).isoformat(),
            }
        )
        feeds = {"api": [*api, good], "batch": batch, "3pl": threepl}
        topic_of = {"api": RAW_FEEDS[0], "batch": RAW_FEEDS[1], "3pl": RAW_FEEDS[2]}
        for feed, messages in feeds.items():
            produce(kafka_bootstrap, t[topic_of[feed]], ((None, m) for m in messages))
        events_topic = t["inventory.events.v1"]
        produce(kafka_bootstrap, events_topic, ((None, m) for m in canonical))

        state = tmp_path_factory.mktemp("fuzz")
        flow_settings = bounded_settings(kafka_bootstrap, suffix, state, flow_recovery=False)
        run_main(normalize_flow(flow_settings, MASTER))
        run_main(twin_flow(flow_settings, MASTER))

        normalizer = Normalizer(MASTER)
        records_in = sum(
            expected_records(normalizer, feed, m) for feed, ms in feeds.items() for m in ms
        )
        events = read_all(kafka_bootstrap, events_topic)
        letters = [
            dead_letter_decoder.decode(m.value())
            for m in read_all(kafka_bootstrap, t["inventory.dlq.v1"])
        ]
        raw_topics = {t[name] for name in RAW_FEEDS}
        raw_letters = [x for x in letters if x.source_topic in raw_topics]
        event_letters = [x for x in letters if x.source_topic == events_topic]
        assert len(raw_letters) + len(event_letters) == len(letters)
        assert records_in == len(events) - len(canonical) + len(raw_letters)

        site_metrics = [
            m
            for m in (
                metric_decoder.decode(x.value())
                for x in read_all(kafka_bootstrap, t["twin.metrics.v1"])
            )
            if isinstance(m, SiteMetric)
        ]
        seen = sum(m.events for m in site_metrics)
        duplicates = sum(m.duplicates for m in site_metrics)
        not_applied = sum(m.exceptions for m in site_metrics)
        applied = seen - duplicates - not_applied
        shard_letters = [x for x in event_letters if x.site is not None]
        assert not_applied == len(shard_letters)
        assert len(events) == applied + duplicates + len(event_letters)

        positions = latest_from_topic(kafka_bootstrap, t["twin.positions.v1"])
        assert positions[SENTINEL_SKU].sites["WH-01"].on_hand == 3
    finally:
        delete_topics(kafka_bootstrap, t.values())
