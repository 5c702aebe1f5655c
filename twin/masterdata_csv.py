"""Reading a master-data CSV bundle: a directory with one UTF-8 CSV file per entity.

The files and their columns (header row first; columns in any order; a column marked
optional may be left out, and an empty cell takes its default) are in `BUNDLE_COLUMNS` and
in the README (`twin.masterdata_sheet`). Items, units, item-sites and aliases are read in
blocks (`twin.csv_blocks`) with C-level passes over each column (item-sites and aliases in
`twin.masterdata_csv_bulk`); a block holding any problem is read again row by row to name
each problem. Every problem is reported as
`FILE row N, column C: reason` (row 1 is the header) and nothing is returned unless the
whole bundle is right.
"""

from __future__ import annotations

import gc
import math
from array import array
from dataclasses import dataclass, field
from operator import eq
from pathlib import Path

from twin.catalog_columns import CatalogColumns, ColumnsBuilder
from twin.csv_blocks import Block, Row
from twin.errors import MasterDataError
from twin.events import EventType
from twin.masterdata import check_timestamp_format, check_timezone
from twin.masterdata_csv_bulk import read_aliases, read_item_sites
from twin.masterdata_sheet import (
    BUNDLE_COLUMNS,
    CODE_KINDS,
    EVENT_TYPES,
    FEED_MODES,
    MAX_ID_LENGTH,
    Problems,
    Sheet,
    ident,
    number,
    numbered,
    one_of,
    open_sheet,
    positive_int,
    well_formed,
)
from twin.masterdata_types import Lane, PartnerProfile, Site


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
    read_item_sites(folder, errors, builder)
    read_aliases(folder, errors, builder, set(partners))
    lanes = _read_lanes(folder, errors, builder.site_pos)
    if errors:
        raise MasterDataError(errors)
    return builder.build(profiles, lanes)


def _read_sites(folder: Path, errors: Problems) -> list[tuple[Site, int]]:
    opened = open_sheet(folder, "sites.csv", errors)
    if opened is None:
        return []
    sheet, rows = opened
    sites: list[tuple[Site, int]] = []
    seen: set[str] = set()
    for n, row in numbered(sheet, rows):
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
    opened = open_sheet(folder, "partners.csv", errors)
    if opened is None:
        return {}
    sheet, rows = opened
    partners: dict[str, _Partial] = {}
    for n, row in numbered(sheet, rows):
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
    opened = open_sheet(folder, "items.csv", errors)
    if opened is not None:
        sheet, blocks = opened
        for block in blocks:
            if not _items_fast(sheet, block, items):
                for n, row in block.numbered():
                    if well_formed(sheet, n, row):
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
    opened = open_sheet(folder, "uom_conversions.csv", errors)
    units: dict[str, list[tuple[str, int]]] = {}
    if opened is None:
        return units
    sheet, blocks = opened
    seen: set[tuple[str, str]] = set()
    for block in blocks:
        if not _conversions_fast(sheet, block, base_of, seen, units):
            for n, row in block.numbered():
                if well_formed(sheet, n, row):
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
    opened = open_sheet(folder, "partner_codes.csv", errors)
    if opened is None:
        return
    sheet, rows = opened
    for n, row in numbered(sheet, rows):
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
            event_type = EVENT_TYPES.get(value)
            if event_type is None:
                known = ", ".join(sorted(EVENT_TYPES))
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


def _read_lanes(folder: Path, errors: Problems, site_pos: dict[str, int]) -> list[Lane]:
    opened = open_sheet(folder, "lanes.csv", errors)
    if opened is None:
        return []
    sheet, rows = opened
    lanes: list[Lane] = []
    seen: set[tuple[str, str]] = set()
    for n, row in numbered(sheet, rows):
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
