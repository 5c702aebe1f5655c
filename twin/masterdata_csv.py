"""Reading a master-data CSV bundle: a directory with one UTF-8 CSV file per entity.

The files and their columns (header row first; columns in any order; a column marked
optional may be left out, and an empty cell takes its default) are in `BUNDLE_COLUMNS` and
in the README. Item-site and alias rows come by the hundred thousand, so they are read in
blocks (`twin.csv_blocks`) with one C-level pass per column; a block holding any problem is
read again row by row to name each problem. Every problem is reported as
`FILE row N, column C: reason` (row 1 is the header) and nothing is returned unless the
whole bundle is right.
"""

from __future__ import annotations

import csv
import gc
import math
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import groupby, repeat
from operator import add, eq, gt, mul
from pathlib import Path
from typing import TextIO, TypeVar

from twin.catalog_columns import NO_POLICY, CatalogColumns, ColumnsBuilder
from twin.csv_blocks import Block, CsvReadError, Row, read_blocks, read_header
from twin.errors import MasterDataError
from twin.events import EventType
from twin.masterdata import check_timestamp_format, check_timezone
from twin.masterdata_types import Lane, PartnerProfile, Site

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
_EVENT_TYPES = {t.value: t for t in EventType}

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


def _open_sheet(folder: Path, name: str, errors: Problems) -> tuple[Sheet, Blocks] | None:
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


def _well_formed(sheet: Sheet, n: int, row: Row) -> bool:
    """Whether the row has the header's width; a row of another width is an error unless blank."""
    if len(row) == sheet.width:
        return True
    if any(cell.strip() for cell in row):
        sheet.errors.append(
            f"{sheet.name} row {n}: has {len(row)} cells, the header has {sheet.width}"
        )
    return False


def _numbered(sheet: Sheet, blocks: Blocks) -> Iterator[tuple[int, Row]]:
    """(row number, cells) of each well-formed data row."""
    for block in blocks:
        for n, row in block.numbered():
            if _well_formed(sheet, n, row):
                yield n, row


@dataclass
class _Partial:
    """A partner profile being read: partners.csv's row and the codes partner_codes.csv adds."""

    row: int
    fields: dict[str, str]
    txn_types: dict[str, EventType] = field(default_factory=dict)
    uom_codes: dict[str, str] = field(default_factory=dict)
    warehouses: dict[str, str] = field(default_factory=dict)


def read_bundle(path: str | Path) -> CatalogColumns:
    """Read and check a CSV bundle into columns; `MasterDataError` lists every problem."""
    folder = Path(path)
    if not folder.is_dir():
        raise MasterDataError([f"{folder}: not a directory (a bundle is a directory of CSV files)"])
    # Millions of short-lived lists and none in a cycle: the cyclic collector would only
    # rescan the growing catalogue again and again (it doubles the load time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read_bundle(folder)
    finally:
        if collecting:
            gc.enable()


def _read_bundle(folder: Path) -> CatalogColumns:
    errors = Problems()
    for extra in sorted(p.name for p in folder.glob("*.csv") if p.name not in BUNDLE_COLUMNS):
        errors.append(f"{extra}: unknown file (known: {', '.join(BUNDLE_COLUMNS)})")
    sites = _read_sites(folder, errors)
    partners = _read_partners(folder, errors, {s.id for s, _ in sites})
    builder = ColumnsBuilder([s for s, _ in sites])
    _read_items(folder, errors, builder)
    _read_partner_codes(folder, errors, partners, builder)
    profiles = _check_partners_and_sites(errors, partners, sites)
    _read_item_sites(folder, errors, builder)
    _read_aliases(folder, errors, builder, set(partners))
    lanes = _read_lanes(folder, errors, builder.site_pos)
    if errors:
        raise MasterDataError(errors)
    return builder.build(profiles, lanes)


