"""Decoding and validating canonical events, with every error of every record listed.

Two paths, so that good input costs one msgspec decode:

- fast path: the typed msgspec decoder (built once in `twin.events`) plus the cross-field
  rules of `validate_event`; nothing else runs for a good record;
- slow path, only when the fast path fails: decode to plain JSON values and check each
  field on its own, so the caller gets *all* problems of *all* records (paths such as
  `[3].qty`), not msgspec's first one.

Nothing here raises anything but `ValidationFailed`, whatever the bytes (deep nesting,
bad UTF-8, numbers out of range included).

Event times (`occurred_at`, and `recorded_at` when given) must lie in a sane range, by
default 2000-01-01T00:00:00Z <= t < 2100-01-01T00:00:00Z (`TimeRange`, passed in by the
caller that configures another): a year 9999 or 0001 is a typo or an attack, never a
movement, and must not reach windows or positions.

Decision on `recorded_at` earlier than `occurred_at`: accepted. The two stamps come from
different clocks (a handheld scanner and a WMS server) that skew by seconds; rejecting would
send real stock movements to the DLQ. Posting-latency metrics clamp negatives instead.

Unknown fields are ignored, so producers may add fields before consumers know them
(schemas evolve by adding fields with defaults).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from twin.errors import FieldError, ValidationFailed
from twin.events import (
    MAX_QTY,
    EventType,
    InventoryEvent,
    event_decoder,
    events_decoder,
)

# Every failure mode of msgspec decoding we can meet on hostile bytes. RecursionError is
# what msgspec raises on very deeply nested arrays/objects.
DECODE_FAILURES = (msgspec.DecodeError, RecursionError, OverflowError, ValueError)

# Types with a rule beyond "0 < qty <= MAX_QTY": signed or zero qty, transfer fields.
RULED_TYPES = frozenset(
    {EventType.ADJUSTED, EventType.COUNTED, EventType.TRANSFER_SHIPPED, EventType.TRANSFER_RECEIVED}
)
_EVENT_TYPE_VALUES = frozenset(t.value for t in EventType)
_MAX_SHOWN = 80  # values echoed back in error messages are cut to this many characters

# The event times the twin core's integer layout can hold (`twin.position`: whole seconds
# since 1970 in 32 bits); any accepted range must lie inside it.
HOLDABLE_EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
HOLDABLE_LATEST: Final = datetime(2106, 2, 7, 6, 28, 16, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TimeRange:
    """The event times the contract accepts: ``earliest <= t < latest`` (aware datetimes)."""

    earliest: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    latest: datetime = datetime(2100, 1, 1, tzinfo=UTC)

    def __post_init__(self) -> None:
        if self.earliest.tzinfo is None or self.latest.tzinfo is None:
            raise ValueError("TimeRange needs aware datetimes")
        if not HOLDABLE_EARLIEST <= self.earliest < self.latest <= HOLDABLE_LATEST:
            raise ValueError(
                "TimeRange needs earliest < latest, both within "
                f"{HOLDABLE_EARLIEST.isoformat()} .. {HOLDABLE_LATEST.isoformat()} "
                "(what the twin core holds)"
            )

    def holds(self, at: datetime) -> bool:
        return self.earliest <= at < self.latest


DEFAULT_TIME_RANGE: Final = TimeRange()


def decode_event(raw: bytes | str, times: TimeRange = DEFAULT_TIME_RANGE) -> InventoryEvent:
    """Decode one canonical event JSON object, raising `ValidationFailed` with every error."""
    try:
        event = event_decoder.decode(raw)
    except DECODE_FAILURES:
        raise ValidationFailed(
            explain_failure(raw, InventoryEvent, array=False, times=times)
        ) from None
    recorded = event.recorded_at
    if times.earliest <= event.occurred_at < times.latest and (
        recorded is None or times.earliest <= recorded < times.latest
    ):
        qty = event.qty
        # `plainly_valid`'s first case inline (a plain type, 0 < qty <= MAX_QTY, no to_site):
        # the shape of most events, without a call (~55 ns an event of the twin flow's decode)
        if 0 < qty <= MAX_QTY and event.to_site is None and event.type not in RULED_TYPES:
            return event
        if plainly_valid(event):
            return event
    errors = validate_event(event, times=times)
    if errors:
        raise ValidationFailed(errors)
    return event


def decode_events(raw: bytes | str, times: TimeRange = DEFAULT_TIME_RANGE) -> list[InventoryEvent]:
    """Decode one event object or an array of them; `ValidationFailed` lists every error.

    For an array the whole batch is refused when any record is bad (the ingest API answers
    422 with the list), and each error's `field` carries the record index, e.g. `[3].qty`.
    """
    if not _looks_like_array(raw):
        return [decode_event(raw, times)]
    try:
        events = events_decoder.decode(raw)
    except DECODE_FAILURES:
        raise ValidationFailed(
            explain_failure(raw, InventoryEvent, array=True, times=times)
        ) from None
    errors: list[FieldError] = []
    for i, event in enumerate(events):
        errors.extend(validate_event(event, prefix=f"[{i}].", times=times))
    if errors:
        raise ValidationFailed(errors)
    return events


def plainly_valid(event: InventoryEvent) -> bool:
    """True when `event` certainly meets the cross-field rules, in a few comparisons.

    The common shapes of every type are accepted here; anything else (NaN and infinities
    fail the comparisons) takes the full check, `validate_event`, which explains what is
    wrong. A test proves that whatever this accepts, `validate_event` accepts too.
    """
    qty = event.qty
    kind = event.type
    if kind not in RULED_TYPES:
        return 0 < qty <= MAX_QTY and event.to_site is None
    if kind == EventType.ADJUSTED:
        return qty != 0 and -MAX_QTY <= qty <= MAX_QTY and event.to_site is None
    if kind == EventType.COUNTED:
        return 0 <= qty <= MAX_QTY and event.to_site is None
    if event.transfer_id is None or not 0 < qty <= MAX_QTY:
        return False
    if kind == EventType.TRANSFER_SHIPPED:
        return event.to_site is not None and event.to_site != event.site
    return event.to_site is None  # TRANSFER_RECEIVED


def whole_qty(qty: int | float) -> int:
    """`qty` as a whole number of base units, what `inventory.events.v1` carries (the API may
    take other units; normalizing converts). Raises `ValidationFailed` otherwise."""
    if qty.__class__ is int:
        return qty
    if not math.isfinite(qty) or int(qty) != qty:
        raise ValidationFailed(
            [
                FieldError(
                    field="qty",
                    value=qty,
                    code="not_whole",
                    message=f"qty {qty!r} is not a whole number of base units",
                )
            ]
        )
    return int(qty)


def validate_event(
    event: InventoryEvent, prefix: str = "", times: TimeRange = DEFAULT_TIME_RANGE
) -> list[FieldError]:
    """The cross-field rules and the time range, on an event whose fields are each well typed."""
    return cross_field_errors(
        event.type, event.qty, event.site, event.to_site, event.transfer_id, prefix
    ) + time_errors(event.occurred_at, event.recorded_at, prefix, times)


def time_errors(
    occurred_at: datetime,
    recorded_at: datetime | None,
    prefix: str = "",
    times: TimeRange = DEFAULT_TIME_RANGE,
) -> list[FieldError]:
    """One `FieldError` (code `out_of_range`) per event time outside `times`."""
    errors: list[FieldError] = []
    for name, at in (("occurred_at", occurred_at), ("recorded_at", recorded_at)):
        if at is not None and not times.earliest <= at < times.latest:
            errors.append(
                _err(
                    prefix,
                    name,
                    at.isoformat(),
                    "out_of_range",
                    f"{name} {at.isoformat()} is outside the accepted event times, "
                    f"{times.earliest.isoformat()} (included) to {times.latest.isoformat()} "
                    "(excluded)",
                )
            )
    return errors


def cross_field_errors(
    event_type: EventType,
    qty: int | float,
    site: str | None,
    to_site: str | None,
    transfer_id: str | None,
    prefix: str = "",
) -> list[FieldError]:
    """DESIGN's `qty` rule and the transfer rules; one `FieldError` per broken rule."""
    errors: list[FieldError] = []
    if not math.isfinite(qty):
        errors.append(_err(prefix, "qty", qty, "not_finite", "must be a finite number"))
    elif not -MAX_QTY <= qty <= MAX_QTY:
        errors.append(_err(prefix, "qty", qty, "qty_out_of_range", f"must be within ±{MAX_QTY:,}"))
    elif event_type == EventType.ADJUSTED:
        if qty == 0:
            errors.append(
                _err(prefix, "qty", qty, "qty_zero", "an ADJUSTED qty is signed and must not be 0")
            )
    elif event_type == EventType.COUNTED:
        if qty < 0:
            errors.append(
                _err(prefix, "qty", qty, "qty_negative", "a COUNTED qty must be 0 or more")
            )
    elif qty <= 0:
        errors.append(
            _err(
                prefix,
                "qty",
                qty,
                "qty_not_positive",
                f"a {event_type} qty must be greater than 0 (only ADJUSTED is signed)",
            )
        )
    if event_type == EventType.TRANSFER_SHIPPED:
        if to_site is None:
            errors.append(
                _err(prefix, "to_site", None, "required", "TRANSFER_SHIPPED needs to_site")
            )
        if transfer_id is None:
            errors.append(
                _err(prefix, "transfer_id", None, "required", "TRANSFER_SHIPPED needs transfer_id")
            )
    elif event_type == EventType.TRANSFER_RECEIVED and transfer_id is None:
        errors.append(
            _err(prefix, "transfer_id", None, "required", "TRANSFER_RECEIVED needs transfer_id")
        )
    if to_site is not None and to_site == site:
        errors.append(
            _err(prefix, "to_site", to_site, "same_site", "to_site must differ from site")
        )
    return errors


