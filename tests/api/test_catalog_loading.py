"""The API reads master data as a YAML file or a CSV bundle into the same catalog."""

from __future__ import annotations

from pathlib import Path

from api.app import load_catalog, load_master_index

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_a_bundle_and_its_yaml_give_the_same_sites_and_reorder_points() -> None:
    from_yaml = load_catalog(load_master_index(EXAMPLES / "network.yaml"))
    from_bundle = load_catalog(load_master_index(EXAMPLES / "network-bundle"))
    assert len(from_yaml.reorder_points) == 1800
    assert from_bundle.reorder_points == from_yaml.reorder_points
    assert from_bundle.sites == from_yaml.sites


def test_without_master_data_the_catalog_is_empty() -> None:
    catalog = load_catalog(load_master_index(None))
    assert catalog.sites == {} and catalog.reorder_points == {}