def _read_sites(folder: Path, errors: Problems) -> list[tuple[Site, int]]:
    opened = _open_sheet(folder, "sites.csv", errors)
    if opened is None:
        return []
    sheet, rows = opened
    sites: list[tuple[Site, int]] = []
    seen: set[str] = set()
    for n, row in _numbered(sheet, rows):
        site_id = sheet.parse(n, row, "site", ident)
        mode = sheet.parse(n, row, "feed_mode", one_of(FEED_MODES))
        interval = sheet.parse(n, row, "expected_interval_s", lambda t: number(t, positive=True))
        zone = sheet.cell(row, "timezone")
        errors.extend(check_timezone(f"sites.csv row {n}, column timezone", zone))
        if site_id is None or mode is None or interval is None:
            if site_id is not None:
                errors.broken.add(site_id)
            continue
        if site_id in seen:
            sheet.error(n, "site", f"duplicate site {site_id!r}")
            continue
        seen.add(site_id)
        site = Site(
            id=site_id,
            name=sheet.cell(row, "name"),
            kind=sheet.cell(row, "kind"),
            region=sheet.cell(row, "region"),
            feed_mode=mode,  # type: ignore[arg-type]
            expected_interval_s=interval,
            timezone=zone,
            partner=sheet.cell(row, "partner") or None,
        )
        sites.append((site, n))
    return sites


def _read_partners(folder: Path, errors: Problems, site_ids: set[str]) -> dict[str, _Partial]:
    opened = _open_sheet(folder, "partners.csv", errors)
    if opened is None:
        return {}
    sheet, rows = opened
    partners: dict[str, _Partial] = {}
    for n, row in _numbered(sheet, rows):
        partner_id = sheet.parse(n, row, "partner", ident)
        site = sheet.cell(row, "site")
        if site not in site_ids:
            sheet.unknown(n, "site", site, f"unknown site {site!r} (not in sites.csv)")
        zone = sheet.cell(row, "timezone")
        errors.extend(check_timezone(f"partners.csv row {n}, column timezone", zone))
        fmt = sheet.cell(row, "timestamp_format")
        errors.extend(check_timestamp_format(f"partners.csv row {n}, column timestamp_format", fmt))
        if partner_id is None:
            continue
        if partner_id in partners:
            sheet.error(n, "partner", f"duplicate partner {partner_id!r}")
            continue
        fields = {c: sheet.cell(row, c) for c in ("name", "site", "timezone", "timestamp_format")}
        fields["to_site_column"] = sheet.cell(row, "to_site_column")
        fields["transfer_id_column"] = sheet.cell(row, "transfer_id_column")
        partners[partner_id] = _Partial(row=n, fields=fields)
    return partners


@dataclass
class _Items:
    """items.csv as columns, in file order (each SKU once)."""

    skus: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)
    values: array[float] = field(default_factory=lambda: array("d"))
    base_of: dict[str, str] = field(default_factory=dict)


def _read_items(folder: Path, errors: Problems, builder: ColumnsBuilder) -> None:
    items = _Items()
    opened = _open_sheet(folder, "items.csv", errors)
    if opened is not None:
        sheet, blocks = opened
        for block in blocks:
            if not _items_fast(sheet, block, items):
                for n, row in block.numbered():
                    if _well_formed(sheet, n, row):
                        _item_row(sheet, n, row, items)
    extra_units = _read_conversions(folder, errors, items.base_of)
    builder.add_skus(items.skus, items.names, items.bases, items.values, extra_units)


def _items_fast(sheet: Sheet, block: Block, items: _Items) -> bool:
    """Add a block of right items in C-level passes; False (nothing added) to read it slowly."""
    if not block.uniform:
        return False
    skus, bases = block.column(sheet.index["sku"]), block.column(sheet.index["base_uom"])
    for ids in (skus, bases):
        if min(map(len, ids)) == 0 or max(map(len, ids)) > MAX_ID_LENGTH:
            return False
    try:
        values = array("d", map(float, block.column(sheet.index["unit_value"])))
    except ValueError:
        return False
    if not all(map(math.isfinite, values)) or min(values) < 0:
        return False
    if len(set(skus)) != len(skus) or not items.base_of.keys().isdisjoint(skus):
        return False  # a SKU given twice
    at_name = sheet.index.get("name")
    items.skus.extend(skus)
    items.names.extend([""] * len(skus) if at_name is None else block.column(at_name))
    items.bases.extend(bases)
    items.values.extend(values)
    items.base_of.update(zip(skus, bases, strict=True))
    return True


