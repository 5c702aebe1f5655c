"""Master data as a CSV bundle: the same index as YAML, every error located, catalogue size."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
import pytest

from twin.catalog_columns import SkuViews
from twin.errors import MasterDataError
from twin.events import EventType
from twin.masterdata import MasterData, MasterIndex, load_master_data, load_master_index
from twin.masterdata_csv import read_bundle
from twin.masterdata_csv_write import write_bundle
from twin.masterdata_gen import generate_columns
from twin.normalize import Normalizer
from twin.rules import RuleBook

EXAMPLES = Path(__file__).parents[2] / "examples"


def _same_catalogue(a: MasterData, b: MasterData) -> None:
    assert a.sites == b.sites
    assert a.skus == b.skus
    assert a.partners == b.partners
    assert a.lanes == b.lanes
    assert sorted(msgspec.to_builtins(a.aliases), key=str) == sorted(
        msgspec.to_builtins(b.aliases), key=str
    )


def _same_answers(index: MasterIndex, expected: MasterData) -> None:
    """The lookups the normalizers and rules make give what the YAML says."""
    assert index.site_ids == [s.id for s in expected.sites]
    assert index.sku_ids == [s.id for s in expected.skus]
    for sku in expected.skus:
        assert index.get_sku(sku.id) == sku
        for site in expected.sites:
            assert index.reorder_point(sku.id, site.id) == sku.reorder_point.get(site.id, 0)
            assert index.target(sku.id, site.id) == sku.target.get(site.id, 0)
        for uom, factor in sku.uom_factors.items():
            assert index.base_qty(sku.id, 3, uom) == 3 * factor
    for alias in expected.aliases:
        assert index.resolve_item(alias.scope, alias.code) == alias.sku
    for lane in expected.lanes:
        assert index.lane(lane.from_site, lane.to_site) == lane
        assert lane in index.lanes_to(lane.to_site)
    for partner in expected.partners:
        assert index.partner(partner.id) == partner


def test_yaml_to_bundle_and_back_gives_the_same_index(tmp_path: Path) -> None:
    yaml_md = load_master_data(EXAMPLES / "network.yaml")
    written = write_bundle(MasterIndex(yaml_md).columns, tmp_path / "bundle")
    assert written["item_sites.csv"] == 6 * 300
    index = load_master_index(tmp_path / "bundle")
    assert isinstance(index.skus, SkuViews)  # served from columns, not a struct per SKU
    _same_answers(index, yaml_md)
    _same_catalogue(index.md, yaml_md)
    _same_catalogue(load_master_data(tmp_path / "bundle"), yaml_md)


def test_the_example_bundle_is_the_example_network() -> None:
    _same_catalogue(
        load_master_data(EXAMPLES / "network-bundle"), load_master_data(EXAMPLES / "network.yaml")
    )


def _broken_bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "broken"
    shutil.copytree(EXAMPLES / "network-bundle", bundle)

    def edit(name: str, old: str, new: str) -> None:
        path = bundle / name
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))

    edit("sites.csv", "WH-02,Central warehouse 2,warehouse,central,api", "WH-02,C,warehouse,c,fax")
    edit("items.csv", "SKU-00002,Item 2,each,7.16", "SKU-00002,Item 2,each,cheap")
    edit("item_sites.csv", "SKU-00001,WH-02,114,228", "SKU-00001,WH-99,114,228")
    edit("item_sites.csv", "SKU-00002,WH-01,", "SKU-00002,WH-01,-")
    edit("aliases.csv", "WH-04,L04-00005,SKU-00005", "WH-04,L04-00005,SKU-77777")
    edit("lanes.csv", "WH-01,WH-02,36.0", "WH-01,WH-01,36.0")
    edit("partner_codes.csv", "ACME,txn_type,PUT,PUT_AWAY", "ACME,txn_type,PUT,PUTAWAY")
    edit("uom_conversions.csv", "SKU-00001,case,12", "SKU-00001,case,twelve")
    return bundle


def test_a_malformed_bundle_is_refused_as_a_whole_with_every_error_located(
    tmp_path: Path,
) -> None:
    with pytest.raises(MasterDataError) as caught:
        read_bundle(_broken_bundle(tmp_path))
    errors = caught.value.errors
    expected = [
        "sites.csv row 3, column feed_mode: 'fax' is not one of api, batch, 3pl",
        "items.csv row 3, column unit_value: 'cheap' is not a number",
        "item_sites.csv row 3, column site: unknown site 'WH-99' (not in sites.csv)",
        "aliases.csv row 174, column sku: unknown sku 'SKU-77777' (not in items.csv)",
        "lanes.csv row 2, column to_site: a lane must join two different sites",
        "partner_codes.csv row 3, column value: 'PUTAWAY' is not an event type",
        "uom_conversions.csv row 2, column factor: 'twelve' is not a whole number",
        "item_sites.csv row 8, column reorder_point: -",
    ]
    for fragment in expected:
        assert any(e.startswith(fragment) for e in errors), (fragment, errors)
    # The site and the item that failed their own rows are not reported again by every
    # row naming them (in item_sites, aliases, lanes, partner_codes).
    assert len(errors) == len(expected), errors


def test_missing_files_columns_and_ragged_rows_are_named(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "sites.csv").write_text("site,feed_mode,colour\nWH-01,api,red\nWH-02,api\n\n")
    (bundle / "item_site.csv").write_text("sku,site\n")
    with pytest.raises(MasterDataError) as caught:
        read_bundle(bundle)
    assert caught.value.errors == [
        "item_site.csv: unknown file (known: sites.csv, items.csv, uom_conversions.csv,"
        " item_sites.csv, aliases.csv, partners.csv, partner_codes.csv, lanes.csv)",
        "sites.csv row 1, column colour: unknown column (known: expected_interval_s,"
        " feed_mode, kind, name, partner, region, site, timezone)",
        "sites.csv row 3: has 2 cells, the header has 3",
        "items.csv: missing (the bundle needs it)",
    ]


def test_a_bad_row_deep_in_a_big_file_is_named_by_its_row(tmp_path: Path) -> None:
    columns = generate_columns(sites=4, skus=30_000, seed=1)
    write_bundle(columns, tmp_path / "b")
    path = tmp_path / "b" / "item_sites.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[100_000] = lines[100_000].replace(",", ",x", 1)  # a site id nobody has
    lines[110_000] = lines[100_001]  # a SKU-site given twice
    path.write_text("".join(lines))
    with pytest.raises(MasterDataError) as caught:
        read_bundle(tmp_path / "b")
    assert [e.split(":")[0] for e in caught.value.errors] == [
        "item_sites.csv row 100001, column site",
        "item_sites.csv row 110001, column site",
    ]
    assert "appears twice" in caught.value.errors[1]


def test_rows_in_any_order_give_the_same_catalogue(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(EXAMPLES / "network-bundle", bundle)
    for name in ("item_sites.csv", "aliases.csv", "uom_conversions.csv", "items.csv"):
        header, *rows = (bundle / name).read_text().splitlines(keepends=True)
        (bundle / name).write_text(header + "".join(reversed(rows)))
    index = load_master_index(bundle)
    expected = load_master_data(EXAMPLES / "network.yaml")
    assert index.sku_ids == [s.id for s in reversed(expected.skus)]  # the file's order
    assert sorted(index.md.skus, key=lambda s: s.id) == expected.skus
    for alias in expected.aliases:
        assert index.resolve_item(alias.scope, alias.code) == alias.sku


def test_quoted_cells_crlf_and_a_byte_order_mark_read_as_plain_ones(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(EXAMPLES / "network-bundle", bundle)
    items = (bundle / "items.csv").read_text().splitlines()
    items[2] = items[2].replace("Item 2", '"Item 2, the ""blue"" one"')
    (bundle / "items.csv").write_text("\ufeff" + "\r\n".join(items) + "\r\n", encoding="utf-8")
    index = load_master_index(bundle)
    assert index.sku("SKU-00002").name == 'Item 2, the "blue" one'
    assert index.sku("SKU-00300").name == "Item 300"


def test_a_catalogue_sized_bundle_answers_the_normalizer_and_the_rules(tmp_path: Path) -> None:
    columns = generate_columns(sites=20, skus=20_000, seed=3)
    write_bundle(columns, tmp_path / "b")
    index = load_master_index(tmp_path / "b")
    assert (len(index.site_ids), len(index.sku_ids)) == (20, 20_000)
    code, sku_id = list(index.columns.aliases["WH-11"].items())[-1]  # a legacy local code
    assert index.resolve_item("WH-11", code) == sku_id
    sku = index.sku(sku_id)
    i = columns.sku_pos[sku_id]
    assert sku.reorder_point["WH-07"] == columns.reorder_point[i * 20 + 6]
    assert index.reorder_point(sku_id, "WH-07") == sku.reorder_point["WH-07"]
    assert index.target(sku_id, "TPL-01") == sku.target["TPL-01"]
    message = (
        b'{"event_id":"e-1","type":"RECEIVED","sku":"' + code.encode() + b'","site":"WH-11",'
        b'"qty":2,"uom":"case","occurred_at":"2026-11-26T10:00:00Z"}'
    )
    result = Normalizer(index).normalize("api", message)
    assert not result.rejections
    [event] = result.events
    assert (event.sku, event.qty, event.type) == (
        sku_id,
        2 * sku.uom_factors["case"],
        EventType.RECEIVED,
    )
    rules = RuleBook.from_master(index.md)
    assert rules.limits[sku_id].reorder_point == sku.reorder_point
    assert len(index.lanes_to("WH-01")) == 19
