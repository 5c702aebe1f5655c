"""Writing master data as a CSV bundle (what `twin.masterdata_csv.read_bundle` reads back).

Written straight from columns, a row at a time, so a catalogue of 100,000 SKUs x 20 sites
never exists as structs. Each file is written beside its final name and moved into place,
so a reader never sees half a file; files of entities with no rows are still written (a
header alone), so the bundle says plainly that it has none.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from twin.catalog_columns import NO_POLICY, CatalogColumns

# The column order written (the reader takes any order).
_HEADERS: dict[str, tuple[str, ...]] = {
    "sites.csv": (
        "site",
        "name",
        "kind",
        "region",
        "feed_mode",
        "expected_interval_s",
        "timezone",
        "partner",
    ),
    "items.csv": ("sku", "name", "base_uom", "unit_value"),
    "uom_conversions.csv": ("sku", "uom", "factor"),
    "item_sites.csv": ("sku", "site", "reorder_point", "target"),
    "aliases.csv": ("scope", "code", "sku"),
    "partners.csv": (
        "partner",
        "name",
        "site",
        "timezone",
        "timestamp_format",
        "to_site_column",
        "transfer_id_column",
    ),
    "partner_codes.csv": ("partner", "kind", "code", "value"),
    "lanes.csv": ("from_site", "to_site", "transit_hours"),
}


def write_bundle(columns: CatalogColumns, folder: str | Path) -> dict[str, int]:
    """Write `columns` as a bundle in `folder` (created if needed); rows written per file."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, Iterable[Sequence[Any]]] = {
        "sites.csv": (
            (
                s.id,
                s.name,
                s.kind,
                s.region,
                s.feed_mode,
                s.expected_interval_s,
                s.timezone,
                s.partner or "",
            )
            for s in columns.sites
        ),
        "items.csv": _items(columns),
        "uom_conversions.csv": _conversions(columns),
        "item_sites.csv": _item_sites(columns),
        "aliases.csv": (
            (scope, code, sku)
            for scope, codes in columns.aliases.items()
            for code, sku in codes.items()
        ),
        "partners.csv": (
            (
                p.id,
                p.name,
                p.site,
                p.timezone,
                p.timestamp_format,
                p.to_site_column,
                p.transfer_id_column,
            )
            for p in columns.partners
        ),
        "partner_codes.csv": (
            row
            for p in columns.partners
            for row in (
                *((p.id, "txn_type", code, t.value) for code, t in p.txn_types.items()),
                *((p.id, "uom", code, uom) for code, uom in p.uom_codes.items()),
                *((p.id, "warehouse", code, site) for code, site in p.warehouses.items()),
            )
        ),
        "lanes.csv": ((lane.from_site, lane.to_site, lane.transit_hours) for lane in columns.lanes),
    }
    return {name: _write(out / name, _HEADERS[name], rows) for name, rows in tables.items()}


def _write(path: Path, header: tuple[str, ...], rows: Iterable[Sequence[Any]]) -> int:
    partial = path.with_name(path.name + ".part")
    counter = _Counter(rows)
    with partial.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(counter)
    partial.replace(path)
    return counter.count


class _Counter:
    """Counts the rows it passes on (writerows takes an iterable and says nothing)."""

    def __init__(self, rows: Iterable[Sequence[Any]]) -> None:
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Any:
        for row in self._rows:
            self.count += 1
            yield row


def _items(columns: CatalogColumns) -> Iterable[tuple[str, str, str, float]]:
    uoms, base = columns.uoms, columns.base_uom
    return zip(
        columns.sku_ids,
        columns.sku_names,
        (uoms[u] for u in base),
        columns.unit_value,
        strict=True,
    )


def _conversions(columns: CatalogColumns) -> Iterable[tuple[str, str, int]]:
    # The base unit is implied (factor 1), so only the other units are rows.
    uoms, start = columns.uoms, columns.factor_start
    factor_uom, factor_value = columns.factor_uom, columns.factor_value
    for i, sku in enumerate(columns.sku_ids):
        for j in range(start[i] + 1, start[i + 1]):
            yield sku, uoms[factor_uom[j]], factor_value[j]


def _item_sites(columns: CatalogColumns) -> Iterable[tuple[str, str, int | str, int | str]]:
    site_ids = [s.id for s in columns.sites]
    n = len(site_ids)
    points, targets = columns.reorder_point, columns.target
    for i, sku in enumerate(columns.sku_ids):
        row = i * n
        for s, site in enumerate(site_ids):
            point, target = points[row + s], targets[row + s]
            if point == NO_POLICY and target == NO_POLICY:
                continue
            yield (
                sku,
                site,
                "" if point == NO_POLICY else point,
                "" if target == NO_POLICY else target,
            )