def record_errors(
    obj: Any,
    struct_type: type[msgspec.Struct],
    prefix: str = "",
    times: TimeRange = DEFAULT_TIME_RANGE,
) -> list[FieldError]:
    """Every problem of one decoded-to-plain-JSON record against an event-shaped Struct.

    Used by the slow path here and by the normalizers (whose raw events have an optional
    `source`). Each field is checked on its own; the cross-field rules run when `type` and
    `qty` are valid.
    """
    if not isinstance(obj, dict):
        return [
            FieldError(
                field=prefix.rstrip(".") or "$",
                value=_shown(obj),
                code="type",
                message=f"expected a JSON object (an event), got {_json_kind(obj)}",
            )
        ]
    errors: list[FieldError] = []
    valid: dict[str, Any] = {}
    for info in msgspec.structs.fields(struct_type):
        name = info.encode_name
        required = info.required
        if name not in obj or (obj[name] is None and required):
            if required:
                errors.append(_err(prefix, name, None, "missing", "is required"))
            continue
        try:
            valid[name] = msgspec.convert(obj[name], info.type)
        except msgspec.ValidationError as exc:
            errors.append(_field_type_error(prefix, name, obj[name], str(exc)))
    if "type" in valid and "qty" in valid:
        errors.extend(
            cross_field_errors(
                valid["type"],
                valid["qty"],
                valid.get("site"),
                valid.get("to_site"),
                valid.get("transfer_id"),
                prefix,
            )
        )
    if "occurred_at" in valid:
        errors.extend(time_errors(valid["occurred_at"], valid.get("recorded_at"), prefix, times))
    return errors


