"""POST /v1/scenarios with `compare`: two variants from the same seeds, differences reported."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from tests.api.conftest import auth, make_settings
from tests.api.fakes import FakeProducer
from tests.polling import wait_until

SPEC = """
name: tiny-compare
duration_hours: 1
network: {generate: {sites: 3, skus: 10, seed: 1}}
report: {controls: false}
"""
VARIANTS = [
    {"name": "calm"},
    {"name": "late batches", "faults": [{"kind": "batch_delay", "delay_minutes": 45}]},
]


def test_a_comparison_runs_both_variants_and_reports_their_differences(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, scenario_runner="api.scenario_worker:run_simulator")
    with TestClient(create_app(settings, feed=FakeFeed(), producer=FakeProducer())) as client:
        bad = client.post(
            "/v1/scenarios",
            json={"spec": SPEC, "compare": [{"name": "a"}, {"name": "b", "faults": "x"}]},
            headers=auth("architect"),
        )
        assert bad.status_code == 422
        assert [e["field"] for e in bad.json()["errors"]] == ["compare.1.faults"]
        started = client.post(
            "/v1/scenarios",
            json={"spec": SPEC, "compare": VARIANTS, "replications": 2, "seed": 4},
            headers=auth("architect"),
        ).json()
        assert started["compare"] == ["calm", "late batches"]

        def body() -> dict:
            return client.get(f"/v1/scenarios/{started['id']}", headers=auth("architect")).json()

        wait_until(lambda: body()["status"] != "running", 120, "the comparison to finish")
        report = body()["report"]
    assert body()["status"] == "succeeded"
    assert list(report["variants"]) == ["calm", "late batches"]
    assert report["seeds"] == [4, 5]
    staleness = report["differences"]["staleness.p95_worst_site_s"]
    assert staleness["mean"] > 0 and staleness["n"] == 2  # late batches: staler, seed by seed
