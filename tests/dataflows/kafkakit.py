"""Helpers for the flow tests on the real broker: produce, read a topic to its end, run CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from infra.kafka_clients import producer_config

REPO = Path(__file__).resolve().parents[2]


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes]]) -> int:
    producer = Producer(producer_config(bootstrap))
    n = 0
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.05)
        n += 1
        if n % 10_000 == 0:
            producer.poll(0)
    remaining = producer.flush(60)
    assert remaining == 0, f"{remaining} messages not delivered to {topic}"
    return n


def read_all(bootstrap: str, topic: str, timeout: float = 60.0) -> list:
    """Every message of `topic` from the beginning up to its current end."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-all-{topic}-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "log_level": 3,
        }
    )
    try:
        md = consumer.list_topics(topic, timeout=10)
        parts = sorted(md.topics[topic].partitions)
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in parts
        }
        todo = {p for p in parts if ends[p] > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out = []
        deadline = time.monotonic() + timeout
        while todo:
            assert time.monotonic() < deadline, f"timed out reading {topic}"
            for msg in consumer.consume(10_000, 0.5):
                if msg.error():
                    continue
                out.append(msg)
                if msg.offset() + 1 >= ends[msg.partition()]:
                    todo.discard(msg.partition())
        return out
    finally:
        consumer.close()


def flow_command(name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", "flow", name, *args]


def start_flow(name: str, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    full_env = {**os.environ, **env}
    with log.open("ab") as out:
        return subprocess.Popen(
            flow_command(name, *args), cwd=REPO, env=full_env, stdout=out, stderr=out
        )
