"""The WMS API feed (`feeds.api.v1`): one canonical-looking event JSON per message.

Site-local item codes and any UoM of the SKU are allowed; `source` defaults to
`wms-api:<site>`. An array of events in one message is accepted too (each element is then
one record, with its own original bytes and index).
"""

from __future__ import annotations

from twin.masterdata import MasterIndex
from twin.normalize.common import (
    NormalizeResult,
    RawEvent,
    json_record,
    raw_list_decoder,
    rejection,
    site_of_record,
)
from twin.validation import DECODE_FAILURES, explain_failure

SOURCE_PREFIX = "wms-api"


def normalize_api(index: MasterIndex, raw: bytes) -> NormalizeResult:
    """Canonical events and rejections for one API feed message."""
    result = NormalizeResult()
    if not _is_array(raw):
        _add(result, index, raw, None)
        return result
    try:
        records = raw_list_decoder.decode(raw)
    except DECODE_FAILURES:
        result.rejections.append(rejection(explain_failure(raw, RawEvent, array=True), raw))
        return result
    for i, record in enumerate(records):
        _add(result, index, bytes(record), i)
    return result


def _add(result: NormalizeResult, index: MasterIndex, raw: bytes, record_index: int | None) -> None:
    outcome = json_record(index, raw, source_prefix=SOURCE_PREFIX)
    if isinstance(outcome, list):
        site = site_of_record(index, raw)
        result.rejections.append(rejection(outcome, raw, record_index, site=site))
    else:
        result.events.append(outcome)


def _is_array(raw: bytes) -> bool:
    # Look at the first byte before copying the message to strip leading whitespace.
    first = raw[:1]
    if first == b"{":
        return False
    return first == b"[" or raw.lstrip()[:1] == b"["
