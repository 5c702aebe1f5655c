"""The view's reorder points per (sku, site), read from master data's columns.

A catalogue of 2 million SKU-sites as a dict of `(sku, site)` tuples cost the replica 200 MB
and seconds at start. `ColumnReorderPoints` copies the index's dense figure array and its
SKU and site positions once (a few tens of MB, milliseconds) and answers from them, with the
changes the view makes afterwards (live master data) kept in a small overlay. It is a copy,
not the index itself: the index moves first when a change arrives, and the view must still
see the figure it had, to know its at-risk standing has to follow.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, MutableMapping

from twin.catalog_columns import NO_POLICY, CatalogColumns

Key = tuple[str, str]
_REMOVED = NO_POLICY  # in the overlay: the figure is gone though the columns still hold one


class ColumnReorderPoints(MutableMapping[Key, int]):
    """`(sku, site) -> reorder point` for SKU-sites with one; a mapping like the dict it
    replaces (`get`, `[]=`, `pop`, `len`, iteration)."""

    def __init__(self, cols: CatalogColumns) -> None:
        self._points: array[int] = array("q", cols.reorder_point)
        self._sku_pos = dict(cols.sku_pos)
        self._site_pos = dict(cols.site_pos)
        self._n_sites = len(self._site_pos)
        self._overlay: dict[Key, int] = {}

    def _column_value(self, key: Key) -> int:
        i = self._sku_pos.get(key[0])
        s = self._site_pos.get(key[1])
        if i is None or s is None:
            return NO_POLICY
        return self._points[i * self._n_sites + s]

    def __getitem__(self, key: Key) -> int:
        point = self._overlay.get(key)
        if point is None:
            point = self._column_value(key)
        if point == NO_POLICY:
            raise KeyError(key)
        return point

    def get(self, key: Key, default: int | None = None) -> int | None:  # type: ignore[override]
        # the view asks this per site of every position applied: kept free of exceptions
        point = self._overlay.get(key)
        if point is None:
            point = self._column_value(key)
        return default if point == NO_POLICY else point

    def __setitem__(self, key: Key, point: int) -> None:
        self._overlay[key] = point

    def __delitem__(self, key: Key) -> None:
        self[key]  # KeyError when there is none, as a dict
        self._overlay[key] = _REMOVED

    def _keys(self) -> Iterator[Key]:
        sites = sorted(self._site_pos, key=self._site_pos.__getitem__)
        for sku, i in self._sku_pos.items():
            base = i * self._n_sites
            for s, site in enumerate(sites):
                key = (sku, site)
                if key not in self._overlay and self._points[base + s] != NO_POLICY:
                    yield key
        for key, point in self._overlay.items():
            if point != NO_POLICY:
                yield key

    def __iter__(self) -> Iterator[Key]:
        return self._keys()

    def __len__(self) -> int:
        return sum(1 for _ in self._keys())
