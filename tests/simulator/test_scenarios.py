"""The scenario library loads, and a broken scenario says everything that is wrong with it."""

from __future__ import annotations

import pytest

from simulator.scenarios import (
    ScenarioError,
    list_scenarios,
    load_scenario,
    load_scenario_file,
    parse_scenario,
)
from simulator.spec import OutageFault, RestartFault

SHIPPED = {
    "baseline",
    "peak",
    "3pl-outage",
    "batch-delay",
    "duplicate-storm",
    "late-counts",
    "mixed",
    "restart-under-peak",
}


def test_the_library_ships_every_scenario_of_the_issue():
    assert set(list_scenarios()) >= SHIPPED


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_scenario_validates_and_is_described(name):
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.description


def test_peak_multiplies_demand_by_five_for_six_hours():
    (peak,) = load_scenario("peak").demand.peaks
    assert (peak.multiplier, peak.duration_hours) == (5, 6)


def test_3pl_outage_is_a_four_hour_outage_of_the_3pl_site():
    (fault,) = load_scenario("3pl-outage").faults
    assert isinstance(fault, OutageFault)
    assert (fault.sites, fault.duration_hours) == (["TPL-01"], 4)


def test_restart_under_peak_is_live_only():
    scenario = load_scenario("restart-under-peak")
    assert scenario.modes == ["live"]
    assert any(isinstance(f, RestartFault) for f in scenario.faults)


def test_a_scenario_can_be_loaded_by_path(tmp_path):
    path = tmp_path / "what-if.yaml"
    path.write_text("duration_hours: 2\nseed: 3\n")
    scenario = load_scenario_file(path)
    assert (scenario.name, scenario.duration_hours, scenario.seed) == ("what-if", 2, 3)


def test_every_problem_is_listed_with_its_place():
    with pytest.raises(ScenarioError) as info:
        parse_scenario(
            """
name: broken
duration_hours: -1
demand: {diurnal: [1, 2, 3], orders_per_sku_site_per_day: ten}
faults:
  - {kind: outage, start_hour: 1}
  - {kind: earthquake}
operations: {typo_field: 1}
"""
        )
    text = str(info.value)
    assert "duration_hours" in text
    assert "demand.diurnal" in text and "24 hourly" in text
    assert "demand.orders_per_sku_site_per_day" in text
    assert "faults.1" in text  # the unknown fault kind
    assert "operations.typo_field" in text


def test_an_unknown_scenario_name_lists_the_known_ones():
    with pytest.raises(ScenarioError, match="baseline"):
        load_scenario("no-such-scenario")


def test_yaml_that_is_not_a_mapping_is_refused():
    with pytest.raises(ScenarioError, match="mapping"):
        parse_scenario("- just\n- a list\n")


def test_a_start_time_without_zone_is_refused():
    with pytest.raises(ScenarioError, match="time zone"):
        parse_scenario("start: 2026-11-26T00:00:00\n")


def test_the_diurnal_curve_keeps_the_daily_rate():
    curve = load_scenario("baseline").demand.curve()
    assert len(curve) == 24
    assert sum(curve) / 24 == pytest.approx(1.0)
