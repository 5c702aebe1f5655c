"""Decoding canonical events: the good ones pass, the bad ones list exactly what is wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.errors import ValidationFailed
from twin.events import EventType, InventoryEvent
from twin.validation import (
    DEFAULT_TIME_RANGE,
    HOLDABLE_EARLIEST,
    HOLDABLE_LATEST,
    TimeRange,
    decode_event,
    decode_events,
    plainly_valid,
    validate_event,
    whole_qty,
)

GOOD: dict[str, Any] = {
    "event_id": "E-1",
    "type": "SHIPPED",
    "sku": "SKU-1",
    "site": "WH-01",
    "qty": 3,
    "uom": "each",
    "occurred_at": "2026-11-26T10:00:00Z",
    "source": "wms-api:WH-01",
}


def event_json(**changes: Any) -> bytes:
    """GOOD with fields changed; a value of ... removes the field."""
    record = {**GOOD, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...}).encode()


def errors_of(raw: bytes) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        decode_events(raw)
    return [(e.field, e.code) for e in caught.value.errors]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"type": "ADJUSTED", "qty": -4},
        {"type": "COUNTED", "qty": 0},
        {"qty": 2.5, "uom": "case"},
        {"type": "TRANSFER_SHIPPED", "to_site": "WH-02", "transfer_id": "T-1"},
        {"type": "TRANSFER_RECEIVED", "transfer_id": "T-1"},
        # recorded_at before occurred_at is accepted: the stamps come from different clocks.
        {"recorded_at": "2026-11-26T09:59:58Z"},
        {"occurred_at": "2026-11-26T11:00:00+01:00", "ref": "ORD-9"},
        {"unknown_future_field": 1},
    ],
)
def test_good_events_decode(changes: dict[str, Any]) -> None:
    event = decode_event(event_json(**changes))
    assert isinstance(event, InventoryEvent)
    assert event.occurred_at.utcoffset() is not None
    assert validate_event(event) == []


def test_decoded_event_has_the_contract_values() -> None:
    event = decode_event(event_json(occurred_at="2026-11-26T11:00:00+01:00"))
    assert event.type is EventType.SHIPPED
    assert event.qty == 3
    assert event.occurred_at == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


BAD = [
    ({"qty": 0}, [("qty", "qty_not_positive")]),
    ({"qty": -1, "type": "RECEIVED"}, [("qty", "qty_not_positive")]),
    ({"type": "ADJUSTED", "qty": 0}, [("qty", "qty_zero")]),
    ({"type": "COUNTED", "qty": -1}, [("qty", "qty_negative")]),
    ({"type": "TRANSFER_SHIPPED"}, [("to_site", "required"), ("transfer_id", "required")]),
    ({"type": "TRANSFER_RECEIVED"}, [("transfer_id", "required")]),
    (
        {"type": "TRANSFER_SHIPPED", "to_site": "WH-01", "transfer_id": "T"},
        [("to_site", "same_site")],
    ),
    ({"type": "SHIPPD"}, [("type", "enum")]),
    ({"qty": "3"}, [("qty", "type")]),
    ({"qty": True}, [("qty", "type")]),
    ({"event_id": ""}, [("event_id", "length")]),
    ({"event_id": "x" * 129}, [("event_id", "length")]),
    ({"occurred_at": "2026-11-26T10:00:00"}, [("occurred_at", "timezone")]),
    ({"occurred_at": "yesterday"}, [("occurred_at", "datetime")]),
    ({"sku": ...}, [("sku", "missing")]),
    ({"sku": None}, [("sku", "missing")]),
    ({"recorded_at": 12}, [("recorded_at", "type")]),
    # Every problem of the record, not the first one.
    (
        {"sku": 5, "site": ..., "qty": -2, "occurred_at": "soon", "source": ""},
        [
            ("sku", "type"),
            ("site", "missing"),
            ("occurred_at", "datetime"),
            ("source", "length"),
            ("qty", "qty_not_positive"),
        ],
    ),
    (
        {"type": "TRANSFER_SHIPPED", "qty": 0, "uom": ...},
        [
            ("uom", "missing"),
            ("qty", "qty_not_positive"),
            ("to_site", "required"),
            ("transfer_id", "required"),
        ],
    ),
]


@pytest.mark.parametrize(("changes", "expected"), BAD)
def test_bad_event_lists_exactly_its_errors(
    changes: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert errors_of(event_json(**changes)) == expected


def test_errors_carry_the_value_and_a_message_a_person_can_act_on() -> None:
    with pytest.raises(ValidationFailed) as caught:
        decode_event(event_json(type="COUNTED", qty=-5))
    (error,) = caught.value.errors
    assert error.value == -5
    assert "COUNTED" in error.message
    assert "0 or more" in error.message


def test_array_errors_are_listed_with_record_paths() -> None:
    good = json.loads(event_json())
    raw = json.dumps([good, {**good, "qty": 0}, 7, {**good, "type": "NOPE"}]).encode()
    assert errors_of(raw) == [
        ("[1].qty", "qty_not_positive"),
        ("[2]", "type"),
        ("[3].type", "enum"),
    ]


def test_an_array_decodes_to_all_its_events() -> None:
    good = json.loads(event_json())
    raw = json.dumps([good, {**good, "event_id": "E-2"}]).encode()
    assert [e.event_id for e in decode_events(raw)] == ["E-1", "E-2"]
    assert decode_events(b"[]") == []


def test_a_single_object_also_decodes_as_a_list() -> None:
    assert [e.event_id for e in decode_events(b"  " + event_json())] == ["E-1"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "malformed_json"),
        (b"{", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"[" * 100_000, "malformed_json"),
        (b'{"qty": 1e999}', "malformed_json"),
        (b"42", "type"),
        (b"null", "type"),
    ],
)
def test_hostile_bytes_give_one_structured_error(raw: bytes, code: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        decode_event(raw)
    assert caught.value.errors[0].code == code


@pytest.mark.parametrize("qty", [10**40, 1e300, -(10**13)])
def test_absurd_quantities_are_refused(qty: float) -> None:
    assert errors_of(event_json(type="ADJUSTED", qty=qty)) == [("qty", "qty_out_of_range")]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_events_or_validation_failed(raw: bytes) -> None:
    try:
        events = decode_events(raw)
    except ValidationFailed as failed:
        assert failed.errors
        assert all(e.code and e.message for e in failed.errors)
    else:
        assert all(validate_event(e) == [] for e in events)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*sorted(GOOD), "to_site", "transfer_id"]), json_values))
def test_wrong_values_in_event_fields_are_reported_field_by_field(changes: dict[str, Any]) -> None:
    raw = json.dumps({**GOOD, **changes}).encode()
    try:
        decode_event(raw)
    except ValidationFailed as failed:
        fields = {e.field for e in failed.errors}
        assert fields <= set(GOOD) | {"to_site", "transfer_id", "recorded_at", "ref"}


def test_rules_hold_for_events_built_in_code_with_plain_strings() -> None:
    # Structs built directly (the simulator, tests) are not validated by msgspec: a plain
    # string type must still meet the same rules.
    event = decode_event(event_json())
    built = msgspec.structs.replace(event, type="ADJUSTED", qty=0)  # type: ignore[arg-type]
    assert [(e.field, e.code) for e in validate_event(built)] == [("qty", "qty_zero")]


_sites = st.sampled_from(["WH-01", "WH-02"])
_any_event = st.builds(
    InventoryEvent,
    event_id=st.just("e1"),
    type=st.sampled_from(list(EventType)),
    sku=st.just("SKU-1"),
    site=_sites,
    qty=st.one_of(
        st.integers(min_value=-(10**13), max_value=10**13),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0, 1, -1, 10**12, 10**12 + 1, -(10**12), 0.5]),
    ),
    uom=st.just("each"),
    occurred_at=st.just(datetime(2026, 11, 26, tzinfo=UTC)),
    source=st.just("test"),
    to_site=st.one_of(st.none(), _sites),
    transfer_id=st.one_of(st.none(), st.just("T1")),
)


@settings(max_examples=2000, deadline=None)
@given(_any_event)
def test_the_quick_accept_never_lets_a_rule_breaker_through(event: InventoryEvent) -> None:
    if plainly_valid(event):
        assert validate_event(event) == []


def test_the_quick_accept_takes_the_common_shape_of_every_type() -> None:
    base = decode_event(event_json())
    shapes = {
        EventType.ADJUSTED: {"qty": -3},
        EventType.COUNTED: {"qty": 0},
        EventType.TRANSFER_SHIPPED: {"to_site": "WH-02", "transfer_id": "T1"},
        EventType.TRANSFER_RECEIVED: {"transfer_id": "T1"},
    }
    for kind in EventType:
        event = msgspec.structs.replace(base, type=kind, **shapes.get(kind, {}))
        assert plainly_valid(event), kind


def test_a_canonical_qty_is_a_whole_number_of_base_units() -> None:
    assert whole_qty(7) == 7
    assert whole_qty(3.0) == 3 and isinstance(whole_qty(3.0), int)
    for bad in (2.5, float("nan"), float("inf")):
        with pytest.raises(ValidationFailed) as caught:
            whole_qty(bad)
        assert [(e.field, e.code) for e in caught.value.errors] == [("qty", "not_whole")]


@pytest.mark.parametrize("field", ["occurred_at", "recorded_at"])
@pytest.mark.parametrize(
    "when",
    [
        "9999-12-31T23:45:00Z",
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:01Z",
        "1999-12-31T23:59:59Z",
    ],
)
def test_an_event_time_outside_the_sane_range_is_refused_naming_the_field(
    field: str, when: str
) -> None:
    raw = event_json(**{field: when})
    for decode in (decode_event, decode_events):
        with pytest.raises(ValidationFailed) as caught:
            decode(raw)
        [error] = caught.value.errors
        assert (error.field, error.code) == (field, "out_of_range")
        assert when[:10] in str(error.value) and "2000-01-01" in error.message
    # in an array, with the record's index, next to its other errors
    raw = json.dumps([GOOD, {**GOOD, field: when, "qty": 0}]).encode()
    assert sorted(errors_of(raw)) == sorted(
        [("[1].qty", "qty_not_positive"), (f"[1].{field}", "out_of_range")]
    )


def test_the_range_bounds_are_included_then_excluded_and_configurable() -> None:
    assert decode_event(event_json(occurred_at="2000-01-01T00:00:00Z"))
    assert errors_of(event_json(occurred_at="2100-01-01T00:00:00Z")) == [
        ("occurred_at", "out_of_range")
    ]
    # an offset counts: this is 1999-12-31T23:30:00Z
    assert errors_of(event_json(occurred_at="2000-01-01T00:30:00+01:00")) == [
        ("occurred_at", "out_of_range")
    ]
    wide = TimeRange(earliest=datetime(1990, 1, 1, tzinfo=UTC))
    assert decode_event(event_json(occurred_at="1995-06-01T00:00:00Z"), wide)
    narrow = TimeRange(latest=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationFailed):
        decode_events(event_json(), narrow)
    with pytest.raises(ValueError):
        TimeRange(latest=datetime(9999, 1, 1, tzinfo=UTC))  # beyond what the core holds
    with pytest.raises(ValueError):
        TimeRange(
            earliest=datetime(2030, 1, 1, tzinfo=UTC), latest=datetime(2020, 1, 1, tzinfo=UTC)
        )


def test_a_malformed_record_lists_its_time_out_of_range_with_its_other_errors() -> None:
    raw = event_json(occurred_at="9999-12-31T23:45:00Z", qty="3")  # the slow path
    assert sorted(errors_of(raw)) == [("occurred_at", "out_of_range"), ("qty", "type")]


def test_the_core_holds_every_time_the_widest_range_accepts() -> None:
    from twin.position import MAX_US, MIN_US, to_us

    assert to_us(HOLDABLE_EARLIEST) == MIN_US and to_us(HOLDABLE_LATEST) == MAX_US
    assert to_us(DEFAULT_TIME_RANGE.earliest) > MIN_US and to_us(DEFAULT_TIME_RANGE.latest) < MAX_US


@pytest.mark.parametrize("qty", [0, 0.0])
def test_a_zero_adjustment_is_refused_by_the_schema_and_the_validator_alike(qty: float) -> None:
    from twin.events import event_json_schema

    record = {**GOOD, "type": "ADJUSTED", "qty": qty}
    validator = jsonschema.Draft202012Validator(event_json_schema())
    assert not validator.is_valid(record)
    assert errors_of(json.dumps(record).encode()) == [("qty", "qty_zero")]
    for good in ({**record, "qty": -4}, {**record, "qty": 4}):
        assert validator.is_valid(good)
        assert decode_event(json.dumps(good).encode())


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(list(EventType)),
    st.integers(-5, 5),
    st.sampled_from([None, "WH-02"]),
    st.sampled_from([None, "TR-1"]),
)
def test_the_schema_and_the_validator_agree_on_qty_and_transfer_rules(
    kind: EventType, qty: int, to_site: str | None, transfer_id: str | None
) -> None:
    from twin.events import event_json_schema

    record: dict[str, Any] = {**GOOD, "type": kind.value, "qty": qty}
    if to_site is not None:
        record["to_site"] = to_site
    if transfer_id is not None:
        record["transfer_id"] = transfer_id
    by_schema = jsonschema.Draft202012Validator(event_json_schema()).is_valid(record)
    try:
        decode_event(json.dumps(record).encode())
        by_validator = True
    except ValidationFailed:
        by_validator = False
    assert by_schema == by_validator
