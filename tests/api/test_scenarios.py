"""Scenario runs in a worker process: start, follow over WebSocket, report and plots."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from simulator.scenarios import list_scenarios
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
        started = client.post(
            "/v1/scenarios", json={"spec": "duration_hours: 2"}, headers=auth("admin")
        )
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


REPO = Path(__file__).resolve().parents[2]
# Files a path would reach from the API's working directory, and a line of each that an
# echo of their content would show.
FILE_PATHS = {
    "/proc/self/status": "VmRSS",
    "../../etc/hostname": None,
    "../../../../etc/hostname": None,
    "/etc/hostname": None,
    ".git/config": "[core]",
    str(REPO / "simulator" / "scenarios" / "peak.yaml"): "Black-Friday",
    "peak.yaml": None,
    "simulator/scenarios/peak": None,
}


@pytest.mark.parametrize("path", sorted(FILE_PATHS))
def test_a_file_path_is_refused_with_the_library_names_and_no_run_is_created(
    client: TestClient, path: str
) -> None:
    answer = client.post("/v1/scenarios", json={"scenario": path}, headers=auth("architect"))
    assert answer.status_code == 422
    body = answer.json()
    assert [e["field"] for e in body["errors"]] == ["scenario"]
    assert body["errors"][0]["code"] == "unknown_scenario"
    assert all(name in body["detail"] for name in list_scenarios())
    marker = FILE_PATHS[path]
    if marker is not None:
        assert marker not in answer.text
    hostname = Path("/etc/hostname")
    if hostname.is_file() and len(hostname.read_text().strip()) >= 8:  # long enough to tell
        assert hostname.read_text().strip() not in answer.text
    listing = client.get("/v1/scenarios", headers=auth("architect")).json()
    assert listing["runs"] == []


def test_an_inline_spec_cannot_name_a_network_file(client: TestClient) -> None:
    spec = "duration_hours: 2\nnetwork:\n  path: /etc/passwd\n"
    answer = client.post("/v1/scenarios", json={"spec": spec}, headers=auth("architect"))
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["spec.network.path"]
    assert "root:" not in answer.text
    assert client.get("/v1/scenarios", headers=auth("architect")).json()["runs"] == []


def test_an_invalid_inline_spec_names_each_field_and_reason_not_its_text(
    client: TestClient,
) -> None:
    spec = "duration_hours: -5\ndescription: fine\nmode_of_secret: hunter2-value\n"
    answer = client.post("/v1/scenarios", json={"spec": spec}, headers=auth("architect"))
    assert answer.status_code == 422
    errors = {e["field"]: e for e in answer.json()["errors"]}
    assert set(errors) == {"spec.duration_hours", "spec.mode_of_secret"}
    assert "greater than 0" in errors["spec.duration_hours"]["message"]
    assert "hunter2-value" not in answer.text
    assert "-5" not in answer.text


def test_a_yaml_syntax_error_gives_its_line_and_column_without_quoting_the_text(
    client: TestClient,
) -> None:
    spec = "description: fine\nsecret: [hunter2-value\n"
    answer = client.post("/v1/scenarios", json={"spec": spec}, headers=auth("architect"))
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    assert error["field"].startswith("spec (line ")
    assert "hunter2-value" not in answer.text


def test_yaml_aliases_are_refused_so_a_short_spec_cannot_expand(client: TestClient) -> None:
    spec = "description: &d fine\nname: *d\n"
    answer = client.post("/v1/scenarios", json={"spec": spec}, headers=auth("architect"))
    assert answer.status_code == 422
    assert "aliases" in answer.json()["errors"][0]["message"]


def test_a_live_only_scenario_is_refused_offline_before_a_run_is_created(
    client: TestClient,
) -> None:
    body = {"scenario": "restart-under-peak", "mode": "offline"}
    answer = client.post("/v1/scenarios", json=body, headers=auth("architect"))
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["mode"]
    assert client.get("/v1/scenarios", headers=auth("architect")).json()["runs"] == []


def test_the_worker_refuses_a_path_even_if_one_reaches_it(tmp_path: Path) -> None:
    from api.scenario_inputs import ScenarioInputError
    from api.scenario_worker import run_simulator

    with pytest.raises(ScenarioInputError) as refused:
        run_simulator(
            scenario="/proc/self/status",
            spec=None,
            mode="offline",
            seed=1,
            out_dir=tmp_path,
            on_event=lambda _: None,
            bootstrap=None,
            topics=None,
        )
    assert "VmRSS" not in str(refused.value)
    assert "baseline" in str(refused.value)
