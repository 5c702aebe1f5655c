"""The view's reorder points read from master data's columns behave as the dict they replace."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.reorder_points import ColumnReorderPoints
from twin.catalog_columns import NO_POLICY
from twin.masterdata import load_master_index

BUNDLE = Path(__file__).parents[2] / "examples" / "network-bundle"


def _as_dict() -> tuple[ColumnReorderPoints, dict[tuple[str, str], int]]:
    cols = load_master_index(BUNDLE).columns
    expected = {}
    for i, sku in enumerate(cols.sku_ids):
        for s, site in enumerate(cols.sites):
            point = cols.reorder_point[i * len(cols.sites) + s]
            if point != NO_POLICY:
                expected[(sku, site.id)] = point
    return ColumnReorderPoints(cols), expected


def test_every_reorder_point_of_the_bundle_is_read_from_its_columns() -> None:
    points, expected = _as_dict()
    assert expected, "the example bundle has reorder points"
    assert dict(points) == expected and len(points) == len(expected)
    assert points.get(("NO-SUCH-SKU", "WH-01"), 0) == 0
    with pytest.raises(KeyError):
        points[("NO-SUCH-SKU", "WH-01")]


def test_changes_the_view_makes_are_kept_and_the_columns_are_a_copy() -> None:
    cols = load_master_index(BUNDLE).columns
    points, expected = ColumnReorderPoints(cols), _as_dict()[1]
    key = next(iter(expected))
    cols.reorder_point[0] = 999  # the index moving first does not move the view's copy
    assert points[key] == expected[key]
    points[key] = 7
    points[("NEW-SKU", key[1])] = 3
    assert points.get(key) == 7 and points[("NEW-SKU", key[1])] == 3
    assert points.pop(key, None) == 7
    assert points.get(key, 0) == 0 and key not in points
    assert points.pop(key, None) is None
    assert dict(points) == {
        **{k: v for k, v in expected.items() if k != key},
        ("NEW-SKU", key[1]): 3,
    }
