"""Normalizers: realistic API, batch and 3PL messages in, canonical events or rejections out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from twin.events import EventType, InventoryEvent, encode_event
from twin.masterdata import load_master_data, parse_master_data
from twin.normalize import Normalizer, NormalizeResult, dead_letter
from twin.normalize.threepl import LocalTimestamps
from twin.wire import dead_letter_decoder

NETWORK = """
sites:
  - {id: WH-01, feed_mode: api, expected_interval_s: 60, timezone: America/New_York}
  - {id: WH-02, feed_mode: batch, expected_interval_s: 900, timezone: America/Denver}
  - {id: TPL-01, feed_mode: 3pl, expected_interval_s: 3600, timezone: America/Chicago,
     partner: ACME}
skus:
  - {id: SKU-1, base_uom: each, uom_factors: {each: 1, case: 12, pallet: 480}, unit_value: 10.0}
  - {id: SKU-2, base_uom: each, uom_factors: {each: 1, case: 30}, unit_value: 2.5}
aliases:
  - {scope: WH-01, code: A-100, sku: SKU-1}
  - {scope: WH-02, code: B-200, sku: SKU-2}
  - {scope: ACME, code: "0007", sku: SKU-1}
partners:
  - id: ACME
    site: TPL-01
    txn_types: {REC: RECEIVED, PUT: PUT_AWAY, SHP: SHIPPED, PCK: PICKED, ADJ: ADJUSTED,
                CNT: COUNTED, HLD: QUALITY_HOLD, REL: QUALITY_RELEASE, RET: RETURNED,
                TRO: TRANSFER_SHIPPED, TRI: TRANSFER_RECEIVED}
    timezone: America/Chicago
    timestamp_format: "%m/%d/%Y %H:%M:%S"
    uom_codes: {EA: each, CS: case, PL: pallet}
    warehouses: {DAL1: TPL-01, NYC1: WH-01}
