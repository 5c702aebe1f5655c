"""What every feed normalizer shares: results, rejections, raw events and canonicalization.

A raw event is the canonical event as a source may send it: site-local item codes, any UoM
of the SKU, a fractional qty that is whole in base units, and no `source` (the feed fills
it). `canonicalize` turns a well-formed raw event into a canonical one, or lists every
master-data problem of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from twin.errors import FieldError
from twin.events import MAX_QTY, AwareDatetime, EventId, EventType, InventoryEvent, NonEmpty
from twin.masterdata import ConversionError, MasterIndex
from twin.validation import (
    DECODE_FAILURES,
    RULED_TYPES,
    cross_field_errors,
    explain_failure,
    time_errors,
)
from twin.wire import DeadLetter


class Rejection(msgspec.Struct, kw_only=True):
    """One record (or a whole message) that could not become a canonical event.

    `original` is the exact bytes of that record (the whole message when the message
    itself is unreadable, then `record_index` is None), so it can be dead-lettered and
    replayed once master data is fixed.
    """

    error_code: str
    message: str
    errors: list[FieldError]
    original: bytes
    record_index: int | None = None
    site: str | None = None


class NormalizeResult(msgspec.Struct, kw_only=True):
    """Canonical events and rejections from one raw message; nothing is dropped."""

    events: list[InventoryEvent] = msgspec.field(default_factory=list)
    rejections: list[Rejection] = msgspec.field(default_factory=list)


class RawEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A canonical-looking event as an API or batch source sends it (`source` optional)."""

    event_id: EventId
    type: EventType
    sku: NonEmpty
    site: NonEmpty
    qty: int | float
    uom: NonEmpty
    occurred_at: AwareDatetime
    source: NonEmpty | None = None
    recorded_at: AwareDatetime | None = None
    to_site: NonEmpty | None = None
    transfer_id: NonEmpty | None = None
    ref: str | None = None


raw_event_decoder = msgspec.json.Decoder(RawEvent)
raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])


def rejection(
    errors: list[FieldError],
    original: bytes,
    record_index: int | None = None,
    *,
    site: str | None = None,
) -> Rejection:
    """A rejection whose code is its first error's code and whose message lists them all."""
    message = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)
    return Rejection(
        error_code=errors[0].code,
        message=message,
        errors=errors,
        original=original,
        record_index=record_index,
        site=site,
    )


class _SiteProbe(msgspec.Struct):
    site: Any = None


_site_probe_decoder = msgspec.json.Decoder(_SiteProbe)


def site_of_record(index: MasterIndex, raw: bytes) -> str | None:
    """The canonical site a rejected JSON record names, if it names a known one.

    Only for per-site dead-letter counts: a record too broken to say is counted nowhere.
    """
    try:
        site = _site_probe_decoder.decode(raw).site
    except DECODE_FAILURES:
        return None
    return site if isinstance(site, str) and site in index.sites else None


def dead_letter(
    rejected: Rejection,
    *,
    source_topic: str,
    partition: int,
    offset: int,
    rejected_at: datetime,
) -> DeadLetter:
    """The `inventory.dlq.v1` record of a rejection read from a feed topic.

    Replaying it means producing `original` back to `source_topic`: every normalizer reads a
    lone rejected record again (an API event, a bare batch record, a headerless 3PL row).
    """
    return DeadLetter(
        error_code=rejected.error_code,
        message=rejected.message,
        original=rejected.original,
        source_topic=source_topic,
        partition=partition,
        offset=offset,
        rejected_at=rejected_at,
        errors=rejected.errors,
        record_index=rejected.record_index,
        site=rejected.site,
    )


def canonicalize(
    index: MasterIndex,
    raw: RawEvent,
    *,
    scope: str,
    source: str,
    recorded_at: datetime | None = None,
) -> InventoryEvent | list[FieldError]:
    """The canonical event for `raw` (codes mapped, qty in base units), or every problem.

    `scope` is where local item codes are looked up (the site, or the 3PL partner);
    `source` and `recorded_at` fill the event's fields when the raw event has none.
    """
    # the contract's time range first: converting a time near the edge of the datetime range
    # to UTC would overflow
    errors = time_errors(
        raw.occurred_at, raw.recorded_at if raw.recorded_at is not None else recorded_at
    )
    if raw.site not in index.sites:
        errors.append(_unknown_site("site", raw.site))
    if raw.to_site is not None and raw.to_site not in index.sites:
        errors.append(_unknown_site("to_site", raw.to_site))
    sku = index.resolve_item(scope, raw.sku)
    qty = 0
    sku_data = index.skus.get(sku) if sku is not None else None
    factor = sku_data.uom_factors.get(raw.uom) if sku_data is not None else None
    if factor is not None and type(raw.qty) is int and -MAX_QTY <= raw.qty * factor <= MAX_QTY:
        qty = raw.qty * factor  # the common case, without the exact-decimal machinery
    elif sku is None:
        errors.append(
            FieldError(
                field="sku",
                value=raw.sku,
                code="unknown_sku",
                message=f"{raw.sku!r} is neither a SKU nor an item alias of {scope}",
            )
        )
    else:
        try:  # exact conversion of fractions, and every error it can meet
            qty = index.base_qty(sku, raw.qty, raw.uom)
        except ConversionError as exc:
            field = "uom" if exc.code == "unknown_uom" else "qty"
            value = raw.uom if field == "uom" else raw.qty
            errors.append(FieldError(field=field, value=value, code=exc.code, message=str(exc)))
    if errors or sku_data is None:
        return errors
    return InventoryEvent(
        event_id=raw.event_id,
        type=raw.type,
        sku=sku_data.id,
        site=raw.site,
        qty=qty,
        uom=sku_data.base_uom,
        occurred_at=_utc(raw.occurred_at),
        source=raw.source or source,
        recorded_at=_utc(raw.recorded_at) if raw.recorded_at is not None else recorded_at,
        to_site=raw.to_site,
        transfer_id=raw.transfer_id,
        ref=raw.ref,
    )


def json_record(
    index: MasterIndex,
    raw: bytes,
    *,
    source_prefix: str,
    site: str | None = None,
    recorded_at: datetime | None = None,
) -> InventoryEvent | list[FieldError]:
    """Decode, check and canonicalize one JSON event record (API message or batch record).

    One typed decode on the happy path; on failure, every problem of the record. When
    `site` is given (a batch's site) the record must be of that site.
    """
    try:
        event = raw_event_decoder.decode(raw)
    except DECODE_FAILURES:
        return explain_failure(raw, RawEvent, array=False)
    qty = event.qty
    if 0 < qty <= MAX_QTY and event.to_site is None and event.type not in RULED_TYPES:
        errors: list[FieldError] = []  # the common case: no cross-field rule applies
    else:
        errors = cross_field_errors(event.type, qty, event.site, event.to_site, event.transfer_id)
    if site is not None and event.site != site:
        errors.append(
            FieldError(
                field="site",
                value=event.site,
                code="site_mismatch",
                message=f"a record of a batch from {site} must be of site {site}",
            )
        )
    if errors:
        return errors
    return canonicalize(
        index,
        event,
        scope=event.site,
        source=event.source or f"{source_prefix}:{event.site}",
        recorded_at=recorded_at,
    )


def _utc(moment: datetime) -> datetime:
    # Canonical events carry UTC; a source's own offset (-06:00) is converted, not kept.
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _unknown_site(field: str, value: str) -> FieldError:
    return FieldError(
        field=field, value=value, code="unknown_site", message=f"{value!r} is not a known site"
    )
