"""Master data: the example loads, bad files are refused with every problem listed, lookups."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.errors import MasterDataError
from twin.masterdata import (
    ConversionError,
    MasterIndex,
    check_master_data,
    dump_master_data,
    load_master_data,
    parse_master_data,
    utc_from_local,
)
from twin.masterdata_gen import generate_master_data

EXAMPLE = Path(__file__).parents[2] / "examples" / "network.yaml"

SMALL = """
sites:
  - {id: WH-01, name: East DC, kind: dc, region: east, feed_mode: api,
     expected_interval_s: 60, timezone: America/New_York}
  - {id: WH-02, feed_mode: batch, expected_interval_s: 900, timezone: America/Denver}
  - {id: TPL-01, feed_mode: 3pl, expected_interval_s: 3600, timezone: America/Chicago,
     partner: ACME}
skus:
  - {id: SKU-1, base_uom: each, uom_factors: {each: 1, case: 12, pallet: 480}, unit_value: 10.0,
     reorder_point: {WH-01: 24}, target: {WH-01: 96}}
  - {id: SKU-2, base_uom: each, uom_factors: {each: 1, case: 30}, unit_value: 2.5}
aliases:
  - {scope: WH-01, code: A-100, sku: SKU-1}
  - {scope: ACME, code: AC-7, sku: SKU-1}
partners:
  - id: ACME
    site: TPL-01
    txn_types: {REC: RECEIVED, TRO: TRANSFER_SHIPPED, TRI: TRANSFER_RECEIVED}
    timezone: America/Chicago
    uom_codes: {EA: each, CS: case, PL: pallet}
lanes:
  - {from_site: WH-01, to_site: WH-02, transit_hours: 48}
  - {from_site: TPL-01, to_site: WH-02, transit_hours: 12}
