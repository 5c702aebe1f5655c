"""Scenario runs outlast the API process and are shared by replicas; a run can be cancelled.

Two app instances on one scenario root stand for two replicas (or one API before and after
a restart): each runs its own worker processes and serves the other's runs from the store.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from api.scenario_store import RECORD, STALE_AFTER_S, RunStore
from tests.api.conftest import auth, make_settings
from tests.api.fakes import FakeProducer
from tests.polling import wait_until


def slow_runner(*, on_event: Any, **_: Any) -> dict[str, Any]:
    """A run that keeps going, and talking, until it is stopped (what cancelling is for)."""
    events = 0
    while True:
        events += 1
        on_event({"type": "progress", "sim_time_s": events, "pct": 0, "events": events})
        time.sleep(0.05)  # a worker busy simulating, not a test waiting


def _api(tmp_path: Path, runner: str = "tests.api.fakes:fake_runner") -> TestClient:
    settings = make_settings(tmp_path, scenario_runner=runner)
    return TestClient(create_app(settings, feed=FakeFeed(), producer=FakeProducer()))


def _status(client: TestClient, run_id: str) -> str:
    return str(client.get(f"/v1/scenarios/{run_id}", headers=auth("architect")).json()["status"])


def test_a_finished_run_is_listed_and_served_after_the_api_restarts(tmp_path: Path) -> None:
    with _api(tmp_path) as first:
        run_id = first.post(
            "/v1/scenarios", json={"scenario": "baseline", "seed": 3}, headers=auth("architect")
        ).json()["id"]
        wait_until(lambda: _status(first, run_id) == "succeeded", 30, "the run to finish")
    with _api(tmp_path) as restarted:
        listing = restarted.get("/v1/scenarios", headers=auth("architect")).json()
        assert [(r["id"], r["status"], r["seed"]) for r in listing["runs"]] == [
            (run_id, "succeeded", 3)
        ]
        body = restarted.get(f"/v1/scenarios/{run_id}", headers=auth("architect")).json()
        assert body["report"] == {"seed": 3, "accuracy": 0.99}
        assert [m["accuracy"] for m in body["metrics"]] == [0.99]
        plot = restarted.get(f"/v1/scenarios/{run_id}/plots/accuracy", headers=auth("architect"))
        assert plot.status_code == 200 and plot.content.startswith(b"\x89PNG")
        with restarted.websocket_connect(
            f"/v1/scenarios/{run_id}/stream", headers=auth("architect")
        ) as ws:
            kinds = [ws.receive_json()["type"] for _ in range(3)]
        assert kinds == ["progress", "metrics", "report"]


def test_a_replica_lists_another_replicas_run_and_cancels_it(tmp_path: Path) -> None:
    runner = f"{__name__}:slow_runner"
    with _api(tmp_path, runner) as owner, _api(tmp_path, runner) as other:
        run_id = owner.post(
            "/v1/scenarios", json={"scenario": "baseline"}, headers=auth("architect")
        ).json()["id"]
        runs = other.get("/v1/scenarios", headers=auth("architect")).json()["runs"]
        assert [(r["id"], r["status"]) for r in runs] == [(run_id, "running")]
        assert other.delete(f"/v1/scenarios/{run_id}", headers=auth("viewer")).status_code == 403
        assert other.delete(f"/v1/scenarios/{run_id}", headers=auth("architect")).status_code == 200
        wait_until(lambda: _status(owner, run_id) == "cancelled", 15, "the owner to stop the run")
        wait_until(lambda: _status(other, run_id) == "cancelled", 5, "the store to say so")
        proc = owner.app.state.twin.scenarios._procs[run_id]  # type: ignore[attr-defined]
        wait_until(lambda: not proc.is_alive(), 10, "the worker process to end")


def test_cancelling_a_run_of_this_process_stops_its_worker_at_once(tmp_path: Path) -> None:
    with _api(tmp_path, f"{__name__}:slow_runner") as client:
        run_id = client.post(
            "/v1/scenarios", json={"scenario": "baseline"}, headers=auth("architect")
        ).json()["id"]
        body = client.delete(f"/v1/scenarios/{run_id}", headers=auth("architect")).json()
        assert body["status"] == "cancelled"
        assert (
            client.delete("/v1/scenarios/0123456789ab", headers=auth("architect")).status_code
            == 404
        )


def test_a_run_whose_api_died_is_reported_interrupted(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "scenarios")
    store.save({"id": "00000000abcd", "status": "running", "mode": "offline", "seed": 1,
                "scenario": "baseline", "created_at": "2026-12-01T00:00:00+00:00"})  # fmt: skip
    record = store.root / "00000000abcd" / RECORD
    stale = json.loads(record.read_text()) | {"heartbeat": time.time() - STALE_AFTER_S - 1}
    record.write_text(json.dumps(stale))
    with _api(tmp_path) as client:
        body = client.get("/v1/scenarios/00000000abcd", headers=auth("architect")).json()
    assert body["status"] == "interrupted"
    assert "stopped before it finished" in body["error"]


def test_the_listing_offers_each_library_scenario_with_its_modes(tmp_path: Path) -> None:
    with _api(tmp_path) as client:
        library = client.get("/v1/scenarios", headers=auth("architect")).json()["library"]
    modes = {entry["name"]: entry["modes"] for entry in library}
    assert modes["restart-under-peak"] == ["live"]
    assert "offline" in modes["baseline"]