def explain_failure(
    raw: bytes | str,
    struct_type: type[msgspec.Struct],
    *,
    array: bool,
    times: TimeRange = DEFAULT_TIME_RANGE,
) -> list[FieldError]:
    """Re-read input that failed the fast path and list every problem in it.

    The first error's code is `malformed_json` when the bytes are not JSON at all.
    """
    try:
        obj = msgspec.json.decode(raw)
    except DECODE_FAILURES as exc:
        return [
            FieldError(
                field="$",
                value=None,
                code="malformed_json",
                message=f"not valid JSON: {exc}",
            )
        ]
    if array and isinstance(obj, list):
        errors: list[FieldError] = []
        for i, item in enumerate(obj):
            errors.extend(record_errors(item, struct_type, prefix=f"[{i}].", times=times))
        return errors or [_unexplained()]
    return record_errors(obj, struct_type, times=times) or [_unexplained()]


def _unexplained() -> FieldError:
    # The typed decoder refused what the field-by-field check accepts; should not happen,
    # but a rejection must always carry at least one error.
    return FieldError(field="$", value=None, code="schema", message="does not match the schema")


def _field_type_error(prefix: str, name: str, value: Any, detail: str) -> FieldError:
    """Turn msgspec's message about one field into a stable code and a plain message."""
    detail = detail.split(" - at ", 1)[0]
    if "Invalid enum value" in detail:
        code = "enum"
        message = f"unknown event type; expected one of {', '.join(sorted(_EVENT_TYPE_VALUES))}"
    elif "timezone component" in detail:
        code = "timezone"
        message = "needs a UTC offset or Z (RFC 3339), e.g. 2026-11-26T10:02:00Z"
    elif "RFC3339" in detail:
        code = "datetime"
        message = "is not an RFC 3339 date-time, e.g. 2026-11-26T10:02:00Z"
    elif "of length" in detail:
        code = "length"
        message = "must be 1 to 128 characters long"
    elif "out of range" in detail:
        code = "range"
        message = "number is out of range"
    else:
        code = "type"
        message = f"expected {_expected(detail)}, got {_json_kind(value)}"
    return _err(prefix, name, value, code, message)


def _expected(detail: str) -> str:
    # msgspec says "Expected `int | float`, got `str`"; keep the expected part only.
    if detail.startswith("Expected `"):
        name = detail.split("`", 2)[1]
        return _TYPE_WORDS.get(name, name)
    return detail


_TYPE_WORDS = {"str": "a string", "int | float": "a number", "str | null": "a string or null"}


def _json_kind(value: Any) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return kinds.get(type(value), type(value).__name__)


def _shown(value: Any) -> Any:
    """A value safe to echo back: scalars as they are, long strings and containers cut."""
    if isinstance(value, str):
        return value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…"
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…"


def _err(prefix: str, name: str, value: Any, code: str, message: str) -> FieldError:
    return FieldError(field=f"{prefix}{name}", value=_shown(value), code=code, message=message)


def _looks_like_array(raw: bytes | str) -> bool:
    text = raw.lstrip()[:1]
    return text in (b"[", "[")
