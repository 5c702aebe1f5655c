"""`invtwin sim`: list, network and run, through the real Typer app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from twin.masterdata import load_master_data

runner = CliRunner()


def test_list_shows_the_library_with_descriptions():
    result = runner.invoke(app, ["sim", "list"])
    assert result.exit_code == 0, result.output
    assert "3pl-outage" in result.output and "[live]" in result.output


def test_network_writes_master_data_the_twin_can_load(tmp_path):
    out = tmp_path / "net.yaml"
    result = runner.invoke(
        app, ["sim", "network", "--sites", "5", "--skus", "40", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    md = load_master_data(out)
    assert (len(md.sites), len(md.skus)) == (5, 40)
    assert {s.feed_mode for s in md.sites} == {"api", "batch", "3pl"}


def test_run_writes_a_report_and_plots(tmp_path):
    scenario = tmp_path / "tiny.yaml"
    network = tmp_path / "net.yaml"
    runner.invoke(app, ["sim", "network", "--sites", "3", "--skus", "10", "--out", str(network)])
    scenario.write_text(f"duration_hours: 3\nnetwork: {{path: {network}}}\n")
    result = runner.invoke(
        app, ["sim", "run", "--scenario", str(scenario), "--seed", "5", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    path = json.loads(result.output.strip().splitlines()[-1])["report"]
    report = json.loads(Path(path).read_text())
    assert (report["scenario"], report["seed"], report["mode"]) == ("tiny", 5, "offline")
    assert report["accuracy"]["final"] == 1.0
    assert (tmp_path / "tiny-offline-seed5" / "accuracy.png").exists()


def test_run_explains_a_broken_scenario(tmp_path):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("duration_hours: soon\n")
    result = runner.invoke(app, ["sim", "run", "--scenario", str(scenario)])
    assert result.exit_code == 2
    assert "duration_hours" in result.output