def _item_row(sheet: Sheet, n: int, row: Row, items: _Items) -> None:
    sku = sheet.parse(n, row, "sku", ident)
    base = sheet.parse(n, row, "base_uom", ident)
    value = sheet.parse(n, row, "unit_value", lambda t: number(t, positive=False))
    if sku is None:
        return
    if sku in items.base_of:
        sheet.error(n, "sku", f"duplicate sku {sku!r}")
    elif base is None or value is None:
        sheet.errors.broken.add(sku)
    else:
        items.skus.append(sku)
        items.names.append(sheet.cell(row, "name"))
        items.bases.append(base)
        items.values.append(value)
        items.base_of[sku] = base


def _read_conversions(
    folder: Path, errors: Problems, base_of: dict[str, str]
) -> dict[str, list[tuple[str, int]]]:
    """Each SKU's units besides its base unit (a row for the base unit must say factor 1)."""
    opened = _open_sheet(folder, "uom_conversions.csv", errors)
    units: dict[str, list[tuple[str, int]]] = {}
    if opened is None:
        return units
    sheet, blocks = opened
    seen: set[tuple[str, str]] = set()
    for block in blocks:
        if not _conversions_fast(sheet, block, base_of, seen, units):
            for n, row in block.numbered():
                if _well_formed(sheet, n, row):
                    _conversion_row(sheet, n, row, base_of, seen, units)
    return units


def _conversions_fast(
    sheet: Sheet,
    block: Block,
    base_of: dict[str, str],
    seen: set[tuple[str, str]],
    units: dict[str, list[tuple[str, int]]],
) -> bool:
    """Add a block of right non-base units in C-level passes; False to read it slowly."""
    if not block.uniform:
        return False
    skus, uoms = block.column(sheet.index["sku"]), block.column(sheet.index["uom"])
    try:
        factors = array("q", map(int, block.column(sheet.index["factor"])))
    except (ValueError, OverflowError):
        return False
    if min(factors) < 1 or min(map(len, uoms)) == 0 or max(map(len, uoms)) > MAX_ID_LENGTH:
        return False
    bases = list(map(base_of.get, skus))
    if None in bases or any(map(eq, uoms, bases)):
        return False  # an unknown SKU, or a row for a base unit
    pairs = list(zip(skus, uoms, strict=True))
    if len(set(pairs)) != len(pairs) or not seen.isdisjoint(pairs):
        return False  # a unit given twice
    seen.update(pairs)
    for sku, uom, factor in zip(skus, uoms, factors, strict=True):
        units.setdefault(sku, []).append((uom, factor))
    return True


def _conversion_row(
    sheet: Sheet,
    n: int,
    row: Row,
    base_of: dict[str, str],
    seen: set[tuple[str, str]],
    units: dict[str, list[tuple[str, int]]],
) -> None:
    sku = sheet.cell(row, "sku")
    base = base_of.get(sku)
    if base is None:
        sheet.unknown(n, "sku", sku, f"unknown sku {sku!r} (not in items.csv)")
        return
    uom = sheet.parse(n, row, "uom", ident)
    factor = sheet.parse(n, row, "factor", positive_int)
    if uom is None or factor is None:
        return
    if (sku, uom) in seen:
        sheet.error(n, "uom", f"sku {sku} has unit {uom!r} twice")
    elif uom == base:
        if factor != 1:
            sheet.error(n, "factor", f"{uom!r} is the base unit of {sku}: its factor is 1")
    else:
        units.setdefault(sku, []).append((uom, factor))
    seen.add((sku, uom))


