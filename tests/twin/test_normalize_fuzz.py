"""Fuzzing the normalizers: whatever comes in, only canonical events and structured
rejections come out, and every input record is accounted for."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.twin.test_normalize import NETWORK
from twin.events import EventType, InventoryEvent, encode_event
from twin.masterdata import parse_master_data
from twin.normalize import Normalizer, NormalizeResult
from twin.normalize.batch import batch_decoder
from twin.validation import DEFAULT_TIME_RANGE, decode_event, validate_event

NORMALIZER = Normalizer(parse_master_data(NETWORK))
INDEX = NORMALIZER.index
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(result: NormalizeResult, raw: bytes) -> None:
    """What must hold for any output: canonical events, structured and traceable rejections."""
    for event in result.events:
        assert isinstance(event, InventoryEvent)
        assert validate_event(event) == []
        assert event.site in INDEX.sites
        assert event.sku in INDEX.skus
        assert event.uom == INDEX.skus[event.sku].base_uom
        assert type(event.qty) is int
        assert event.occurred_at.utcoffset() is not None
        assert event.source
    for rejection in result.rejections:
        assert rejection.error_code != "internal_error", rejection.message
        assert rejection.errors
        assert rejection.error_code == rejection.errors[0].code
        assert rejection.message
        assert rejection.original in raw
        msgspec.json.encode(rejection)  # can be dead-lettered as it is


def count(result: NormalizeResult) -> int:
    return len(result.events) + len(result.rejections)


# --------------------------------------------------------------------------- arbitrary bytes


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(["api", "batch", "3pl"]))
def test_any_bytes_on_any_feed_give_only_structured_outcomes(raw: bytes, feed: str) -> None:
    result = NORMALIZER.normalize(feed, raw)  # type: ignore[arg-type]
    check(result, raw)
    if feed != "3pl":
        assert count(result) == expected_json_records(feed, raw)


def expected_json_records(feed: str, raw: bytes) -> int:
    """How many outcomes a JSON feed message must give: its records, or 1 when unreadable."""
    try:
        if feed == "batch":
            return len(batch_decoder.decode(raw).records)
        value = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):  # bytes that are not UTF-8
        return 1
    return len(value) if isinstance(value, list) else 1


# --------------------------------------------------------------------------- structured, wrong

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**15), max_value=10**15)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
field_values: dict[str, st.SearchStrategy[Any]] = {
    "event_id": st.sampled_from(["E-1", "E-2", "", "x" * 200]) | json_values,
    "type": st.sampled_from(
        ["RECEIVED", "SHIPPED", "ADJUSTED", "COUNTED", "TRANSFER_SHIPPED", "TRANSFER_RECEIVED"]
    )
    | json_values,
    "sku": st.sampled_from(["SKU-1", "SKU-2", "A-100", "B-200", "0007", "NOPE"]) | json_values,
    "site": st.sampled_from(["WH-01", "WH-02", "TPL-01", "WH-09"]) | json_values,
    "qty": st.sampled_from([1, 2, 0, -3, 0.5, 1.5, 1e300, 10**14]) | json_values,
    "uom": st.sampled_from(["each", "case", "pallet", "crate"]) | json_values,
    "occurred_at": st.sampled_from(["2026-11-26T10:00:00Z", "2026-11-26T10:00:00", "x"])
    | json_values,
    "recorded_at": st.sampled_from(["2026-11-26T10:00:05Z", None]) | json_values,
    "to_site": st.sampled_from(["WH-01", "WH-02", "WH-09", None]) | json_values,
    "transfer_id": st.sampled_from(["T-1", "", None]) | json_values,
    "source": st.sampled_from(["wms-api:WH-01", ""]) | json_values,
}
FIELDS = sorted(field_values)


def good_record(site: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid records of `site`: their mutations below reach every step of the normalizer."""
    return st.fixed_dictionaries(
        {
            "event_id": st.sampled_from(["E-1", "E-2", "E-3"]),
            "type": st.sampled_from(["RECEIVED", "SHIPPED", "ADJUSTED", "COUNTED"]),
            "sku": st.sampled_from(["SKU-1", "SKU-2", "A-100", "B-200"]),
            "site": st.just(site),
            "qty": st.sampled_from([1, 2, 0.5, 3.0]),
            "uom": st.sampled_from(["each", "case"]),
            "occurred_at": st.just("2026-11-26T10:00:00Z"),
        }
    )


def mutated(site: str) -> st.SearchStrategy[dict[str, Any]]:
    """A valid record with a few fields replaced (by plausible or any values) or removed."""

    def apply(parts: tuple[dict[str, Any], dict[str, Any], set[str]]) -> dict[str, Any]:
        record, changes, removed = parts
        record = {**record, **changes}
        return {k: v for k, v in record.items() if k not in removed}

    changes = st.dictionaries(st.sampled_from(FIELDS), json_scalars, max_size=2) | st.just({})
    plausible = st.fixed_dictionaries({}, optional=field_values).filter(lambda d: len(d) <= 2)
    return st.tuples(
        good_record(site), plausible | changes, st.sets(st.sampled_from(FIELDS), max_size=1)
    ).map(apply)


