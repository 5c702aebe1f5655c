"""One CSV file of a master-data bundle: its columns, its cells' parsers, its located errors.

`BUNDLE_COLUMNS` says which columns each file has (required, and optional with defaults);
`open_sheet` checks a file's header and hands its rows over in blocks (`twin.csv_blocks`);
every problem goes into `Problems` as `FILE row N, column C: reason` (row 1 is the header).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

from twin.catalog_columns import NO_POLICY
from twin.csv_blocks import Block, CsvReadError, Row, read_blocks, read_header
from twin.events import EventType

# file -> (required columns, optional columns with their defaults)
BUNDLE_COLUMNS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "sites.csv": (
        ("site", "feed_mode"),
        {
            "name": "",
            "kind": "warehouse",
            "region": "",
            "expected_interval_s": "60",
            "timezone": "UTC",
            "partner": "",
        },
    ),
    "items.csv": (("sku", "base_uom", "unit_value"), {"name": ""}),
    "uom_conversions.csv": (("sku", "uom", "factor"), {}),
    "item_sites.csv": (("sku", "site"), {"reorder_point": "", "target": ""}),
    "aliases.csv": (("scope", "code", "sku"), {}),
    "partners.csv": (
        ("partner", "site"),
        {
            "name": "",
            "timezone": "UTC",
            "timestamp_format": "%Y-%m-%d %H:%M:%S",
            "to_site_column": "TO_WHSE",
            "transfer_id_column": "XFER_ID",
        },
    ),
    "partner_codes.csv": (("partner", "kind", "code", "value"), {}),
    "lanes.csv": (("from_site", "to_site", "transit_hours"), {}),
}
REQUIRED_FILES = ("sites.csv", "items.csv")
CODE_KINDS = ("txn_type", "uom", "warehouse")  # partner_codes.csv `kind`
FEED_MODES = ("api", "batch", "3pl")
MAX_ID_LENGTH = 128
EVENT_TYPES = {t.value: t for t in EventType}

T = TypeVar("T")


class Problems(list[str]):
    """The problems found so far, and the ids whose own row was wrong.

    Rows that name a broken id are not reported again for it: one bad site row should not
    bury the report under every item-site, alias and lane of that site.
    """

    def __init__(self) -> None:
        super().__init__()
        self.broken: set[str] = set()


class CellError(ValueError):
    """A cell's value is wrong; the message is the reason."""


@dataclass
class Sheet:
    """One file of the bundle being read: where its columns are, and the problems found."""

    name: str
    errors: Problems
    index: dict[str, int] = field(default_factory=dict)  # column -> position in a row
    defaults: dict[str, str] = field(default_factory=dict)  # optional columns left out
    width: int = 0

    def error(self, row: int, column: str, reason: str) -> None:
        self.errors.append(f"{self.name} row {row}, column {column}: {reason}")

    def unknown(self, row: int, column: str, value: str, reason: str) -> None:
        """Report `value` as unknown, unless it is an id whose own row was already reported."""
        if value not in self.errors.broken:
            self.error(row, column, reason)

    def cell(self, row: Row, column: str) -> str:
        at = self.index.get(column)
        return self.defaults[column] if at is None else (row[at] or self.defaults.get(column, ""))

    def parse(self, n: int, row: Row, column: str, parse: Callable[[str], T]) -> T | None:
        try:
            return parse(self.cell(row, column))
        except CellError as exc:
            self.error(n, column, str(exc))
            return None


# ------------------------------------------------------------------------- cell parsers


def ident(text: str) -> str:
    if not text:
        raise CellError("is empty (an id is required)")
    if len(text) > MAX_ID_LENGTH:
        raise CellError(f"{text[:20]!r}... is longer than {MAX_ID_LENGTH} characters")
    return text


def count(text: str) -> int:
    """A whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise CellError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise CellError(f"{value} is negative")
    return value


def optional_count(text: str) -> int:
    return NO_POLICY if text == "" else count(text)


def positive_int(text: str) -> int:
    value = count(text)
    if value == 0:
        raise CellError("must be at least 1")
    return value


def number(text: str, *, positive: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CellError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise CellError(f"{text!r} must be a finite number {'> 0' if positive else '>= 0'}")
    return value


def one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise CellError(f"{text!r} is not one of {', '.join(choices)}")
        return text

    return parse


# ------------------------------------------------------------------------- reading files


Blocks = Iterator[Block]


def open_sheet(folder: Path, name: str, errors: Problems) -> tuple[Sheet, Blocks] | None:
    """The file's sheet and its data rows in blocks; None when the file is absent or unreadable."""
    path = folder / name
    if not path.exists():
        if name in REQUIRED_FILES:
            errors.append(f"{name}: missing (the bundle needs it)")
        return None
    required, optional = BUNDLE_COLUMNS[name]
    sheet = Sheet(name, errors)
    try:
        handle: TextIO = path.open(encoding="utf-8-sig", newline="")  # -sig: Excel's BOM
        header = read_header(handle)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        errors.append(f"{name}: cannot read: {exc}")
        return None
    known = set(required) | set(optional)
    for at, column in enumerate(header):
        if column not in known:
            sheet.error(1, column, f"unknown column (known: {', '.join(sorted(known))})")
        elif column in sheet.index:
            sheet.error(1, column, "appears twice")
        else:
            sheet.index[column] = at
    for column in required:
        if column not in sheet.index:
            sheet.error(1, column, "missing (a required column)")
    sheet.defaults = dict(optional)
    sheet.width = len(header)
    if any(c not in sheet.index for c in required):
        handle.close()
        return sheet, iter(())
    return sheet, _blocks(sheet, handle)


def _blocks(sheet: Sheet, handle: TextIO) -> Blocks:
    with handle:
        try:
            yield from read_blocks(handle, sheet.width)
        except CsvReadError as exc:
            sheet.errors.append(f"{sheet.name}: {exc}")


def well_formed(sheet: Sheet, n: int, row: Row) -> bool:
    """Whether the row has the header's width; a row of another width is an error unless blank."""
    if len(row) == sheet.width:
        return True
    if any(cell.strip() for cell in row):
        sheet.errors.append(
            f"{sheet.name} row {n}: has {len(row)} cells, the header has {sheet.width}"
        )
    return False


def numbered(sheet: Sheet, blocks: Blocks) -> Iterator[tuple[int, Row]]:
    """(row number, cells) of each well-formed data row."""
    for block in blocks:
        for n, row in block.numbered():
            if well_formed(sheet, n, row):
                yield n, row
