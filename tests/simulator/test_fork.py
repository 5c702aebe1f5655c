"""Fork from now on the real broker: a run opens from the positions topic at recorded offsets.

The positions are written to a test topic as the twin flow writes them (msgspec `Position`,
key = SKU, a later record of a SKU replacing the earlier one), so the test knows exactly
what the twin served and can check the opening SKU by SKU.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
import simpy
from confluent_kafka import Producer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.feed import FakeFeed
from cli.main import app
from infra.kafka_clients import producer_config
from infra.topics import TWIN_POSITIONS
from simulator.engine import Simulation
from simulator.fork import fork_live, read_positions
from simulator.network import load_network
from simulator.scenarios import parse_scenario
from simulator.truth import BUCKETS
from tests.api.conftest import auth, make_settings
from tests.api.fakes import FakeProducer
from tests.polling import wait_until
from twin.masterdata import dump_master_data
from twin.masterdata_gen import generate_master_data
from twin.wire import NetworkTotals, Position, SitePosition

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
SPEC = """
name: fork-test
from: live
duration_hours: 2
demand: {orders_per_sku_site_per_day: 40}
report: {controls: false}
"""


def _position(sku: str, version: int, sites: dict[str, list[int]]) -> Position:
    figures = {
        site: SitePosition(
            **dict(zip(BUCKETS, b, strict=True)),
            atp=b[0] - b[1] - b[2] - b[3] - b[4],
            last_event_at=NOW - timedelta(minutes=3 - version),
        )
        for site, b in sites.items()
    }
    return Position(
        sku=sku,
        version=version,
        as_of=NOW,
        sites=figures,
        network=NetworkTotals(on_hand=sum(b[0] for b in sites.values())),
    )


@pytest.fixture
def live_twin(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> tuple[str, Path, dict[str, dict[str, list[int]]]]:
    """A positions topic holding what a twin served, the master data, and those positions."""
    md = generate_master_data(sites=4, skus=12, seed=3)
    master = tmp_path / "network.yaml"
    master.write_text(dump_master_data(md))
    # named as the flows name it with a topic suffix, so the CLI finds it by `--topic-suffix`
    topic = new_topic(TWIN_POSITIONS, partitions=3, config={"cleanup.policy": "compact"})
    sites = [s.id for s in md.sites]
    served: dict[str, dict[str, list[int]]] = {}
    producer = Producer(producer_config(kafka_bootstrap))
    for i, sku in enumerate(s.id for s in md.skus):
        # on_hand, receiving, reserved, picked, quarantined, in_transit
        first = {site: [50 + i, 0, 0, 0, 0, 0] for site in sites}
        latest = {
            site: [40 + i + j, j % 2 * 3, i % 3, j % 2, (i + j) % 2, (i * j) % 4]
            for j, site in enumerate(sites)
        }
        for version, buckets in ((1, first), (2, latest)):
            encoded = msgspec.json.encode(_position(sku, version, buckets))
            producer.produce(topic, encoded, sku.encode())
        served[sku] = latest
    assert producer.flush(30) == 0
    return topic, master, served


def test_a_fork_opens_from_the_positions_served_at_the_recorded_offsets(
    kafka_bootstrap: str, live_twin: tuple[str, Path, dict[str, dict[str, list[int]]]]
) -> None:
    topic, master, served = live_twin
    opening = read_positions(kafka_bootstrap, topic)
    assert sum(opening.offsets.values()) == 2 * len(served)  # every record, up to the end
    assert opening.positions == served

    scenario = fork_live(
        parse_scenario(SPEC),
        bootstrap=kafka_bootstrap,
        master_data=master,
        topics={TWIN_POSITIONS: topic},
    )
    assert scenario.start == NOW - timedelta(minutes=1) + timedelta(seconds=1)
    sim = Simulation(scenario, 7, simpy.Environment(), network=load_network(scenario.network))
    sim.start()
    net, truth = sim.network, sim.truth
    for sku, sites in served.items():
        k = net.sku_ids.index(sku)
        for site, buckets in sites.items():
            s = net.site_index(site)
            opened = [int(getattr(truth, bucket)[s, k]) for bucket in BUCKETS]
            assert opened == buckets, (sku, site)


def test_invtwin_sim_run_from_live_names_the_offsets_it_opened_at(
    kafka_bootstrap: str,
    live_twin: tuple[str, Path, dict[str, dict[str, list[int]]]],
    tmp_path: Path,
) -> None:
    topic, master, _served = live_twin
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text("name: tiny\nduration_hours: 1\nreport: {controls: false}\n")
    args = ["sim", "run", "--scenario", str(scenario), "--from-live", "--master-data",
            str(master), "--topic-suffix", topic.removeprefix(TWIN_POSITIONS),
            "--bootstrap", kafka_bootstrap, "--out", str(tmp_path)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"48 SKU-sites of {topic}" in result.output
    report = json.loads((tmp_path / "tiny-live-offline-seed7" / "report.json").read_text())
    assert report["from_live"]["topic"] == topic


def test_post_scenarios_from_live_runs_from_the_apis_twin_and_reports_the_offsets(
    kafka_bootstrap: str,
    live_twin: tuple[str, Path, dict[str, dict[str, list[int]]]],
    tmp_path: Path,
) -> None:
    topic, master, _served = live_twin
    settings = make_settings(
        tmp_path,
        scenario_runner="api.scenario_worker:run_simulator",
        kafka_bootstrap=kafka_bootstrap,
        api_topic_suffix=topic.removeprefix(TWIN_POSITIONS),
        master_data=master,
    )
    spec = "name: tiny\nduration_hours: 1\nreport: {controls: false}\n"
    with TestClient(create_app(settings, feed=FakeFeed(), producer=FakeProducer())) as client:
        live_only = client.post(
            "/v1/scenarios", json={"spec": spec, "from": "live", "mode": "live"},
            headers=auth("architect"),
        )  # fmt: skip
        assert live_only.status_code == 422  # a fork runs forward offline
        run_id = client.post(
            "/v1/scenarios", json={"spec": spec, "from": "live"}, headers=auth("architect")
        ).json()["id"]

        def finished() -> bool:
            body = client.get(f"/v1/scenarios/{run_id}", headers=auth("architect")).json()
            return body["status"] != "running"

        wait_until(finished, 120, "the forked run to finish")
        body = client.get(f"/v1/scenarios/{run_id}", headers=auth("architect")).json()
    assert body["status"] == "succeeded", body["error"]
    assert body["from_live"] is True
    assert body["report"]["from_live"]["topic"] == topic
    assert body["report"]["from_live"]["sku_sites"] == 48
    assert sum(body["report"]["from_live"]["offsets"].values()) == 24
    assert body["report"]["accuracy"]["final"] == 1.0  # the offline twin ends agreeing
