"""The 3PL flat-file feed (`feeds.3pl.v1`): one CSV file per message, in the partner's terms.

The header is `TXN_ID,WHSE,ITEM,TXN_TYPE,QTY,UOM,TXN_TS`, optionally followed by the columns
named in the partner profile for transfers (`TO_WHSE`, `XFER_ID` by default) and `REF`;
columns are found by name. Each data line is one record, read with the `csv` module on
its own so that a rejected row keeps its exact original line bytes (so a quoted field
cannot span lines in these files). Blank lines are not records. A file whose first line
is not a header (it has no TXN_ID column) is read in the standard column order: that is how
one rejected row, replayed from the DLQ on its own, is read again.

The partner is the one given to `normalize_3pl`, or else the one whose warehouse code is
in the row's WHSE. The canonical `event_id` is `3pl:<partner>:<TXN_ID>` (stable, so a
resent file is deduplicated), `source` is `3pl:<partner>`; local timestamps are read with
the profile's format and time zone and converted to UTC.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import ClassVar
from zoneinfo import ZoneInfo

from twin.errors import FieldError
from twin.events import InventoryEvent
from twin.masterdata import ConversionError, MasterIndex, PartnerProfile, utc_from_local
from twin.normalize.common import NormalizeResult, rejection
from twin.validation import cross_field_errors

REQUIRED_COLUMNS = ("TXN_ID", "WHSE", "ITEM", "TXN_TYPE", "QTY", "UOM", "TXN_TS")
REF_COLUMN = "REF"
# A file without a header line (e.g. one rejected row replayed from the DLQ on its own) is
# read in DESIGN's fixed order, then the default transfer columns and REF.
DEFAULT_HEADER = {
    name: i for i, name in enumerate((*REQUIRED_COLUMNS, "TO_WHSE", "XFER_ID", REF_COLUMN))
}
_MAX_TXN_ID = 100  # leaves room for the "3pl:<partner>:" prefix within 128 characters


class LocalTimestamps:
    """Reads a partner's local timestamps: `strptime` semantics, without its cost.

    `datetime.strptime` takes ~15 µs a call, most of a row's cost. A format made only of
    %Y %m %d %H %M %S %f and literal characters is compiled once to a regular expression
    with `strptime`'s own field patterns, so the same texts are accepted and unseparated
    digits split the same way ("%Y%m%d%H%M%S" reads 3927762424 as 3927-07-06 02:42:04, not
    as month 77); anything else falls back to `strptime`. Values the patterns accept but a
    date cannot hold (February 30) raise ValueError either way.
    """

    # CPython's `_strptime.TimeRE` patterns for these directives, without the group names
    _DIRECTIVES: ClassVar[dict[str, str]] = {
        "Y": r"(\d\d\d\d)",
        "m": r"(1[0-2]|0[1-9]|[1-9])",
        "d": r"(3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])",
        "H": r"(2[0-3]|[0-1]\d|\d)",
        "M": r"([0-5]\d|\d)",
        "S": r"(6[0-1]|[0-5]\d|\d)",
        "f": r"([0-9]{1,6})",
    }

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self._order: list[str] = []
        self._pattern = self._compile(fmt)

    def _compile(self, fmt: str) -> re.Pattern[str] | None:
        parts: list[str] = []
        i = 0
        while i < len(fmt):
            ch = fmt[i]
            if ch != "%":
                # strptime lets one space in the format match any run of whitespace.
                parts.append(r"\s+" if ch.isspace() else re.escape(ch))
                i += 1
                continue
            directive = fmt[i + 1 : i + 2]
            if directive == "%":
                parts.append("%")
            elif directive in self._DIRECTIVES and directive not in self._order:
                parts.append(self._DIRECTIVES[directive])
                self._order.append(directive)
            else:
                return None
            i += 2
        if not {"Y", "m", "d"} <= set(self._order):
            return None
        return re.compile("".join(parts))

    def read(self, text: str) -> datetime:
        """The naive local datetime written in `text`; ValueError when it is not one."""
        if self._pattern is None:
            return datetime.strptime(text, self.fmt)  # noqa: DTZ007 - local by design
        match = self._pattern.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} does not match {self.fmt!r}")
        values = dict(zip(self._order, match.groups(), strict=True))
        micro = values.get("f")
        return datetime(  # noqa: DTZ001 - a local wall-clock time, made aware by the caller
            int(values["Y"]),
            int(values["m"]),
            int(values["d"]),
            int(values.get("H", 0)),
            int(values.get("M", 0)),
            int(values.get("S", 0)),
            int(micro.ljust(6, "0")) if micro else 0,
        )


class PartnerBook:
    """The partner profiles of master data, indexed by the warehouse codes they use."""

    def __init__(self, index: MasterIndex) -> None:
        self.index = index
        self.by_warehouse: dict[str, PartnerProfile] = {}
        self.zones: dict[str, ZoneInfo] = {}
        self.clocks: dict[str, LocalTimestamps] = {}
        for partner in index.partners.values():
            self.zones[partner.id] = ZoneInfo(partner.timezone)
            self.clocks[partner.id] = LocalTimestamps(partner.timestamp_format)
            self.by_warehouse.setdefault(partner.site, partner)
            for code, site in partner.warehouses.items():
                if site == partner.site:
                    self.by_warehouse.setdefault(code, partner)

    def site_of(self, partner: PartnerProfile, code: str) -> str | None:
        """The site id for a warehouse code written by `partner`."""
        site = partner.warehouses.get(code, code)
        return site if site in self.index.sites else None


def normalize_3pl(book: PartnerBook, raw: bytes, partner_id: str | None = None) -> NormalizeResult:
    """Canonical events and per-row rejections for one 3PL file."""
    result = NormalizeResult()
    partner = book.index.partners.get(partner_id) if partner_id is not None else None
    if partner_id is not None and partner is None:
        result.rejections.append(
            rejection([_err("", partner_id, "unknown_partner", "no such partner profile")], raw)
        )
        return result
    lines = [(i, line) for i, line in enumerate(raw.split(b"\n")) if line.strip()]
    if not lines:
        result.rejections.append(rejection([_err("", "", "empty_file", "the file is empty")], raw))
        return result
    header = _header(lines[0][1])
    if isinstance(header, FieldError):
        result.rejections.append(rejection([header], raw))
        return result
    if header is None:  # no header line: a replayed dead-letter row, in the standard order
        header, rows = DEFAULT_HEADER, lines
    else:
        rows = lines[1:]
    for record_index, (line_no, line) in enumerate(rows):
        outcome = _row(book, partner, header, line, line_no + 1)
        if isinstance(outcome, list):
            site = _site_of_line(book, partner, header, line)
            result.rejections.append(rejection(outcome, line, record_index, site=site))
        else:
            result.events.append(outcome)
    return result


def _header(line: bytes) -> dict[str, int] | FieldError | None:
    """Column positions by name; None when the first line is a data row (no header)."""
    fields = _cells(line.removeprefix(b"\xef\xbb\xbf"))
    if isinstance(fields, FieldError):
        return None
    columns = {name.strip().upper(): i for i, name in enumerate(fields)}
    if "TXN_ID" not in columns:
        return None
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        return _err(
            "header",
            ",".join(fields)[:80],
            "bad_header",
            f"header lacks {', '.join(missing)}; expected {','.join(REQUIRED_COLUMNS)}",
        )
    return columns


def _cells(line: bytes) -> list[str] | FieldError:
    try:
        text = line.rstrip(b"\r").decode("utf-8")
        return next(csv.reader([text]))
    except UnicodeDecodeError:
        return _err("", None, "encoding", "the line is not valid UTF-8")
    except (csv.Error, StopIteration) as exc:
        return _err("", None, "malformed_row", f"not a CSV line: {exc}")


def _row(
    book: PartnerBook,
    partner: PartnerProfile | None,
    header: dict[str, int],
    line: bytes,
    line_no: int,
) -> InventoryEvent | list[FieldError]:
    cells = _cells(line)
    if isinstance(cells, FieldError):
        return [cells]
    if len(cells) < len(REQUIRED_COLUMNS) or len(cells) > len(header):
        return [
            _err(
                "",
                len(cells),
                "malformed_row",
                f"line {line_no} has {len(cells)} columns; expected {len(REQUIRED_COLUMNS)} to"
                f" {len(header)} ({','.join(header)})",
            )
        ]

    n = len(cells)
    row = {column: cells[i].strip() for column, i in header.items() if i < n}
    whse = row["WHSE"]
    partner = partner or book.by_warehouse.get(whse)
    if partner is None:
        return [_err("WHSE", whse, "unknown_site", f"no partner profile has warehouse {whse!r}")]
    return _row_event(book, partner, row)


def _site_of_line(
    book: PartnerBook, partner: PartnerProfile | None, header: dict[str, int], line: bytes
) -> str | None:
    """The canonical site of a rejected row, when its warehouse can be told (DLQ counts)."""
    cells = _cells(line)
    column = header.get("WHSE")
    if isinstance(cells, FieldError) or column is None or column >= len(cells):
        return partner.site if partner is not None else None
    whse = cells[column].strip()
    owner = partner or book.by_warehouse.get(whse)
    return book.site_of(owner, whse) if owner is not None else None


def _row_event(
    book: PartnerBook, partner: PartnerProfile, row: dict[str, str]
) -> InventoryEvent | list[FieldError]:
    index = book.index
    cell = row.get
    errors: list[FieldError] = []
    txn_id = row["TXN_ID"]
    if not txn_id or len(txn_id) > _MAX_TXN_ID:
        errors.append(_err("TXN_ID", txn_id, "schema", f"needs 1 to {_MAX_TXN_ID} characters"))
    whse = row["WHSE"]
    site = book.site_of(partner, whse)
    if site != partner.site:
        errors.append(
            _err("WHSE", whse, "unknown_site", f"{whse!r} is not the warehouse of {partner.id}")
        )
    code = row["ITEM"]
    sku = index.resolve_item(partner.id, code) or index.resolve_item(partner.site, code)
    if sku is None:
        errors.append(
            _err("ITEM", code, "unknown_sku", f"{code!r} is not an item code of {partner.id}")
        )
    event_type = partner.txn_types.get(row["TXN_TYPE"].upper())
    if event_type is None:
        known = ", ".join(sorted(partner.txn_types))
        errors.append(
            _err("TXN_TYPE", row["TXN_TYPE"], "unknown_txn_type", f"expected one of {known}")
        )
    qty = _base_qty(index, partner, sku, row["QTY"], row["UOM"], errors)
    occurred_at = _timestamp(book, partner, row["TXN_TS"], errors)
    to_code = cell(partner.to_site_column, "")
    to_site = book.site_of(partner, to_code) if to_code else None
    if to_code and to_site is None:
        errors.append(_err(partner.to_site_column, to_code, "unknown_site", "not a known site"))
    transfer_id = cell(partner.transfer_id_column) or None
    if event_type is not None and qty is not None and not errors:
        errors.extend(
            _rename(
                cross_field_errors(event_type, qty, partner.site, to_site, transfer_id), partner
            )
        )
    if errors or sku is None or event_type is None or qty is None or occurred_at is None:
        return errors
    return InventoryEvent(
        event_id=f"3pl:{partner.id}:{txn_id}",
        type=event_type,
        sku=sku,
        site=partner.site,
        qty=qty,
        uom=index.skus[sku].base_uom,
        occurred_at=occurred_at,
        source=f"3pl:{partner.id}",
        to_site=to_site,
        transfer_id=transfer_id,
        ref=cell(REF_COLUMN) or None,
    )


def _base_qty(
    index: MasterIndex,
    partner: PartnerProfile,
    sku: str | None,
    text: str,
    uom_code: str,
    errors: list[FieldError],
) -> int | None:
    try:
        qty = Decimal(text)
    except InvalidOperation:
        errors.append(_err("QTY", text, "bad_qty", "is not a number"))
        return None
    if sku is None:
        return None
    uom = partner.uom_codes.get(uom_code.upper(), uom_code)
    try:
        return index.base_qty(sku, qty, uom)
    except ConversionError as exc:
        field = "UOM" if exc.code == "unknown_uom" else "QTY"
        errors.append(_err(field, uom_code if field == "UOM" else text, exc.code, str(exc)))
        return None


def _timestamp(
    book: PartnerBook, partner: PartnerProfile, text: str, errors: list[FieldError]
) -> datetime | None:
    try:
        local = book.clocks[partner.id].read(text)
        return utc_from_local(local, book.zones[partner.id])
    except (ValueError, OverflowError) as exc:
        errors.append(
            _err(
                "TXN_TS",
                text,
                "bad_timestamp",
                f"expected {partner.timestamp_format!r} in {partner.timezone}: {exc}",
            )
        )
        return None


def _rename(errors: list[FieldError], partner: PartnerProfile) -> list[FieldError]:
    # Cross-field rules speak canonical field names; the partner reads its own columns.
    names = {
        "qty": "QTY",
        "to_site": partner.to_site_column,
        "transfer_id": partner.transfer_id_column,
    }
    return [
        FieldError(field=names.get(e.field, e.field), value=e.value, code=e.code, message=e.message)
        for e in errors
    ]


def _err(field: str, value: object, code: str, message: str) -> FieldError:
    return FieldError(field=field, value=value, code=code, message=message)
