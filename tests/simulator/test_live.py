"""Live mode against the real broker and the real dataflows, run as `invtwin flow` processes.

Each test gets its own topics (`twin_topics`), its own state directory and its own master
data; the flows are started with the test's topic suffix and stopped (killed if need be) at
the end. The simulation runs at 600x real time: two simulated hours take about 12 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator.runner import run_scenario
from simulator.scenarios import parse_scenario
from twin.masterdata import dump_master_data
from twin.masterdata_gen import generate_master_data

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Flows:
    """The normalize and twin flows as subprocesses of one test."""

    def __init__(self, bootstrap: str, suffix: str, master: Path, state: Path, log: Path):
        self.env = {
            **os.environ,
            "TWIN_KAFKA_BOOTSTRAP": bootstrap,
            "TWIN_MASTER_DATA": str(master),
            "TWIN_STATE_DIR": str(state),
        }
        self.suffix = suffix
        self.log = log
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        args = ["--topic-suffix", self.suffix]
        args += ["--snapshot-interval", "1"] if name == "twin" else ["--no-recovery"]
        with self.log.open("ab") as out:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "flow", name, *args],
                cwd=REPO, env=self.env, stdout=out, stderr=out,
            )  # fmt: skip

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def restart(self, target: str, down_seconds: float) -> None:
        """The restart hook of the scenario: SIGKILL a flow, stay down, start it again."""
        assert target in ("normalize", "twin"), f"this test restarts flows only, not {target}"
        self.kill(target)
        time.sleep(down_seconds)  # the outage itself (not a wait for a result): down this long
        self.start(target)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def running(self) -> bool:
        return all(p.poll() is None for p in self.procs.values())


@pytest.fixture
def flows(kafka_bootstrap, twin_topics, topic_suffix, tmp_path):
    master = tmp_path / "master.yaml"
    master.write_text(dump_master_data(generate_master_data(sites=4, skus=20, seed=1)))
    running = Flows(kafka_bootstrap, topic_suffix, master, tmp_path, tmp_path / "flows.log")
    running.start("normalize")
    running.start("twin")
    yield running, master
    running.stop()


def _scenario(master: Path, extra: str = "") -> object:
    return parse_scenario(
        f"""
name: live-check
duration_hours: 2
network: {{path: {master}, supplier_lead_time_hours: 1}}
demand: {{orders_per_sku_site_per_day: 40, diurnal: flat}}
operations: {{cycle_count_interval_hours: 0.5, cycle_count_skus: 5}}
feeds:
  defaults:
    batch: {{interval_minutes: 10}}
    3pl: {{interval_minutes: 20}}
