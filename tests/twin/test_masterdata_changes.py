"""The `masterdata.v1` record format: encode/decode, the diff of two catalogues, applying live."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from twin.masterdata import MasterData, MasterIndex, load_master_index
from twin.masterdata_changes import (
    Change,
    ChangeError,
    apply_changes,
    apply_record,
    decode_change,
    diff_indexes,
    diff_rows,
    encode_change,
    index_rows,
    waiting_changes,
)

BUNDLE = Path(__file__).parents[2] / "examples" / "network-bundle"


def _empty() -> MasterIndex:
    return MasterIndex(MasterData(sites=[], skus=[]))


def _record(entity: str, ident: str, row: dict | None) -> tuple[bytes, bytes | None]:
    return f"{entity}:{ident}".encode(), None if row is None else msgspec.json.encode(row)


def test_a_catalogue_published_into_an_empty_index_is_the_same_catalogue():
    bundle = load_master_index(BUNDLE)
    changes = diff_indexes(_empty(), bundle)
    target = _empty()
    for change in changes:  # through the wire format, as a reader of the topic gets them
        key, value = encode_change(change)
        assert decode_change(key, value) == change
        apply_record(target, key, value)
    assert index_rows(target) == index_rows(bundle)
    assert diff_indexes(target, bundle) == []
    sku = bundle.columns.sku_ids[3]
    assert target.reorder_point(sku, "WH-02") == bundle.reorder_point(sku, "WH-02")
    assert target.base_qty(sku, 2, "case") == bundle.base_qty(sku, 2, "case")


def test_live_changes_a_new_sku_alias_reorder_point_unit_value_and_lane():
    index = load_master_index(BUNDLE)
    site = index.site_ids[0]
    applied = apply_changes(
        index,
        [
            decode_change(
                *_record("items", "NEW-1", {"sku": "NEW-1", "base_uom": "each", "unit_value": "4"})
            ),
            decode_change(
                *_record(
                    "uom_conversions", "NEW-1@case", {"sku": "NEW-1", "uom": "case", "factor": 6}
                )
            ),
            decode_change(
                *_record(
                    "item_sites",
                    f"NEW-1@{site}",
                    {"sku": "NEW-1", "site": site, "reorder_point": 10, "target": "20"},
                )
            ),
            decode_change(
                *_record(
                    "aliases", f"{site}@LOC-9", {"scope": site, "code": "LOC-9", "sku": "NEW-1"}
                )
            ),
            decode_change(
                *_record(
                    "items",
                    "SKU-00001",
                    {"sku": "SKU-00001", "base_uom": "each", "unit_value": 99.5},
                )
            ),
            decode_change(
                *_record(
                    "lanes",
                    "WH-01@TPL-01",
                    {"from_site": "WH-01", "to_site": "TPL-01", "transit_hours": 12},
                )
            ),
        ],
    )
    assert len(applied) == 6
    assert index.resolve_item(site, "LOC-9") == "NEW-1"
    assert index.base_qty("NEW-1", 2, "case") == 12
    assert index.reorder_point("NEW-1", site) == 10 and index.target("NEW-1", site) == 20
    assert index.sku("SKU-00001").unit_value == 99.5
    lane = index.lane("WH-01", "TPL-01")
    assert lane is not None and lane.transit_hours == 12
    # every earlier SKU keeps its units though a unit was inserted before the last SKU's
    before = load_master_index(BUNDLE)
    for sku in before.sku_ids:
        assert index.columns.units(index.columns.sku_pos[sku]) == before.columns.units(
            before.columns.sku_pos[sku]
        )


def test_a_child_before_its_parent_waits_for_it_as_after_compaction():
    index = _empty()
    assert apply_record(index, *_record("sites", "S1", {"site": "S1", "feed_mode": "api"})) == [
        "sites:S1"
    ]
    policy = _record("item_sites", "A@S1", {"sku": "A", "site": "S1", "reorder_point": 3})
    assert apply_record(index, *policy) == []
    assert [c.key for c in waiting_changes(index)] == ["item_sites:A@S1"]
    applied = apply_record(
        index, *_record("items", "A", {"sku": "A", "base_uom": "each", "unit_value": 1})
    )
    assert applied == ["items:A", "item_sites:A@S1"]
    assert index.reorder_point("A", "S1") == 3 and waiting_changes(index) == []


def test_a_new_site_and_deletions_keep_every_policy_where_it_was():
    index = load_master_index(BUNDLE)
    before = index_rows(index)
    apply_record(index, *_record("sites", "NEW-SITE", {"site": "NEW-SITE", "feed_mode": "batch"}))
    apply_record(
        index,
        *_record(
            "item_sites",
            "SKU-00002@NEW-SITE",
            {"sku": "SKU-00002", "site": "NEW-SITE", "target": 7},
        ),
    )
    assert index.target("SKU-00002", "NEW-SITE") == 7
    apply_record(index, *_record("items", "SKU-00001", None))
    assert index.get_sku("SKU-00001") is None
    expected = {k: r for k, r in before.items() if r.get("sku") != "SKU-00001"}
    rows = index_rows(index)
    assert {k: r for k, r in rows.items() if "NEW-SITE" not in k} == expected
    # and the diff back is the three changes' undoing, deletes children first
    back = diff_rows(rows, before)
    assert [c.key for c in back if c.row is None] == [
        "item_sites:SKU-00002@NEW-SITE",
        "sites:NEW-SITE",
    ]


def test_a_malformed_record_names_every_problem():
    with pytest.raises(ChangeError) as caught:
        decode_change(
            b"item_sites:A@S1", b'{"sku": "B", "site": "S1", "reorder_point": "-2", "extra": 1}'
        )
    text = str(caught.value)
    assert "unknown column 'extra'" in text and "reorder_point" in text and "'B'" in text
    with pytest.raises(ChangeError, match="ENTITY:ID"):
        decode_change(b"widgets:1", b"{}")
    with pytest.raises(ChangeError, match="SKU@SITE"):
        decode_change(b"item_sites:A", None)
    with pytest.raises(ChangeError, match="not JSON"):
        decode_change(b"items:A", b"{")
    assert decode_change(b"aliases:S%40X@C", None) == Change("aliases", "S%40X@C", None)


@pytest.mark.parametrize(
    ("key", "row"),
    [
        (b"items:A", {"sku": "A", "base_uom": "EA", "unit_value": 3, "name": "Bolt"}),
        (b"items:A", {"sku": "A", "base_uom": "EA", "unit_value": 2.5, "name": None}),
        (b"items:A", {"sku": "A", "base_uom": "EA", "unit_value": 2.5}),
        (b"uom_conversions:A@CS", {"sku": "A", "uom": "CS", "factor": 12}),
        (b"aliases:S1@L-1", {"scope": "S1", "code": "L-1", "sku": "A"}),
        (b"item_sites:A@S1", {"sku": "A", "site": "S1", "reorder_point": 4, "target": None}),
    ],
)
def test_a_typed_fast_path_decodes_a_row_as_the_general_path_does(key: bytes, row: dict) -> None:
    value = msgspec.json.encode(row)
    # the same row with a cell as text only the general path reads (the bundle's CSV form)
    general = {c: str(v) if isinstance(v, int) else v for c, v in row.items()}
    assert decode_change(key, value) == decode_change(key, msgspec.json.encode(general))


@pytest.mark.parametrize(
    ("key", "row", "problem"),
    [
        (b"items:A", {"sku": "A", "base_uom": "EA", "unit_value": -1}, "unit_value"),
        (b"items:A", {"sku": "B", "base_uom": "EA", "unit_value": 1}, "'B'"),
        (b"items:A", {"sku": "A", "base_uom": "", "unit_value": 1}, "base_uom"),
        (b"uom_conversions:A@CS", {"sku": "A", "uom": "CS", "factor": 0}, "factor"),
        (b"uom_conversions:A@CS", {"sku": "A", "uom": "CS", "factor": True}, "factor"),
        (b"aliases:S1@L-1", {"scope": "S1", "code": "L-2", "sku": "A"}, "'L-2'"),
        (b"aliases:S1@L-1", {"scope": "S1", "code": "L-1", "sku": ""}, "sku"),
        (b"aliases:S1@L-1", {"scope": "S1", "code": "L-1", "sku": "A", "x": 1}, "'x'"),
    ],
)
def test_a_row_the_fast_path_refuses_is_named_by_the_general_path(
    key: bytes, row: dict, problem: str
) -> None:
    with pytest.raises(ChangeError, match=problem):
        decode_change(key, msgspec.json.encode(row))