def _read_partner_codes(
    folder: Path, errors: Problems, partners: dict[str, _Partial], builder: ColumnsBuilder
) -> None:
    opened = _open_sheet(folder, "partner_codes.csv", errors)
    if opened is None:
        return
    sheet, rows = opened
    for n, row in _numbered(sheet, rows):
        partner_id, code = sheet.cell(row, "partner"), sheet.parse(n, row, "code", ident)
        kind = sheet.parse(n, row, "kind", one_of(CODE_KINDS))
        value = sheet.cell(row, "value")
        partner = partners.get(partner_id)
        if partner is None:
            sheet.unknown(
                n, "partner", partner_id, f"unknown partner {partner_id!r} (not in partners.csv)"
            )
            continue
        if kind is None or code is None:
            continue
        taken = (
            partner.txn_types
            if kind == "txn_type"
            else partner.uom_codes
            if kind == "uom"
            else partner.warehouses
        )
        if code in taken:
            sheet.error(n, "code", f"{kind} code {code!r} of {partner_id} appears twice")
        elif kind == "txn_type":
            event_type = _EVENT_TYPES.get(value)
            if event_type is None:
                known = ", ".join(sorted(_EVENT_TYPES))
                sheet.error(n, "value", f"{value!r} is not an event type ({known})")
            else:
                partner.txn_types[code] = event_type
        elif kind == "uom":
            if value not in builder.uom_pos:
                sheet.unknown(n, "value", value, f"unit {value!r} is a unit of no SKU")
            else:
                partner.uom_codes[code] = value
        elif value not in builder.site_pos:
            sheet.unknown(n, "value", value, f"unknown site {value!r} (not in sites.csv)")
        else:
            partner.warehouses[code] = value


def _check_partners_and_sites(
    errors: Problems, partners: dict[str, _Partial], sites: list[tuple[Site, int]]
) -> list[PartnerProfile]:
    profiles: list[PartnerProfile] = []
    for partner_id, partial in partners.items():
        if not partial.txn_types:
            errors.append(
                f"partners.csv row {partial.row}, column partner: {partner_id} has no txn_type"
                " codes in partner_codes.csv"
            )
            continue
        f = partial.fields
        profiles.append(
            PartnerProfile(
                id=partner_id,
                name=f["name"],
                site=f["site"],
                txn_types=partial.txn_types,
                timezone=f["timezone"],
                timestamp_format=f["timestamp_format"],
                uom_codes=partial.uom_codes,
                warehouses=partial.warehouses,
                to_site_column=f["to_site_column"],
                transfer_id_column=f["transfer_id_column"],
            )
        )
    partner_sites = {p.fields["site"] for p in partners.values()}
    for site, n in sites:
        if site.partner is not None and site.partner not in partners:
            errors.append(
                f"sites.csv row {n}, column partner: {site.partner!r} is not in partners.csv"
            )
        if site.feed_mode == "3pl" and site.id not in partner_sites:
            errors.append(
                f"sites.csv row {n}, column feed_mode: 3pl needs a partner in partners.csv"
                f" whose site is {site.id}"
            )
    return profiles


def _read_item_sites(folder: Path, errors: Problems, builder: ColumnsBuilder) -> None:
    opened = _open_sheet(folder, "item_sites.csv", errors)
    if opened is None:
        return
    sheet, blocks = opened
    placed = bytearray(len(builder.reorder_point))  # which SKU-sites a row has set
    for block in blocks:
        if not _item_sites_fast(sheet, block, builder, placed):
            numbered = block.numbered()
            _item_sites_slow(
                sheet, [(n, r) for n, r in numbered if _well_formed(sheet, n, r)], builder, placed
            )


