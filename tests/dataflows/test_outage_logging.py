"""While the broker is down, a flow logs the outage once and then a reminder, not every retry.

librdkafka logs each failed connection attempt of each client: the normalize flow has a
consumer per feed partition (18) and producers besides, which came to ~330 lines a second
while the broker was down (~8 GB a day). Both flows run here as real processes against a
broker of the test's own, which is then killed; what they write in the next seconds must stay
within a small bound, and say that the broker is unreachable.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from infra.broker import LocalBroker
from infra.kafka_clients import ClientLogLimiter, ensure_topics
from infra.topics import TOPIC_SPECS
from tests.dataflows.kafkakit import produce, start_flow
from tests.dataflows.test_crash_and_cluster import _positions_written
from tests.dataflows.test_flows_on_kafka import calm_master
from tests.dataflows.test_poison_records import NOW, api_event
from tests.polling import wait_until
from twin.masterdata import dump_master_data

OUTAGE_S = 8.0
# first line of each kind per process, a reminder every 30 s: a few dozen lines at most
MAX_LINES = 60


def _lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines() if path.exists() else []


@pytest.mark.integration
@pytest.mark.slow
def test_a_dead_broker_is_logged_once_per_kind_not_on_every_retry(
    dedicated_broker: LocalBroker, tmp_path: Path
) -> None:
    bootstrap = dedicated_broker.bootstrap
    ensure_topics(bootstrap, TOPIC_SPECS)
    master_path = tmp_path / "master.yaml"
    master_path.write_text(dump_master_data(calm_master()))
    env = {
        "TWIN_KAFKA_BOOTSTRAP": bootstrap,
        "TWIN_MASTER_DATA": str(master_path),
        "TWIN_STATE_DIR": str(tmp_path / "state"),
        "TWIN_PURE": "1",
    }
    logs = {name: tmp_path / f"{name}.log" for name in ("normalize", "twin")}
    flows = [start_flow(name, ["--no-recovery"], env, log) for name, log in logs.items()]
    try:
        # both flows are running (an event went all the way through) before the broker goes
        produce(
            bootstrap, "feeds.api.v1", [(None, api_event("e1", "SKU-00001", 1, NOW.isoformat()))]
        )
        wait_until(
            lambda: _positions_written(bootstrap, "twin.positions.v1") > 0,
            timeout=90,
            what="a position from the running flows",
            every=0.5,
        )
        before = {name: len(_lines(log)) for name, log in logs.items()}
        dedicated_broker.kill()
        outage_end = time.monotonic() + OUTAGE_S
        wait_until(lambda: time.monotonic() >= outage_end, OUTAGE_S + 5, "the outage to last")
        for flow in flows:
            assert flow.poll() is None, "a flow stopped while the broker was down"
        for name, log in logs.items():
            during = _lines(log)[before[name] :]
            assert len(during) <= MAX_LINES, (name, len(during), during[:80])
            assert any("127.0.0.1" in line or "brokers" in line.lower() for line in during), (
                name,
                during,
            )
    finally:
        for flow in flows:
            flow.terminate()
        for flow in flows:
            flow.wait(timeout=30)


def test_the_limiter_logs_each_kind_once_then_one_reminder_per_interval_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    limiter = ClientLogLimiter(logging.getLogger("kafka.test"), 30.0, clock=lambda: now[0])
    fmt = "%s [%s] %s"

    def fail(client: int, port: int) -> None:
        text = f"[thrd:main]: Connect to ipv4#127.0.0.1:{port} failed (after {client}ms)"
        limiter.log(logging.ERROR, fmt, "FAIL", f"rdkafka#consumer-{client}", text)

    with caplog.at_level(logging.INFO, logger="kafka.test"):
        for second in range(0, 61):
            now[0] = float(second)
            for client in range(18):  # 18 clients, one retry a second each
                fail(client, 9092)
        limiter.log(logging.WARNING, fmt, "GETPID", "rdkafka#producer-1", "[thrd:main]: PID")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4, lines  # FAIL at 0 s, reminders at 30 s and 60 s; GETPID once
    assert lines[0] == "rdkafka#consumer-0: Connect to ipv4#127.0.0.1:9092 failed (after 0ms)"
    assert lines[1].endswith("(539 more like it in the last 30 s)")
    assert lines[2].endswith("(539 more like it in the last 30 s)")
    assert lines[3] == "rdkafka#producer-1: PID"
