"""`invtwin masterdata validate | convert`, and `invtwin sim network` writing a bundle."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from twin.masterdata import MasterIndex, load_master_data, load_master_index
from twin.masterdata_gen import generate_master_data

EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def test_validate_says_ok_with_the_counts_for_yaml_and_for_a_bundle() -> None:
    for path in (EXAMPLES / "network.yaml", EXAMPLES / "network-bundle"):
        result = runner.invoke(app, ["masterdata", "validate", str(path)])
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"OK {path}: 6 sites, 300 SKUs, 1800 SKU-sites")


def test_validate_lists_every_error_and_exits_1(tmp_path: Path) -> None:
    bundle = tmp_path / "bad"
    shutil.copytree(EXAMPLES / "network-bundle", bundle)
    lanes = bundle / "lanes.csv"
    lanes.write_text(lanes.read_text() + "WH-01,WH-77,12\nWH-02,WH-03,soon\n")
    result = runner.invoke(app, ["masterdata", "validate", str(bundle)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "lanes.csv row 32, column to_site: unknown site 'WH-77' (not in sites.csv)",
        "lanes.csv row 33, column transit_hours: 'soon' is not a number",
        "lanes.csv row 33, column to_site: duplicate lane WH-02->WH-03",
        f"INVALID {bundle}: 3 problem(s)",
    ]


def test_convert_goes_yaml_to_bundle_and_back(tmp_path: Path) -> None:
    bundle, again = tmp_path / "bundle", tmp_path / "again.yaml"
    to_bundle = runner.invoke(
        app, ["masterdata", "convert", str(EXAMPLES / "network.yaml"), str(bundle)]
    )
    assert to_bundle.exit_code == 0, to_bundle.output
    assert (bundle / "item_sites.csv").is_file()
    to_yaml = runner.invoke(app, ["masterdata", "convert", str(bundle), str(again)])
    assert to_yaml.exit_code == 0, to_yaml.output
    original = load_master_data(EXAMPLES / "network.yaml")
    assert (load_master_data(again).skus, load_master_data(again).sites) == (
        original.skus,
        original.sites,
    )


def test_convert_refuses_to_keep_the_form_and_writes_nothing_from_a_bad_source(
    tmp_path: Path,
) -> None:
    same = runner.invoke(
        app, ["masterdata", "convert", str(EXAMPLES / "network.yaml"), str(tmp_path / "x.yml")]
    )
    assert same.exit_code == 2 and "both YAML files" in same.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("sites: []\nskus: []\nlanes: [{from_site: A, to_site: B, transit_hours: 1}]\n")
    result = runner.invoke(app, ["masterdata", "convert", str(bad), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert not (tmp_path / "out").exists()


def test_sim_network_writes_a_bundle_the_twin_loads(tmp_path: Path) -> None:
    out = tmp_path / "net"
    result = runner.invoke(
        app, ["sim", "network", "--sites", "5", "--skus", "40", "--seed", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    index = load_master_index(out)
    assert (len(index.site_ids), len(index.sku_ids)) == (5, 40)
    assert {s.feed_mode for s in index.sites.values()} == {"api", "batch", "3pl"}
    assert MasterIndex(generate_master_data(5, 40, 3)).md.skus == index.md.skus