def _item_sites_fast(
    sheet: Sheet, block: Block, builder: ColumnsBuilder, placed: bytearray
) -> bool:
    """Place a block whose every cell is right, in C-level passes; False to read it slowly.

    Nothing is placed unless the whole block is right.
    """
    at = sheet.index
    if "reorder_point" not in at or "target" not in at or not block.uniform:
        return False
    skus, sites = block.column(at["sku"]), block.column(at["site"])
    try:
        points = array("q", map(int, block.column(at["reorder_point"])))
        targets = array("q", map(int, block.column(at["target"])))
    except (ValueError, OverflowError):
        return False  # an empty or bad cell
    if min(points) < 0 or min(targets) < 0 or any(map(gt, points, targets)):
        return False
    span = _canonical_span(builder, skus, sites)
    if span is not None:
        lo, hi = span
        if 1 in placed[lo:hi]:
            return False  # a SKU-site given twice
        placed[lo:hi] = b"\x01" * (hi - lo)
        builder.reorder_point[lo:hi] = points
        builder.target[lo:hi] = targets
        return True
    sku_at = list(map(builder.sku_pos.get, skus))
    site_at = list(map(builder.site_pos.get, sites))
    if None in sku_at or None in site_at:
        return False
    offsets = list(map(add, map(mul, sku_at, repeat(len(builder.sites))), site_at))
    if any(map(placed.__getitem__, offsets)) or len(set(offsets)) != len(offsets):
        return False  # a SKU-site given twice
    reorder_point, target = builder.reorder_point, builder.target
    for offset, point, goal in zip(offsets, points, targets, strict=True):
        placed[offset] = 1
        reorder_point[offset] = point
        target[offset] = goal
    return True


def _canonical_span(
    builder: ColumnsBuilder, skus: list[str], sites: list[str]
) -> tuple[int, int] | None:
    """The SKU-sites `lo:hi` when the rows run SKU by SKU over every site in order.

    That is the shape an export has, and it is checked by comparing the columns with the
    ids they must hold (string comparisons) instead of looking every cell up.
    """
    n = len(builder.sites)
    i, s = builder.sku_pos.get(skus[0]), builder.site_pos.get(sites[0])
    if i is None or s is None:
        return None
    lo = i * n + s
    hi = lo + len(skus)
    if hi > len(builder.reorder_point):
        return None
    # Row j is at site (s + j) % n, of SKU i + (s + j) // n: every n-th row from j0 on is
    # one site's, of consecutive SKUs. Slices and list comparisons, all in C.
    site_ids = [site.id for site in builder.sites]
    sku_ids = builder.sku_ids
    for j0 in range(min(n, len(skus))):
        column_skus = skus[j0::n]
        first = i + (s + j0) // n
        if column_skus != sku_ids[first : first + len(column_skus)]:
            return None
        column_sites = sites[j0::n]
        if column_sites.count(site_ids[(s + j0) % n]) != len(column_sites):
            return None
    return lo, hi


def _item_sites_slow(
    sheet: Sheet, chunk: list[tuple[int, Row]], builder: ColumnsBuilder, placed: bytearray
) -> None:
    n_sites = len(builder.sites)
    for n, row in chunk:
        sku, site = sheet.cell(row, "sku"), sheet.cell(row, "site")
        i, s = builder.sku_pos.get(sku), builder.site_pos.get(site)
        if i is None:
            sheet.unknown(n, "sku", sku, f"unknown sku {sku!r} (not in items.csv)")
        if s is None:
            sheet.unknown(n, "site", site, f"unknown site {site!r} (not in sites.csv)")
        point = sheet.parse(n, row, "reorder_point", optional_count)
        goal = sheet.parse(n, row, "target", optional_count)
        if i is None or s is None or point is None or goal is None:
            continue
        if point != NO_POLICY and goal != NO_POLICY and point > goal:
            sheet.error(n, "reorder_point", f"{point} is above the target {goal}")
            continue
        offset = i * n_sites + s
        if placed[offset]:
            sheet.error(n, "site", f"sku {sku} at {site} appears twice")
            continue
        placed[offset] = 1
        builder.reorder_point[offset] = point
        builder.target[offset] = goal


