"""Scenario runs in a worker process: start, follow over WebSocket, report and plots."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from tests.api.conftest import TOKENS, auth, make_settings
from tests.api.fakes import FakeProducer
from tests.polling import wait_until


def _wait_status(client: TestClient, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """The run's status once it is no longer running."""
    seen: list[dict[str, Any]] = []

    def finished() -> bool:
        seen.append(client.get(f"/v1/scenarios/{run_id}", headers=auth("architect")).json())
        return seen[-1]["status"] != "running"

    wait_until(finished, timeout, f"scenario run {run_id} to finish", every=0.05)
    return seen[-1]


def test_a_run_streams_progress_and_ends_with_its_report_and_plots(client: TestClient) -> None:
    started = client.post(
        "/v1/scenarios",
        json={"scenario": "peak", "mode": "offline", "seed": 7},
        headers=auth("architect"),
    )
    assert started.status_code == 202
    run_id = started.json()["id"]
    with client.websocket_connect(
        f"/v1/scenarios/{run_id}/stream?token={TOKENS['architect']}"
    ) as ws:
        kinds = []
        while True:
            message = ws.receive_json()
            kinds.append(message["type"])
            if message["type"] in ("report", "failed"):
                break
    assert kinds[-1] == "report", kinds
    assert "progress" in kinds and "metrics" in kinds
    assert message["report"] == {"seed": 7, "accuracy": 0.99}
    assert message["plots"] == {"accuracy": f"/v1/scenarios/{run_id}/plots/accuracy"}
    body = _wait_status(client, run_id)
    assert body["status"] == "succeeded"
    assert body["metrics"][0]["accuracy"] == 0.99
    plot = client.get(message["plots"]["accuracy"], headers=auth("architect"))
    assert plot.status_code == 200
    assert plot.headers["content-type"] == "image/png"
    assert (
        client.get(f"/v1/scenarios/{run_id}/plots/../../etc", headers=auth("architect")).status_code
        == 404
    )


def test_a_failing_run_is_reported_failed_with_its_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, scenario_runner="tests.api.fakes:failing_runner")
    app = create_app(settings, feed=FakeFeed(), producer=FakeProducer())
    with TestClient(app) as client:
        started = client.post("/v1/scenarios", json={"spec": "x: 1"}, headers=auth("admin"))
        body = _wait_status(client, started.json()["id"])
    assert body["status"] == "failed"
    assert "scenario exploded" in body["error"]


def test_the_api_answers_while_a_run_is_going(client: TestClient) -> None:
    started = client.post("/v1/scenarios", json={"scenario": "peak"}, headers=auth("architect"))
    t0 = time.monotonic()
    assert client.get("/healthz").status_code == 200
    assert time.monotonic() - t0 < 0.5
    _wait_status(client, started.json()["id"])


def test_the_real_simulator_runs_offline_and_its_plots_are_served(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, scenario_runner="api.scenario_worker:run_simulator")
    app = create_app(settings, feed=FakeFeed(), producer=FakeProducer())
    with TestClient(app) as client:
        started = client.post(
            "/v1/scenarios",
            json={"scenario": "baseline", "mode": "offline", "seed": 1},
            headers=auth("architect"),
        )
        assert started.status_code == 202
        body = _wait_status(client, started.json()["id"], timeout=120)
        assert body["status"] == "succeeded", body["error"]
        assert body["report"]["scenario"] == "baseline"
        assert body["metrics"], "the metric series streamed while running"
        assert body["plots"], "the report comes with plots"
        for name in body["plots"]:
            plot = client.get(f"/v1/scenarios/{body['id']}/plots/{name}", headers=auth("architect"))
            assert plot.status_code == 200
            assert plot.content.startswith(b"\x89PNG")
