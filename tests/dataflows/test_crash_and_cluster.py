"""The twin flow as real OS processes on the real broker: SIGKILLed and resumed, and clustered.

Kill test: 200,000+ events (with re-sent duplicates) on inventory.events.v1; the flow is
SIGKILLed three times (the first before any shard snapshot exists) and restarted each time;
the positions topic, read as a consumer does (highest version per SKU), must equal the
independent expectation: nothing lost, nothing counted twice.
"""

from __future__ import annotations

import random
import signal
import socket
import sqlite3
import time
from pathlib import Path

import msgspec
import pytest
from bytewax.testing import run_main
from confluent_kafka import Consumer, TopicPartition

from dataflows.production import twin_flow
from infra.kafka_clients import delete_topics, ensure_topics
from infra.topics import TOPIC_SPECS, topic_names
from tests.dataflows.kafkakit import produce, start_flow
from tests.dataflows.scripted import T0, buckets_of, expected_positions, script_events
from tests.dataflows.test_flows_on_kafka import bounded_settings, calm_master, latest_from_topic
from tests.polling import wait_until
from twin.masterdata import dump_master_data

pytestmark = [pytest.mark.integration, pytest.mark.slow]
_enc = msgspec.json.Encoder()


def _produce_events(bootstrap: str, topic: str, events) -> None:
    produce(bootstrap, topic, ((e.sku.encode(), _enc.encode(e)) for e in events))


def _positions_written(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "hw", "log_level": 3})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts
        )
    finally:
        consumer.close()


def _shard_snapshots(recovery_dir: Path) -> int:
    total = 0
    for part in recovery_dir.glob("part-*.sqlite3"):
        try:
            with sqlite3.connect(part, timeout=5) as db:
                total += db.execute(
                    "select count(*) from snaps where step_id like '%apply_to_twin_shard%'"
                ).fetchone()[0]
        except sqlite3.OperationalError:
            continue  # the running flow holds a write lock or has not created the table yet
    return total


def _env(bootstrap: str, master_path: Path, state_dir: Path) -> dict[str, str]:
    return {
        "TWIN_KAFKA_BOOTSTRAP": bootstrap,
        "TWIN_MASTER_DATA": str(master_path),
        "TWIN_STATE_DIR": str(state_dir),
    }