def _read_aliases(
    folder: Path, errors: Problems, builder: ColumnsBuilder, partner_ids: set[str]
) -> None:
    opened = _open_sheet(folder, "aliases.csv", errors)
    if opened is None:
        return
    sheet, blocks = opened
    scopes = set(builder.site_pos) | partner_ids
    own_ids = dict(zip(builder.sku_ids, builder.sku_ids, strict=True))  # a cell -> the id object
    for block in blocks:
        if not _aliases_fast(sheet, block, builder, scopes, own_ids):
            for n, row in block.numbered():
                if _well_formed(sheet, n, row):
                    _alias_row(sheet, n, row, builder, scopes)


def _aliases_fast(
    sheet: Sheet, block: Block, builder: ColumnsBuilder, scopes: set[str], own_ids: dict[str, str]
) -> bool:
    """Add a block of right aliases in C-level passes; False to read it slowly.

    Nothing is added unless the whole block is right. Rows come grouped by scope (a
    scope's codes in one run), as an export writes them.
    """
    if not block.uniform:
        return False
    scope_column = block.column(sheet.index["scope"])
    codes = block.column(sheet.index["code"])
    sku_ids = list(map(own_ids.get, block.column(sheet.index["sku"])))
    if None in sku_ids or min(map(len, codes)) == 0 or max(map(len, codes)) > MAX_ID_LENGTH:
        return False
    runs: list[tuple[str, int, int]] = []
    lo = 0
    for scope, group in groupby(scope_column):
        hi = lo + len(list(group))
        runs.append((scope, lo, hi))
        lo = hi
    if len({scope for scope, _, _ in runs}) != len(runs) or not {r[0] for r in runs} <= scopes:
        return False
    for scope, lo, hi in runs:
        run_codes = codes[lo:hi]
        known = builder.aliases.get(scope, {})
        if not known.keys().isdisjoint(run_codes) or len(set(run_codes)) != hi - lo:
            return False  # a code given twice
    for scope, lo, hi in runs:
        known = builder.aliases.setdefault(scope, {})
        known.update(zip(codes[lo:hi], sku_ids[lo:hi], strict=True))  # type: ignore[arg-type]
    return True


def _alias_row(sheet: Sheet, n: int, row: Row, builder: ColumnsBuilder, scopes: set[str]) -> None:
    scope, code, sku = (sheet.cell(row, c) for c in ("scope", "code", "sku"))
    i = builder.sku_pos.get(sku)
    if scope not in scopes:
        sheet.unknown(n, "scope", scope, f"{scope!r} is neither a site nor a partner")
    elif i is None:
        sheet.unknown(n, "sku", sku, f"unknown sku {sku!r} (not in items.csv)")
    elif sheet.parse(n, row, "code", ident) is not None:
        codes = builder.aliases.setdefault(scope, {})
        if code in codes:
            sheet.error(n, "code", f"code {code!r} appears twice in scope {scope!r}")
        else:
            codes[code] = builder.sku_ids[i]


def _read_lanes(folder: Path, errors: Problems, site_pos: dict[str, int]) -> list[Lane]:
    opened = _open_sheet(folder, "lanes.csv", errors)
    if opened is None:
        return []
    sheet, rows = opened
    lanes: list[Lane] = []
    seen: set[tuple[str, str]] = set()
    for n, row in _numbered(sheet, rows):
        ends = sheet.cell(row, "from_site"), sheet.cell(row, "to_site")
        hours = sheet.parse(n, row, "transit_hours", lambda t: number(t, positive=True))
        bad = False
        for column, site in zip(("from_site", "to_site"), ends, strict=True):
            if site not in site_pos:
                sheet.unknown(n, column, site, f"unknown site {site!r} (not in sites.csv)")
                bad = True
        if ends[0] == ends[1]:
            sheet.error(n, "to_site", "a lane must join two different sites")
            bad = True
        elif ends in seen:
            sheet.error(n, "to_site", f"duplicate lane {ends[0]}->{ends[1]}")
            bad = True
        seen.add(ends)
        if not bad and hours is not None:
            lanes.append(Lane(from_site=ends[0], to_site=ends[1], transit_hours=hours))
    return lanes