"""


def test_the_example_network_has_six_sites_of_each_feed_mode_and_hundreds_of_skus() -> None:
    md = load_master_data(EXAMPLE)
    modes = [s.feed_mode for s in md.sites]
    assert (modes.count("api"), modes.count("batch"), modes.count("3pl")) == (3, 2, 1)
    assert len(md.skus) >= 200
    assert {"each", "case", "pallet"} <= set(md.skus[0].uom_factors)
    assert len(md.partners) == 1
    assert md.lanes


def test_the_example_is_what_the_generator_makes() -> None:
    assert load_master_data(EXAMPLE) == generate_master_data(sites=6, skus=300, seed=7)


def test_the_generator_is_deterministic_and_always_valid() -> None:
    for sites, skus, seed in [(1, 5, 0), (3, 10, 1), (12, 40, 2)]:
        md = generate_master_data(sites=sites, skus=skus, seed=seed)
        assert md == generate_master_data(sites=sites, skus=skus, seed=seed)
        assert parse_master_data(dump_master_data(md)) == md  # also runs every check
        assert len(md.sites) == sites
    assert generate_master_data(6, 20, 1) != generate_master_data(6, 20, 2)


def test_dump_and_load_round_trip() -> None:
    md = parse_master_data(SMALL)
    assert parse_master_data(dump_master_data(md)) == md


def problems(text: str) -> list[str]:
    with pytest.raises(MasterDataError) as caught:
        parse_master_data(text)
    return caught.value.errors


def test_every_problem_of_a_bad_file_is_listed() -> None:
    bad = (
        SMALL.replace("America/Denver", "Mars/Olympus")
        .replace("to_site: WH-02, transit_hours: 48", "to_site: WH-09, transit_hours: 48")
        .replace("{each: 1, case: 30}", "{case: 30}")
        .replace("target: {WH-01: 96}", "target: {WH-01: 10}")
        .replace("TRI: TRANSFER_RECEIVED", "TRI: TRANSFER_ARRIVED")
        .replace("code: AC-7, sku: SKU-1", "code: AC-7, sku: SKU-404")
        .replace("{id: SKU-2,", "{id: SKU-1,")
    )
    found = problems(bad)
    expected = [
        "Mars/Olympus",  # bad time zone
        "WH-09",  # unknown site in a lane
        "no entry for base_uom 'each'",  # missing base UoM factor
        "reorder_point 24 at WH-01 is above its target 10",
        "TRANSFER_ARRIVED",  # a partner code mapping to no event type
        "SKU-404",  # alias to an unknown SKU
        "duplicate id 'SKU-1'",
    ]
    for fragment in expected:
        assert any(fragment in p for p in found), (fragment, found)
    assert len(found) == len(expected), found


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (("feed_mode: batch", "feed_mode: ftp"), "sites[1]"),
        (("expected_interval_s: 900", "expected_interval_s: 0"), "> 0.0"),
        (("partner: ACME}", "partner: NOPE}"), "partner 'NOPE' has no partner profile"),
        (("site: TPL-01\n", "site: WH-01\n"), "feed_mode 3pl needs a partner profile"),
        (("unit_value: 2.5", "unit_value: -1"), "skus[1]"),
        (("{each: 1, case: 30}", "{each: 2, case: 30}"), "must have factor 1"),
        (("{scope: WH-01,", "{scope: WH-77,"), "neither a site nor a partner"),
        (("CS: case", "CS: crate"), "'crate', which no SKU has"),
        (
            (
                "timezone: America/Chicago\n",
                "timezone: America/Chicago\n    timestamp_format: '%H'\n",
            ),
            "to the second",
        ),
        (
            ("to_site: WH-02, transit_hours: 12", "to_site: TPL-01, transit_hours: 12"),
            "two different",
        ),
        (("lanes:", "colour: blue\nlanes:"), "unknown top-level key 'colour'"),
        (("target: {WH-01: 96}", "targte: {WH-01: 96}"), "unknown field `targte`"),
    ],
)
def test_each_kind_of_problem_is_caught(change: tuple[str, str], fragment: str) -> None:
    old, new = change
    assert old in SMALL
    found = problems(SMALL.replace(old, new, 1))
    assert any(fragment in p for p in found), found


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("", "must be a mapping"), ("sites: [", "not valid YAML"), ("sites: 3\nskus: []", "list")],
)
def test_unreadable_files_are_refused_clearly(text: str, fragment: str) -> None:
    assert any(fragment in p for p in problems(text))


def test_a_missing_file_is_a_master_data_error(tmp_path: Path) -> None:
    with pytest.raises(MasterDataError, match="cannot read"):
        load_master_data(tmp_path / "nope.yaml")


@pytest.fixture
def index() -> MasterIndex:
    return MasterIndex(parse_master_data(SMALL))


def test_index_finds_sites_skus_and_lanes(index: MasterIndex) -> None:
    assert index.site("WH-01").timezone == "America/New_York"
    assert index.sku("SKU-1").unit_value == 10.0
    assert index.get_site("WH-99") is None
    with pytest.raises(KeyError):
        index.sku("SKU-99")
    assert [lane.from_site for lane in index.lanes_to("WH-02")] == ["WH-01", "TPL-01"]
    assert [lane.to_site for lane in index.lanes_from("WH-01")] == ["WH-02"]
    assert index.lane("TPL-01", "WH-02") is not None
    assert index.lane("WH-02", "TPL-01") is None
    assert (index.reorder_point("SKU-1", "WH-01"), index.target("SKU-1", "WH-01")) == (24, 96)
    assert index.reorder_point("SKU-1", "WH-02") == 0


def test_item_codes_resolve_per_scope(index: MasterIndex) -> None:
    assert index.resolve_item("WH-01", "A-100") == "SKU-1"
    assert index.resolve_item("ACME", "AC-7") == "SKU-1"
    assert index.resolve_item("WH-02", "A-100") is None  # the alias belongs to WH-01 only
    assert index.resolve_item("WH-02", "SKU-2") == "SKU-2"  # canonical ids always resolve


@pytest.mark.parametrize(
    ("sku", "qty", "uom", "base"),
    [
        ("SKU-1", 3, "each", 3),
        ("SKU-1", 2, "case", 24),
        ("SKU-1", 1, "pallet", 480),
        ("SKU-1", 0.5, "case", 6),
        ("SKU-1", -2, "case", -24),
        ("SKU-2", 0.1, "case", 3),  # exact: 0.1 * 30 is 3, not 3.0000000000000004
        ("SKU-1", 2.0, "each", 2),
    ],
)
def test_base_qty_converts_exactly(
    index: MasterIndex, sku: str, qty: float, uom: str, base: int
) -> None:
    assert index.base_qty(sku, qty, uom) == base
    assert type(index.base_qty(sku, qty, uom)) is int


@pytest.mark.parametrize(
    ("sku", "qty", "uom", "code"),
    [
        ("SKU-1", 1.5, "each", "fractional_qty"),
        ("SKU-1", 0.3, "case", "fractional_qty"),
        ("SKU-2", 1, "pallet", "unknown_uom"),
        ("SKU-9", 1, "each", "unknown_sku"),
        ("SKU-1", float("inf"), "each", "bad_qty"),
        ("SKU-1", 10**12, "pallet", "bad_qty"),
        ("SKU-1", "1e999999", "each", "bad_qty"),
    ],
)
def test_base_qty_refuses_what_is_not_a_whole_base_quantity(
    index: MasterIndex, sku: str, qty: float, uom: str, code: str
) -> None:
    with pytest.raises(ConversionError) as caught:
        index.base_qty(sku, qty, uom)
    assert caught.value.code == code


def test_local_time_becomes_utc_across_daylight_saving() -> None:
    chicago = ZoneInfo("America/Chicago")
    summer = utc_from_local(datetime(2026, 7, 1, 9, 0), chicago)  # noqa: DTZ001
    winter = utc_from_local(datetime(2026, 12, 1, 9, 0), chicago)  # noqa: DTZ001
    assert summer == datetime(2026, 7, 1, 14, 0, tzinfo=UTC)
    assert winter == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    # The repeated hour when clocks go back: the first occurrence (still daylight time).
    repeated = utc_from_local(datetime(2026, 11, 1, 1, 30), chicago)  # noqa: DTZ001
    assert repeated == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="does not exist"):
        utc_from_local(datetime(2026, 3, 8, 2, 30), chicago)  # noqa: DTZ001


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 14), st.integers(1, 40), st.integers(0, 2**32))
def test_any_generated_network_passes_every_check(sites: int, skus: int, seed: int) -> None:
    md = generate_master_data(sites=sites, skus=skus, seed=seed)
    assert check_master_data(md) == []
    modes = [s.feed_mode for s in md.sites]
    assert modes.count("api") >= modes.count("batch")
    assert modes.count("3pl") == (1 if sites >= 3 else 0)
    index = MasterIndex(md)
    for alias in md.aliases:
        assert index.resolve_item(alias.scope, alias.code) == alias.sku
