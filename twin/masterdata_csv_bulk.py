"""The two big files of a master-data bundle: item_sites.csv and aliases.csv.

They come by the hundred thousand (two million item-site rows at 100,000 SKUs x 20 sites),
so each block of rows is first taken whole, in C-level passes over its columns (`*_fast`);
a block holding any problem is read again row by row to name each problem (`*_row`,
`*_slow`). Nothing of a block is placed unless the whole block is right.
"""

from __future__ import annotations

from array import array
from itertools import groupby, repeat
from operator import add, gt, mul
from pathlib import Path

from twin.catalog_columns import NO_POLICY, ColumnsBuilder
from twin.csv_blocks import Block, Row
from twin.masterdata_sheet import (
    MAX_ID_LENGTH,
    Problems,
    Sheet,
    ident,
    open_sheet,
    optional_count,
    well_formed,
)


def read_item_sites(folder: Path, errors: Problems, builder: ColumnsBuilder) -> None:
    opened = open_sheet(folder, "item_sites.csv", errors)
    if opened is None:
        return
    sheet, blocks = opened
    placed = bytearray(len(builder.reorder_point))  # which SKU-sites a row has set
    for block in blocks:
        if not _item_sites_fast(sheet, block, builder, placed):
            numbered = block.numbered()
            _item_sites_slow(
                sheet, [(n, r) for n, r in numbered if well_formed(sheet, n, r)], builder, placed
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


def read_aliases(
    folder: Path, errors: Problems, builder: ColumnsBuilder, partner_ids: set[str]
) -> None:
    opened = open_sheet(folder, "aliases.csv", errors)
    if opened is None:
        return
    sheet, blocks = opened
    scopes = set(builder.site_pos) | partner_ids
    own_ids = dict(zip(builder.sku_ids, builder.sku_ids, strict=True))  # a cell -> the id object
    for block in blocks:
        if not _aliases_fast(sheet, block, builder, scopes, own_ids):
            for n, row in block.numbered():
                if well_formed(sheet, n, row):
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
