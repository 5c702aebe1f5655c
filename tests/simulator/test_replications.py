"""Replications: N seeds in parallel, each figure as mean, 95% interval and worst."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from simulator.replications import FAULT_FIGURES, FIGURES
from simulator.runner import run_scenario
from simulator.spec import DemandSpec, OutageFault, PeakSpec
from tests.simulator.helpers import small

OUTAGE = OutageFault(kind="outage", sites=["TPL-01"], start_hour=1, duration_hours=2)
PEAK = DemandSpec(peaks=[PeakSpec(start_hour=2, duration_hours=2, multiplier=5)])


def _small():
    return small("peak", duration_hours=5, faults=[OUTAGE], demand=PEAK)


@pytest.fixture(scope="module")
def replicated():
    return run_scenario(_small(), seed=4, replications=3)


def test_a_replicated_run_reports_mean_interval_and_worst_for_each_figure(replicated):
    assert replicated["replications"] == 3 and replicated["seeds"] == [4, 5, 6]
    assert "Student t" in replicated["interval"]
    assert set(replicated["figures"]) == {name for name, _, _, _ in FIGURES}
    for name, stats in replicated["figures"].items():
        low, high = stats["ci95"]
        assert low <= stats["mean"] <= high, name
        values = [run[name] for run in replicated["runs"]]
        assert stats["mean"] == pytest.approx(sum(values) / 3, abs=1e-4), name
        assert stats["worst"] in {round(min(values), 4), round(max(values), 4)}, name
    assert replicated["figures"]["accuracy.min"]["worst"] == min(
        run["accuracy.min"] for run in replicated["runs"]
    )
    (fault,) = replicated["faults"]
    for name, _, _ in FAULT_FIGURES:
        assert fault[name] is None or {"mean", "ci95", "worst"} <= set(fault[name])
    assert fault["recovery_s"]["n"] + fault["not_recovered"] == 3
    tpl = replicated["sites"]["TPL-01"]
    assert {"discrepancy_share", "cadence_share", "fault_share", "staleness_p95_s"} <= set(tpl)
    assert tpl["fault_share"]["mean"] > 0
    assert replicated["demand_windows"][0]["multiplier"] == 5.0
    # different seeds, different days
    assert len({run["stream_sha256"] for run in replicated["runs"]}) == 3


def test_each_replication_is_the_single_run_of_its_seed(replicated):
    single = run_scenario(_small(), seed=5)
    second = replicated["runs"][1]
    assert second["seed"] == 5 and second["stream_sha256"] == single["stream_sha256"]
    for name, get, _, _ in FIGURES:
        assert second[name] == get(single), name


def test_the_same_seeds_give_the_same_replicated_report(replicated):
    assert run_scenario(_small(), seed=4, replications=3) == replicated


def test_the_accuracy_band_holds_the_mean_inside_min_max(replicated):
    band = replicated["accuracy_band"]
    n = len(band["hours"])
    assert n > 10
    for key in ("mean", "ci95_low", "ci95_high", "min", "max"):
        assert len(band[key]) == n
    for i in range(n):
        assert band["min"][i] <= band["mean"][i] + 1e-4 <= band["max"][i] + 2e-4
        assert band["ci95_low"][i] <= band["mean"][i] <= band["ci95_high"][i]


def test_the_scenario_field_sets_replications_and_live_mode_refuses_them():
    from simulator.scenarios import ScenarioError

    report = run_scenario(small("baseline", duration_hours=3, replications=2), seed=1)
    assert report["seeds"] == [1, 2]
    with pytest.raises(ScenarioError, match="offline"):
        run_scenario(small("baseline", duration_hours=3), mode="live", replications=2)


def test_cli_replications_write_the_band_plots_and_the_summary(tmp_path):
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(
        "duration_hours: 3\nnetwork: {generate: {sites: 4, skus: 10, seed: 1}}\n"
        "faults: [{kind: outage, sites: [TPL-01], start_hour: 1, duration_hours: 1}]\n"
    )
    result = CliRunner().invoke(
        app,
        ["sim", "run", "--scenario", str(scenario), "--seed", "3", "--replications", "3",
         "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 replications" in result.output and "accuracy.final" in result.output
    path = Path(json.loads(result.output.strip().splitlines()[-1])["report"])
    assert path.parent.name == "tiny-offline-seed3-x3"
    report = json.loads(path.read_text())
    assert report["seeds"] == [3, 4, 5]
    for name in ("accuracy", "staleness", "discrepancy"):
        assert (path.parent / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_more_replications_give_a_narrower_interval_of_the_same_figure():
    scenario = small("baseline", duration_hours=4)
    few = run_scenario(scenario, seed=11, replications=3)["figures"]
    many = run_scenario(scenario, seed=11, replications=12)["figures"]
    for name in ("accuracy.mean", "atp_error.mean_abs", "value_at_risk.mean"):
        assert many[name]["half_width"] < few[name]["half_width"], name
        # the first three replications are the same days: the larger run contains them
        assert many[name]["n"] == 12 and few[name]["n"] == 3