def test_sigkilled_three_times_the_twin_flow_ends_on_the_ground_truth(
    kafka_bootstrap, twin_topics, topic_suffix, tmp_path
):
    rng = random.Random(2026)
    master = calm_master(sites=6, skus=3000, seed=5)
    master_path = tmp_path / "master.yaml"
    master_path.write_text(dump_master_data(master))
    events = script_events(master, rng, 200_000)
    resent = rng.sample(events, 4_000)
    stream = [*events, *resent]
    rng.shuffle(stream)
    # The input arrives in four parts while the flow runs, so every kill lands on a running
    # flow with work in hand, however fast or slow the machine is.
    quarter = len(stream) // 4
    parts = [stream[:quarter], stream[quarter : 2 * quarter], stream[2 * quarter : 3 * quarter]]
    parts.append(stream[3 * quarter :])
    events_topic = twin_topics["inventory.events.v1"]
    _produce_events(kafka_bootstrap, events_topic, parts[0])

    positions = twin_topics["twin.positions.v1"]
    env = _env(kafka_bootstrap, master_path, tmp_path)
    args = ["--topic-suffix", topic_suffix, "--snapshot-interval", "3"]
    recovery_dir = tmp_path / "recovery" / f"twin{topic_suffix}"
    log = tmp_path / "flow.log"

    for attempt in range(3):
        before = _positions_written(kafka_bootstrap, positions)
        proc = start_flow("twin", args, env, log)
        part = parts[attempt]
        if attempt > 0:
            # Half the new part at once: a flow resumed from a snapshot taken after it had
            # read everything so far has nothing to redo, and would write nothing to wait for.
            _produce_events(kafka_bootstrap, events_topic, part[: len(part) // 2])
        try:
            wait_until(
                lambda b=before, p=proc: (
                    _positions_written(kafka_bootstrap, positions) > b or p.poll() is not None
                ),
                timeout=240,
                what=f"twin flow output before kill {attempt + 1}",
                every=0.05,
            )
            if attempt == 0:
                assert _shard_snapshots(recovery_dir) == 0, "first kill came after a snapshot"
            else:
                # Later kills come after a snapshot exists, so a resume from a snapshot (not
                # only from the start) is what gets tested.
                wait_until(
                    lambda p=proc: _shard_snapshots(recovery_dir) > 0 or p.poll() is not None,
                    timeout=240,
                    what=f"a shard snapshot before kill {attempt + 1}",
                    every=0.1,
                )
                _produce_events(kafka_bootstrap, events_topic, part[len(part) // 2 :])
                # then a random moment while the flow works through the new part
                kill_at = time.monotonic() + rng.uniform(0.2, 2.5)
                wait_until(
                    lambda k=kill_at, p=proc: time.monotonic() >= k or p.poll() is not None,
                    timeout=30,
                    what="the kill moment",
                    every=0.05,
                )
            assert proc.poll() is None, f"flow ended before kill {attempt + 1}:\n{log.read_text()}"
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL

    assert _shard_snapshots(recovery_dir) > 0
    _produce_events(kafka_bootstrap, events_topic, parts[3])
    final = start_flow("twin", [*args, "--stop-at-end"], env, log)
    assert final.wait(timeout=600) == 0, log.read_text()[-3000:]

    latest = latest_from_topic(kafka_bootstrap, positions)
    assert {sku: buckets_of(p) for sku, p in latest.items()} == expected_positions(events)


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise AssertionError("no two consecutive free ports")


def test_a_two_process_cluster_gives_the_same_positions_as_one_worker(
    kafka_bootstrap, twin_topics, topic_suffix, tmp_path
):
    rng = random.Random(77)
    master = calm_master(sites=5, skus=400, seed=9)
    master_path = tmp_path / "master.yaml"
    master_path.write_text(dump_master_data(master))
    events = script_events(master, rng, 30_000)
    stream = [*events, *rng.sample(events, 1_000)]
    rng.shuffle(stream)
    cluster_suffix = topic_suffix + "c"
    cluster_topics = topic_names(cluster_suffix)
    ensure_topics(kafka_bootstrap, TOPIC_SPECS, suffix=cluster_suffix)
    try:
        _produce_events(kafka_bootstrap, twin_topics["inventory.events.v1"], stream)
        _produce_events(kafka_bootstrap, cluster_topics["inventory.events.v1"], stream)

        started = time.monotonic()
        cluster = start_flow(
            "twin",
            [
                "-p",
                "2",
                "--base-port",
                str(_free_port_pair()),
                "--topic-suffix",
                cluster_suffix,
                "--snapshot-interval",
                "2",
                "--stop-at-end",
            ],
            _env(kafka_bootstrap, master_path, tmp_path),
            tmp_path / "cluster.log",
        )
        settings = bounded_settings(kafka_bootstrap, topic_suffix, tmp_path, flow_recovery=False)
        run_main(twin_flow(settings, master))
        assert cluster.wait(timeout=600 - (time.monotonic() - started)) == 0, (
            tmp_path / "cluster.log"
        ).read_text()[-3000:]

        def final(topic: str):
            return {
                sku: msgspec.structs.replace(p, as_of=T0)
                for sku, p in latest_from_topic(kafka_bootstrap, topic).items()
            }

        one = final(twin_topics["twin.positions.v1"])
        two = final(cluster_topics["twin.positions.v1"])
        assert one == two
        assert {s: buckets_of(p) for s, p in one.items()} == expected_positions(events)
    finally:
        delete_topics(kafka_bootstrap, cluster_topics.values())