report: {{sample_minutes: 10}}
live: {{speed: 600, quiescence_timeout_s: 120}}
{extra}
"""
    )


def test_a_live_run_ends_with_the_twin_agreeing_with_ground_truth(
    flows, kafka_bootstrap, twin_topics
):
    running, master = flows
    scenario = _scenario(master, "faults: [{kind: duplicates, rate: 0.1}]")
    events: list[dict] = []
    report = run_scenario(
        scenario, mode="live", seed=3, bootstrap=kafka_bootstrap, topics=twin_topics,
        on_event=events.append,
    )  # fmt: skip
    assert running.running(), running.log.read_text()[-3000:]
    assert report["live"]["producer_errors"] == []
    assert report["live"]["positions_seen"] > 0
    assert report["events"]["physical"] > 500
    assert report["accuracy"]["final"] == 1.0, report["accuracy"]
    assert report["live"]["agreed_at_quiescence"]
    assert report["duplicates"]["injected"] > 0
    assert [e["type"] for e in events].count("metrics") >= 6
    assert events[-1]["type"] == "report"
    assert report["live"]["reconciled_sku_sites"] == 0  # a fresh twin

    # A second run on the same, still running twin: it starts from what the first left open
    # (reservations not yet picked, receipts not put away, ...) and still ends exact.
    again = run_scenario(
        scenario, mode="live", seed=4, bootstrap=kafka_bootstrap, topics=twin_topics
    )
    assert again["live"]["reconciled_sku_sites"] > 0
    assert again["accuracy"]["final"] == 1.0, again["accuracy"]
    assert again["live"]["agreed_at_quiescence"]


def test_a_twin_flow_killed_mid_run_recovers_and_the_twin_still_agrees(
    flows, kafka_bootstrap, twin_topics
):
    running, master = flows
    scenario = _scenario(
        master,
        "faults: [{kind: restart, target: twin, at_hour: 1, down_seconds: 3}]\nmodes: [live]",
    )
    report = run_scenario(
        scenario, mode="live", seed=4, bootstrap=kafka_bootstrap, topics=twin_topics,
        restart_hook=running.restart,
    )  # fmt: skip
    (restart,) = report["live"]["restarts"]
    assert restart["performed"], restart
    assert report["accuracy"]["final"] == 1.0, running.log.read_text()[-3000:]
    assert report["live"]["agreed_at_quiescence"]


def test_restart_under_peak_the_broker_restarts_and_the_twin_still_agrees(
    dedicated_broker, tmp_path
):
    """The live-only fault: the broker itself goes down mid-run (a broker of this test's own).

    The idempotent producer holds the feeds while it is down; the flows reconnect; nothing is
    lost or doubled, so the twin still ends equal to ground truth.
    """
    from infra.kafka_clients import ensure_topics
    from infra.topics import TOPIC_SPECS, topic_names

    bootstrap = dedicated_broker.bootstrap
    ensure_topics(bootstrap, TOPIC_SPECS)
    master = tmp_path / "master.yaml"
    master.write_text(dump_master_data(generate_master_data(sites=4, skus=20, seed=1)))
    running = Flows(bootstrap, "", master, tmp_path / "state", tmp_path / "flows.log")
    running.start("normalize")
    running.start("twin")

    def restart(target: str, down_seconds: float) -> None:
        assert target == "broker"
        dedicated_broker.down()
        time.sleep(down_seconds)  # the outage itself (not a wait for a result): down this long
        dedicated_broker.up()

    try:
        scenario = _scenario(
            master,
            "faults: [{kind: restart, target: broker, at_hour: 0.5, down_seconds: 3}]\n"
            "modes: [live]",
        )
        report = run_scenario(
            scenario, mode="live", seed=5, bootstrap=bootstrap, topics=topic_names(""),
            restart_hook=restart,
        )  # fmt: skip
        assert running.running(), running.log.read_text()[-3000:]
    finally:
        running.stop()
    (done,) = report["live"]["restarts"]
    assert done["performed"], done
    assert report["live"]["producer_errors"] == []
    assert report["accuracy"]["final"] == 1.0, _disagreement(report, running.log)
    assert report["live"]["agreed_at_quiescence"]


def _disagreement(report: dict, log: Path) -> str:
    """What a failed agreement needs to be diagnosed: the report's accuracy and ATP error, its
    live section, and the flows' log without librdkafka's reconnect chatter."""
    lines = [
        line
        for line in log.read_text().splitlines()
        if "Connection refused" not in line and "Disconnected" not in line
    ]
    accuracy = {k: v for k, v in report["accuracy"].items() if k in ("final", "mean", "min")}
    figures = {"accuracy": accuracy, "atp_error": report.get("atp_error"), "live": report["live"]}
    return f"{figures}\n--- flows log (filtered, last 60 lines) ---\n" + "\n".join(lines[-60:])


def test_on_the_stacks_domain_clock_the_run_starts_at_its_now_and_runs_at_its_speed(
    kafka_bootstrap, twin_topics, topic_suffix, tmp_path, monkeypatch
):
    """What the demo does: flows and simulator share an accelerated clock through
    TWIN_CLOCK_ORIGIN / TWIN_CLOCK_SPEED. The simulation starts at that clock's now and runs
    at its speed (not the scenario's), and the twin dates its metrics in the same time."""
    from datetime import datetime, timedelta

    from infra.clock import DomainClock, utc_now
    from tests.dataflows.kafkakit import read_all
    from twin.wire import SiteMetric, metric_decoder

    clock = DomainClock(utc_now() - timedelta(seconds=30), 600.0)  # five hours ahead already
    for name, value in clock.env().items():
        monkeypatch.setenv(name, value)  # the simulator reads them like the flows do
    master = tmp_path / "master.yaml"
    master.write_text(dump_master_data(generate_master_data(sites=4, skus=20, seed=1)))
    running = Flows(kafka_bootstrap, topic_suffix, master, tmp_path, tmp_path / "flows.log")
    running.start("normalize")
    running.start("twin")
    try:
        scenario = _scenario(master)
        # the scenario asks for 300x: the stack's clock wins
        scenario = scenario.model_copy(
            update={"live": scenario.live.model_copy(update={"speed": 300.0})}
        )
        began = clock()
        report = run_scenario(
            scenario, mode="live", seed=6, bootstrap=kafka_bootstrap, topics=twin_topics
        )
        ended = clock()
        assert running.running(), running.log.read_text()[-3000:]
    finally:
        running.stop()
    assert report["live"]["speed"] == 600.0
    assert report["live"]["domain_clock"] == clock.env()
    start = datetime.fromisoformat(report["start"])
    # at the clock's now (five hours ahead of the wall clock), give or take the catch-up
    assert began - timedelta(seconds=1) <= start <= began + timedelta(hours=1)
    assert report["accuracy"]["final"] == 1.0, report["accuracy"]
    # The twin flow judged on the same clock: its site metrics are dated inside the simulated
    # run, and event-to-visible latencies are real figures, not negatives clamped to zero.
    records = read_all(kafka_bootstrap, twin_topics["twin.metrics.v1"])
    metrics = [metric_decoder.decode(m.value()) for m in records]
    sites = [m for m in metrics if isinstance(m, SiteMetric) and m.visible_latency.count]
    assert sites, "no site metric with event-to-visible latencies"
    assert all(began - timedelta(minutes=5) <= m.as_of <= ended for m in sites)
    assert all(m.visible_latency.max_ms > 0 for m in sites)