"""


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer(parse_master_data(NETWORK))


def api_json(**changes: Any) -> bytes:
    record = {
        "event_id": "E-1",
        "type": "RECEIVED",
        "sku": "SKU-1",
        "site": "WH-01",
        "qty": 2,
        "uom": "case",
        "occurred_at": "2026-11-26T10:00:00Z",
        **changes,
    }
    return json.dumps({k: v for k, v in record.items() if v is not ...}).encode()


def codes(result: NormalizeResult) -> list[str]:
    return [r.error_code for r in result.rejections]


# --------------------------------------------------------------------------- API feed


def test_api_event_in_cases_becomes_base_units_with_a_default_source(
    normalizer: Normalizer,
) -> None:
    result = normalizer.normalize("api", api_json())
    assert result.rejections == []
    assert result.events == [
        InventoryEvent(
            event_id="E-1",
            type=EventType.RECEIVED,
            sku="SKU-1",
            site="WH-01",
            qty=24,
            uom="each",
            occurred_at=datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
            source="wms-api:WH-01",
        )
    ]


def test_api_site_local_code_maps_to_the_canonical_sku(normalizer: Normalizer) -> None:
    (event,) = normalizer.normalize("api", api_json(sku="A-100", uom="pallet", qty=1)).events
    assert (event.sku, event.qty, event.uom) == ("SKU-1", 480, "each")


def test_api_keeps_a_given_source_and_the_transfer_fields(normalizer: Normalizer) -> None:
    raw = api_json(
        type="TRANSFER_SHIPPED", to_site="WH-02", transfer_id="T-1", source="wms-api:WH-01/v2"
    )
    (event,) = normalizer.normalize("api", raw).events
    assert (event.source, event.to_site, event.transfer_id) == ("wms-api:WH-01/v2", "WH-02", "T-1")


def test_api_signed_adjustment_stays_signed(normalizer: Normalizer) -> None:
    (event,) = normalizer.normalize("api", api_json(type="ADJUSTED", qty=-1.5)).events
    assert event.qty == -18


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"sku": "A-100", "site": "TPL-01"}, "unknown_sku", "sku"),  # alias of WH-01 only
        ({"sku": "NOPE"}, "unknown_sku", "sku"),
        ({"site": "WH-09"}, "unknown_site", "site"),
        ({"uom": "crate"}, "unknown_uom", "uom"),
        ({"uom": "each", "qty": 1.5}, "fractional_qty", "qty"),
        ({"qty": 0}, "qty_not_positive", "qty"),
        (
            {"type": "TRANSFER_SHIPPED", "to_site": "WH-09", "transfer_id": "T"},
            "unknown_site",
            "to_site",
        ),
        ({"occurred_at": "2026-11-26 10:00"}, "datetime", "occurred_at"),
        ({"event_id": ...}, "missing", "event_id"),
    ],
)
def test_api_bad_event_is_rejected_with_its_bytes(
    normalizer: Normalizer, changes: dict[str, Any], code: str, field: str
) -> None:
    raw = api_json(**changes)
    result = normalizer.normalize("api", raw)
    assert result.events == []
    (rejection,) = result.rejections
    assert (rejection.error_code, rejection.errors[0].field) == (code, field)
    assert rejection.original == raw
    assert rejection.record_index is None
    assert rejection.message


def test_api_rejection_lists_every_master_data_problem(normalizer: Normalizer) -> None:
    result = normalizer.normalize("api", api_json(sku="NOPE", site="WH-09"))
    assert [e.code for e in result.rejections[0].errors] == ["unknown_site", "unknown_sku"]


def test_api_malformed_json_is_one_rejection(normalizer: Normalizer) -> None:
    result = normalizer.normalize("api", b'{"event_id": ')
    assert codes(result) == ["malformed_json"]
    assert result.rejections[0].original == b'{"event_id": '


def test_api_array_message_gives_one_outcome_per_element(normalizer: Normalizer) -> None:
    good, bad = json.loads(api_json()), json.loads(api_json(event_id="E-2", uom="crate"))
    raw = json.dumps([good, bad]).encode()
    result = normalizer.normalize("api", raw)
    assert [e.event_id for e in result.events] == ["E-1"]
    assert [(r.error_code, r.record_index) for r in result.rejections] == [("unknown_uom", 1)]
    assert json.loads(result.rejections[0].original) == bad


# --------------------------------------------------------------------------- batch feed


def batch_json(records: list[Any], site: str = "WH-02") -> bytes:
    envelope = {
        "batch_id": "B-1",
        "site": site,
        "sent_at": "2026-11-26T10:15:00Z",
        "records": records,
    }
    return json.dumps(envelope).encode()


def test_batch_records_become_events_and_bad_ones_keep_their_exact_bytes(
    normalizer: Normalizer,
) -> None:
    good = json.loads(api_json(site="WH-02", sku="B-200", qty=1))
    unknown = json.loads(api_json(event_id="E-2", site="WH-02", sku="NOPE"))
    spaced = '{"event_id":  "E-3", "type": "NOPE"}'
    raw = (
        b'{"batch_id": "B-1", "site": "WH-02", "sent_at": "2026-11-26T10:15:00Z", "records": ['
        + json.dumps(good).encode()
        + b", "
        + json.dumps(unknown).encode()
        + b",\n  "
        + spaced.encode()
        + b"]}"
    )
    result = normalizer.normalize("batch", raw)
    (event,) = result.events
    assert (event.sku, event.qty, event.source) == ("SKU-2", 30, "batch:WH-02")
    # recorded_at defaults to when the middleware sent the batch.
    assert event.recorded_at == datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
    assert [(r.error_code, r.record_index) for r in result.rejections] == [
        ("unknown_sku", 1),
        ("enum", 2),
    ]
    assert result.rejections[1].original == spaced.encode()


def test_batch_record_of_another_site_is_rejected(normalizer: Normalizer) -> None:
    result = normalizer.normalize("batch", batch_json([json.loads(api_json(site="WH-01"))]))
    assert codes(result) == ["site_mismatch"]


def test_batch_keeps_a_record_recorded_at(normalizer: Normalizer) -> None:
    record = json.loads(api_json(site="WH-02", recorded_at="2026-11-26T10:01:00Z"))
    (event,) = normalizer.normalize("batch", batch_json([record])).events
    assert event.recorded_at == datetime(2026, 11, 26, 10, 1, tzinfo=UTC)


def test_batch_with_a_broken_envelope_is_rejected_whole_with_every_problem(
    normalizer: Normalizer,
) -> None:
    raw = json.dumps({"site": "WH-02", "sent_at": "later", "records": []}).encode()
    result = normalizer.normalize("batch", raw)
    (rejection,) = result.rejections
    assert [(e.field, e.code) for e in rejection.errors] == [
        ("batch_id", "missing"),
        ("sent_at", "datetime"),
    ]
    assert (rejection.original, rejection.record_index) == (raw, None)


def test_an_empty_batch_gives_nothing(normalizer: Normalizer) -> None:
    assert normalizer.normalize("batch", batch_json([])) == NormalizeResult()


# --------------------------------------------------------------------------- 3PL feed

HEADER = b"TXN_ID,WHSE,ITEM,TXN_TYPE,QTY,UOM,TXN_TS,TO_WHSE,XFER_ID,REF\r\n"


def test_3pl_rows_become_canonical_events_in_utc(normalizer: Normalizer) -> None:
    raw = (
        HEADER
        + b"9001,DAL1,0007,REC,2,PL,11/26/2026 04:00:00,,,ASN-77\r\n"
        + b"9002,DAL1,0007,TRO,3,CS,07/01/2026 09:30:00,NYC1,T-9,\r\n"
        + b"9003,DAL1,SKU-2,ADJ,-4,EA,11/26/2026 23:59:59,,,\r\n"
    )
    result = normalizer.normalize("3pl", raw)
    assert result.rejections == []
    received, shipped, adjusted = result.events
    assert received == InventoryEvent(
        event_id="3pl:ACME:9001",
        type=EventType.RECEIVED,
        sku="SKU-1",
        site="TPL-01",
        qty=960,
        uom="each",
        occurred_at=datetime(2026, 11, 26, 10, 0, tzinfo=UTC),  # CST is UTC-6
        source="3pl:ACME",
        ref="ASN-77",
    )
    assert (shipped.type, shipped.qty, shipped.to_site, shipped.transfer_id) == (
        EventType.TRANSFER_SHIPPED,
        36,
        "WH-01",
        "T-9",
    )
    assert shipped.occurred_at == datetime(2026, 7, 1, 14, 30, tzinfo=UTC)  # CDT is UTC-5
    assert (adjusted.qty, adjusted.occurred_at.day) == (-4, 27)


def test_3pl_event_id_is_stable_so_a_resent_file_dedupes(normalizer: Normalizer) -> None:
    raw = HEADER + b"42,DAL1,0007,SHP,1,EA,11/26/2026 04:00:00,,,\n"
    first = normalizer.normalize("3pl", raw).events
    again = normalizer.normalize("3pl", raw).events
    assert [e.event_id for e in first] == [e.event_id for e in again] == ["3pl:ACME:42"]


def test_3pl_header_columns_may_be_in_any_order_and_the_extra_ones_optional(
    normalizer: Normalizer,
) -> None:
    raw = b"ITEM,TXN_ID,WHSE,TXN_TYPE,QTY,UOM,TXN_TS\n0007,1,DAL1,CNT,0,EA,11/26/2026 04:00:00\n"
    (event,) = normalizer.normalize("3pl", raw).events
    assert (event.type, event.qty, event.sku) == (EventType.COUNTED, 0, "SKU-1")


@pytest.mark.parametrize(
    ("row", "code", "field"),
    [
        (b"1,DAL1,9999,REC,1,EA,11/26/2026 04:00:00,,,", "unknown_sku", "ITEM"),
        (b"1,DAL1,0007,XXX,1,EA,11/26/2026 04:00:00,,,", "unknown_txn_type", "TXN_TYPE"),
        (b"1,DAL1,0007,REC,1,BX,11/26/2026 04:00:00,,,", "unknown_uom", "UOM"),
        (b"1,DAL1,0007,REC,1.5,EA,11/26/2026 04:00:00,,,", "fractional_qty", "QTY"),
        (b"1,DAL1,0007,REC,lots,EA,11/26/2026 04:00:00,,,", "bad_qty", "QTY"),
        (b"1,DAL1,0007,REC,1,EA,2026-11-26T04:00:00,,,", "bad_timestamp", "TXN_TS"),
        (b"1,DAL1,0007,REC,1,EA,03/08/2026 02:30:00,,,", "bad_timestamp", "TXN_TS"),  # DST gap
        (b"1,DAL1,0007,REC,0,EA,11/26/2026 04:00:00,,,", "qty_not_positive", "QTY"),
        (b"1,DAL1,0007,TRO,1,EA,11/26/2026 04:00:00,,,", "required", "TO_WHSE"),
        (b"1,DAL1,0007,TRO,1,EA,11/26/2026 04:00:00,ZZZ9,T,", "unknown_site", "TO_WHSE"),
        (b"1,DAL1,0007,TRI,1,EA,11/26/2026 04:00:00,,,", "required", "XFER_ID"),
        (b"1,NYC1,0007,REC,1,EA,11/26/2026 04:00:00,,,", "unknown_site", "WHSE"),
        (b"1,XXX1,0007,REC,1,EA,11/26/2026 04:00:00,,,", "unknown_site", "WHSE"),
        (b",DAL1,0007,REC,1,EA,11/26/2026 04:00:00,,,", "schema", "TXN_ID"),
        (b"1,DAL1,0007,REC", "malformed_row", ""),
        (b"1,DAL1,\xff\xfe,REC,1,EA,11/26/2026 04:00:00,,,", "encoding", ""),
    ],
)
def test_3pl_bad_row_is_rejected_with_its_line(
    normalizer: Normalizer, row: bytes, code: str, field: str
) -> None:
    good = b"7,DAL1,0007,REC,1,EA,11/26/2026 04:00:00,,,"
    result = normalizer.normalize("3pl", HEADER + good + b"\n" + row + b"\n")
    assert [e.event_id for e in result.events] == ["3pl:ACME:7"]
    (rejection,) = result.rejections
    assert (rejection.error_code, rejection.errors[0].field) == (code, field)
    assert (rejection.original, rejection.record_index) == (row, 1)


def test_3pl_row_lists_every_problem(normalizer: Normalizer) -> None:
    row = b"1,DAL1,9999,XXX,lots,EA,yesterday,,,"
    (rejection,) = normalizer.normalize("3pl", HEADER + row).rejections
    assert [e.field for e in rejection.errors] == ["ITEM", "TXN_TYPE", "QTY", "TXN_TS"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "empty_file"),
        (b"\n\r\n", "empty_file"),
        (b"TXN_ID,WHSE,ITEM\n1,DAL1,0007\n", "bad_header"),
    ],
)
def test_3pl_unreadable_file_is_rejected_whole(
    normalizer: Normalizer, raw: bytes, code: str
) -> None:
    result = normalizer.normalize("3pl", raw)
    assert [(r.error_code, r.record_index, r.original) for r in result.rejections] == [
        (code, None, raw)
    ]


def test_3pl_header_only_file_and_blank_lines_are_no_records(normalizer: Normalizer) -> None:
    assert normalizer.normalize("3pl", b"\xef\xbb\xbf" + HEADER + b"\r\n\n") == NormalizeResult()


def test_3pl_partner_can_be_named_by_the_caller(normalizer: Normalizer) -> None:
    raw = HEADER + b"1,TPL-01,0007,REC,1,EA,11/26/2026 04:00:00,,,\n"
    assert len(normalizer.normalize("3pl", raw, partner="ACME").events) == 1
    assert codes(normalizer.normalize("3pl", raw, partner="NOPE")) == ["unknown_partner"]


def test_an_unknown_feed_is_a_rejection_not_an_exception(normalizer: Normalizer) -> None:
    assert codes(normalizer.normalize("ftp", b"x")) == ["unknown_feed"]  # type: ignore[arg-type]


# --------------------------------------------------------------------------- local timestamps

FORMATS = ["%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M", "%Y%m%d%H%M%S.%f"]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(FORMATS),
    st.text(alphabet="0123456789/-.: %\t", max_size=24)
    | st.datetimes(timezones=st.none()).map(str),
)
# unseparated digits: strptime splits them by its field patterns (month 07, not 77)
@example("%Y%m%d%H%M%S.%f", "3927762424.60")
def test_the_fast_timestamp_reader_agrees_with_strptime(fmt: str, text: str) -> None:
    try:
        expected: datetime | None = datetime.strptime(text, fmt)  # noqa: DTZ007
    except ValueError:
        expected = None
    try:
        got: datetime | None = LocalTimestamps(fmt).read(text)
    except ValueError:
        got = None
    assert got == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_fast_timestamp_reader_reads_what_strftime_writes(fmt: str) -> None:
    moment = datetime(2026, 3, 7, 8, 5, 9, 120000)  # noqa: DTZ001
    text = moment.strftime(fmt)
    assert LocalTimestamps(fmt).read(text) == datetime.strptime(text, fmt)  # noqa: DTZ007


# --------------------------------------------------------------------------- DLQ replay

FIXED_NETWORK = NETWORK.replace(
    '  - {scope: ACME, code: "0007", sku: SKU-1}\n',
    '  - {scope: ACME, code: "0007", sku: SKU-1}\n'
    '  - {scope: ACME, code: "0008", sku: SKU-2}\n'
    "  - {scope: WH-02, code: B-300, sku: SKU-2}\n"
    "  - {scope: WH-01, code: A-300, sku: SKU-2}\n",
)


@pytest.mark.parametrize(
    ("feed", "raw", "expected"),
    [
        ("api", api_json(sku="A-300"), ("SKU-2", "wms-api:WH-01", 60)),
        (
            "batch",
            batch_json(
                [
                    json.loads(api_json(site="WH-02")),
                    json.loads(api_json(site="WH-02", sku="B-300")),
                ]
            ),
            ("SKU-2", "batch:WH-02", 60),
        ),
        (
            "3pl",
            HEADER
            + b"1,DAL1,0007,REC,1,EA,11/26/2026 04:00:00,,,\n"
            + b"2,DAL1,0008,REC,2,CS,11/26/2026 04:00:00,,,\n",
            ("SKU-2", "3pl:ACME", 60),
        ),
    ],
)
def test_a_dead_letter_replays_once_master_data_is_fixed(
    normalizer: Normalizer, feed: str, raw: bytes, expected: tuple[str, str, int]
) -> None:
    first = normalizer.normalize(feed, raw)  # type: ignore[arg-type]
    (rejected,) = first.rejections
    assert rejected.error_code == "unknown_sku"
    letter = dead_letter(
        rejected,
        source_topic=f"feeds.{feed}.v1",
        partition=0,
        offset=41,
        rejected_at=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
    )
    assert dead_letter_decoder.decode(msgspec.json.encode(letter)) == letter
    # Still unknown with the old master data: rejected again, the same way.
    assert codes(normalizer.normalize(feed, letter.original)) == ["unknown_sku"]  # type: ignore[arg-type]
    fixed = Normalizer(parse_master_data(FIXED_NETWORK))
    (event,) = fixed.normalize(feed, letter.original).events  # type: ignore[arg-type]
    assert (event.sku, event.source, event.qty) == expected


def test_a_headerless_3pl_file_is_read_in_the_standard_column_order(
    normalizer: Normalizer,
) -> None:
    raw = b"5,DAL1,0007,TRO,1,CS,11/26/2026 04:00:00,NYC1,T-5\n"
    (event,) = normalizer.normalize("3pl", raw).events
    assert (event.event_id, event.qty, event.to_site) == ("3pl:ACME:5", 12, "WH-01")


def test_api_times_with_an_offset_come_out_in_utc(normalizer: Normalizer) -> None:
    raw = api_json(occurred_at="2026-11-26T04:00:00-06:00", recorded_at="2026-11-26T11:00:01+01:00")
    (event,) = normalizer.normalize("api", raw).events
    assert event.occurred_at.tzinfo is UTC
    assert event.occurred_at == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert b'"occurred_at":"2026-11-26T10:00:00Z"' in encode_event(event)
    assert b'"recorded_at":"2026-11-26T10:00:01Z"' in encode_event(event)


EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize(
    ("feed", "name", "events"),
    [("api", "api-event.json", 1), ("batch", "batch.json", 4), ("3pl", "3pl.csv", 6)],
)
def test_the_shipped_sample_feeds_normalize_cleanly_against_the_example_network(
    feed: str, name: str, events: int
) -> None:
    example = Normalizer(load_master_data(EXAMPLES / "network.yaml"))
    result = example.normalize(feed, (EXAMPLES / "feeds" / name).read_bytes())  # type: ignore[arg-type]
    assert result.rejections == []
    assert len(result.events) == events


def test_rejections_and_their_dead_letters_name_the_site_they_came_from(
    normalizer: Normalizer,
) -> None:
    api = normalizer.normalize("api", api_json(sku="NOPE"))
    batch_raw = (
        b'{"batch_id": "B-9", "site": "WH-02", "sent_at": "2026-11-26T10:15:00Z", "records": ['
        + api_json(site="WH-02", sku="NOPE")
        + b"]}"
    )
    batch = normalizer.normalize("batch", batch_raw)
    tpl = normalizer.normalize("3pl", HEADER + b"8,DAL1,0007,XXX,1,EA,11/26/2026 04:00:00,,,\n")
    unreadable = normalizer.normalize("api", b"{not json")
    sites = [r.site for res in (api, batch, tpl, unreadable) for r in res.rejections]
    assert sites == ["WH-01", "WH-02", "TPL-01", None]
    letter = dead_letter(
        api.rejections[0],
        source_topic="feeds.api.v1",
        partition=0,
        offset=5,
        rejected_at=datetime(2026, 11, 26, tzinfo=UTC),
    )
    assert dead_letter_decoder.decode(msgspec.json.encode(letter)).site == "WH-01"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"occurred_at": "9999-12-31T23:45:00-06:00"}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:01+06:00"}, "occurred_at"),
        ({"occurred_at": "1999-12-31T23:59:59Z"}, "occurred_at"),
        ({"recorded_at": "2100-01-01T00:00:00Z"}, "recorded_at"),
    ],
)
def test_an_event_time_outside_the_contract_range_is_refused_naming_it(
    normalizer: Normalizer, changes: dict[str, Any], field: str
) -> None:
    for raw in (api_json(**changes), batch_json([json.loads(api_json(site="WH-02", **changes))])):
        feed = "api" if raw.startswith(b'{"event_id"') else "batch"
        result = normalizer.normalize(feed, raw)
        assert result.events == []
        (rejection,) = result.rejections
        assert [(e.field, e.code) for e in rejection.errors] == [(field, "out_of_range")]
