"""Compare: two variants from the same start and seeds, and their differences with intervals."""

from __future__ import annotations

from simulator.runner import run_scenario
from simulator.scenarios import parse_scenario

SPEC = """
name: outage-or-not
duration_hours: 4
network: {generate: {sites: 4, skus: 20, seed: 1}}
report: {controls: false}
compare:
  - name: as today
  - name: 3pl down
    faults: [{kind: outage, sites: [TPL-01], start_hour: 1, duration_hours: 2}]
"""


def test_two_identical_variants_differ_by_exactly_nothing() -> None:
    spec = parse_scenario(SPEC.split("compare:")[0] + "compare: [{name: a}, {name: b}]\n")
    report = run_scenario(spec, seed=5, replications=2)
    assert report["compare"] == ["a", "b"]
    for name, diff in report["differences"].items():
        assert (diff["mean"], diff["worst"], diff["ci95"]) == (0.0, 0.0, [0.0, 0.0]), name
    runs = [report["variants"][v]["runs"] for v in ("a", "b")]
    assert [r["stream_sha256"] for r in runs[0]] == [r["stream_sha256"] for r in runs[1]]


def test_an_outage_variant_is_compared_seed_by_seed_with_an_interval() -> None:
    report = run_scenario(parse_scenario(SPEC), seed=11, replications=3)
    assert report["seeds"] == [11, 12, 13]
    today, down = report["variants"]["as today"], report["variants"]["3pl down"]
    assert today["faults"] == [] and [f["kind"] for f in down["faults"]] == ["outage"]
    accuracy = report["differences"]["accuracy.mean"]
    assert accuracy["mean"] < 0  # the outage costs accuracy on every seed
    low, high = accuracy["ci95"]
    assert low <= accuracy["mean"] <= high
    assert accuracy["n"] == 3