records = mutated("WH-01") | mutated("WH-02") | st.fixed_dictionaries({}, optional=field_values)


@FUZZ
@given(records)
def test_api_wrong_records_are_one_outcome_each(record: dict[str, Any]) -> None:
    raw = json.dumps(record).encode()
    result = NORMALIZER.normalize("api", raw)
    check(result, raw)
    assert count(result) == 1


@FUZZ
@given(st.lists(records | json_values, max_size=6))
def test_api_arrays_give_one_outcome_per_element(items: list[Any]) -> None:
    raw = json.dumps(items).encode()
    result = NORMALIZER.normalize("api", raw)
    check(result, raw)
    assert count(result) == len(items)


envelopes = st.fixed_dictionaries(
    {"records": st.lists(records | json_values, max_size=6)},
    optional={
        "batch_id": st.sampled_from(["B-1", ""]) | json_values,
        "site": st.sampled_from(["WH-01", "WH-02", "WH-09"]) | json_values,
        "sent_at": st.sampled_from(["2026-11-26T10:15:00Z", "soon"]) | json_values,
    },
)


@FUZZ
@given(envelopes)
def test_batch_outcomes_account_for_every_record(envelope: dict[str, Any]) -> None:
    raw = json.dumps(envelope).encode()
    result = NORMALIZER.normalize("batch", raw)
    check(result, raw)
    whole = [r for r in result.rejections if r.record_index is None]
    if whole:
        assert result.events == [] and len(result.rejections) == 1
        assert whole[0].original == raw
    else:
        assert count(result) == len(envelope["records"])
        indexes = sorted(r.record_index or 0 for r in result.rejections)
        assert len(set(indexes)) == len(indexes)


GOOD_ROW = ["1", "DAL1", "0007", "REC", "2", "CS", "11/26/2026 04:00:00", "", "", ""]
cells = st.sampled_from(
    ["", "1", "DAL1", "NYC1", "0007", "SKU-2", "REC", "TRO", "TRI", "ADJ", "CNT", "CS", "PL",
     "EA", "-2", "0.5", "11/26/2026 04:00:00", "03/08/2026 02:30:00", "T-1", '"', "a,b", "é"]
) | st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=10)  # fmt: skip


def csv_line(row: list[str]) -> bytes:
    return ",".join(row).encode("utf-8", "surrogatepass")


def mutated_row(changes: dict[int, str]) -> list[str]:
    return [changes.get(i, cell) for i, cell in enumerate(GOOD_ROW)]


rows = st.lists(cells, max_size=11) | st.dictionaries(
    st.integers(0, len(GOOD_ROW) - 1), cells, max_size=2
).map(mutated_row)


@FUZZ
@given(st.lists(rows, max_size=6))
def test_3pl_every_row_is_an_event_or_a_rejection(rows: list[list[str]]) -> None:
    header = b"TXN_ID,WHSE,ITEM,TXN_TYPE,QTY,UOM,TXN_TS,TO_WHSE,XFER_ID,REF"
    lines = [csv_line(row) for row in rows]
    raw = b"\r\n".join([header, *lines])
    result = NORMALIZER.normalize("3pl", raw)
    check(result, raw)
    assert count(result) == sum(1 for line in lines if line.strip())
    event_ids = [e.event_id for e in result.events]
    assert all(i.startswith("3pl:ACME:") for i in event_ids)


# --------------------------------------------------------------------------- round trips

# the contract's default range of event times (hypothesis bounds are naive)
EARLIEST = DEFAULT_TIME_RANGE.earliest.replace(tzinfo=None)
LATEST = DEFAULT_TIME_RANGE.latest.replace(tzinfo=None) - timedelta(microseconds=1)

canonical_events = st.builds(
    InventoryEvent,
    event_id=st.text(min_size=1, max_size=20),
    type=st.sampled_from(
        [t for t in EventType if t not in (EventType.ADJUSTED, EventType.TRANSFER_SHIPPED)]
    ),
    sku=st.sampled_from(["SKU-1", "SKU-2"]),
    site=st.sampled_from(["WH-01", "WH-02", "TPL-01"]),
    qty=st.integers(1, 10**6),
    uom=st.just("each"),
    occurred_at=st.datetimes(EARLIEST, LATEST, timezones=st.just(UTC)),
    source=st.text(min_size=1, max_size=20),
    recorded_at=st.none() | st.datetimes(EARLIEST, LATEST, timezones=st.just(UTC)),
    transfer_id=st.text(min_size=1, max_size=10),
    ref=st.none() | st.text(max_size=10),
)


@FUZZ
@given(canonical_events)
def test_a_canonical_event_normalizes_to_itself_on_the_api_feed(event: InventoryEvent) -> None:
    raw = encode_event(event)
    assert NORMALIZER.normalize("api", raw).events == [event]
    assert decode_event(raw) == event
