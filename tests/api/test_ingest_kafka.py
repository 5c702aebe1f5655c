"""Ingest's idempotency on the real broker: records live in the ingest topic, not in a process.

- two callers' equal `Idempotency-Key`s are two events, written under two ids;
- after the API process is killed and started again, a retry with the same key (the same
  JSON spaced and ordered otherwise) is a replay and a changed body is a 409, and an event id
  reused with other content is a 409; nothing is written twice;
- a second replica learns what the first wrote, so a retry landing there is a replay too;
- through the real flows, all three events sharing the name `collide-1` (an explicit event id
  and two callers' keys) are applied: the position adds all three up.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from infra.kafka_clients import delete_topics, ensure_topics
from infra.topics import FEEDS_API, TOPIC_SPECS
from tests.api.conftest import TOKENS, auth, make_settings
from tests.api.fakes import event_json
from tests.api.procs import ApiProcess, running_flows
from tests.polling import wait_until

pytestmark = pytest.mark.integration


def written(
    bootstrap: str, topic: str, expected: int, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Every message of `topic` once there are at least `expected` (JSON-decoded)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        values: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(values) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=100, timeout=0.5):
                if msg.error() is None:
                    values.append(json.loads(msg.value()))
        # Then drain what else is there, to see anything written twice.
        for msg in consumer.consume(num_messages=100, timeout=1.0):
            if msg.error() is None:
                values.append(json.loads(msg.value()))
        return values
    finally:
        consumer.close()


def keyed(key: str, role: str = "ingest") -> dict[str, str]:
    return {**auth(role), "Idempotency-Key": key, "Content-Type": "application/json"}


def test_two_callers_equal_keys_are_two_events_on_the_topic(
    kafka_bootstrap: str, twin_topics: dict[str, str], topic_suffix: str, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path, kafka_bootstrap=kafka_bootstrap, api_topic_suffix=topic_suffix
    )
    with TestClient(create_app(settings, feed=FakeFeed())) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 30, "the API to be ready")
        mine = client.post("/v1/events", json=event_json(qty=11), headers=keyed("collide-1"))
        theirs = client.post(
            "/v1/events", json=event_json(qty=13), headers=keyed("collide-1", role="admin")
        )
    assert mine.status_code == theirs.status_code == 202
    values = written(kafka_bootstrap, twin_topics[FEEDS_API], 2)
    assert sorted((v["event_id"], v["qty"]) for v in values) == sorted(
        [(mine.json()["event_ids"][0], 11), (theirs.json()["event_ids"][0], 13)]
    )
    assert len({v["event_id"] for v in values}) == 2


def test_after_an_api_restart_a_retry_is_a_replay_and_a_changed_body_a_409(
    kafka_bootstrap: str, twin_topics: dict[str, str], topic_suffix: str, tmp_path: Path
) -> None:
    env = {
        "TWIN_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TWIN_API_TOKENS": ",".join(f"{t}:{r}" for r, t in TOKENS.items()),
        "TWIN_API_TOPIC_SUFFIX": topic_suffix,
        "TWIN_STATE_DIR": str(tmp_path / "state"),
    }
    event = event_json("explicit-1", qty=4)
    api = ApiProcess(env, tmp_path)
    api.start()
    try:
        with httpx.Client(base_url=api.base_url, timeout=30) as http:
            first = http.post("/v1/events", content=json.dumps(event), headers=keyed("k-restart"))
            plain = http.post("/v1/events", json=event, headers=auth("ingest"))
            assert first.status_code == plain.status_code == 202
            api.kill()
            api.start()  # ready only once the ingest topic was read back
            spaced = json.dumps(dict(reversed(list(event.items()))), indent=2)
            replay = http.post("/v1/events", content=spaced, headers=keyed("k-restart"))
            changed = http.post("/v1/events", json={**event, "qty": 5}, headers=keyed("k-restart"))
            plain_again = http.post("/v1/events", json=event, headers=auth("ingest"))
            reused = http.post("/v1/events", json={**event, "qty": 6}, headers=auth("ingest"))
    finally:
        api.stop()
    assert replay.status_code == 202, replay.text
    assert replay.json() == first.json()
    assert changed.status_code == 409, changed.text
    assert changed.json()["errors"][0]["value"] == first.json()["event_ids"][0]
    assert plain_again.status_code == 202
    assert reused.status_code == 409
    assert reused.json()["errors"][0]["value"] == "explicit-1"
    values = written(kafka_bootstrap, twin_topics[FEEDS_API], 2)
    assert sorted(v["event_id"] for v in values) == sorted(
        [first.json()["event_ids"][0], "explicit-1"]
    )


def test_a_second_replica_knows_what_the_first_wrote(
    kafka_bootstrap: str, twin_topics: dict[str, str], topic_suffix: str, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path, kafka_bootstrap=kafka_bootstrap, api_topic_suffix=topic_suffix
    )
    with (
        TestClient(create_app(settings, feed=FakeFeed())) as one,
        TestClient(create_app(settings, feed=FakeFeed())) as two,
    ):
        for client in (one, two):
            wait_until(lambda c=client: c.get("/readyz").status_code == 200, 30, "a replica")
        first = one.post("/v1/events", json=event_json(qty=8), headers=keyed("k-replica"))
        assert first.status_code == 202

        [event_id] = first.json()["event_ids"]
        index = two.app.state.twin.event_ids  # type: ignore[attr-defined]
        # The other replica reads the write back within moments; until then it cannot know.
        wait_until(lambda: index.fingerprint(event_id) is not None, 30, "replica two to read it")
        changed = two.post("/v1/events", json=event_json(qty=9), headers=keyed("k-replica"))
        assert changed.status_code == 409, changed.text
        replay = two.post("/v1/events", json=event_json(qty=8), headers=keyed("k-replica"))
    assert replay.status_code == 202 and replay.json() == first.json()
    assert len(written(kafka_bootstrap, twin_topics[FEEDS_API], 1)) == 1


@pytest.mark.slow
def test_an_event_id_and_two_callers_keys_of_one_name_are_all_applied(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    suffix = f".t{uuid.uuid4().hex[:12]}"
    ensure_topics(kafka_bootstrap, TOPIC_SPECS, suffix=suffix)
    sku = "SKU-00013"  # in examples/network.yaml, the flows' default master data
    event = {**event_json("collide-1", sku=sku), "uom": "each", "site": "WH-01"}
    settings = make_settings(tmp_path, kafka_bootstrap=kafka_bootstrap, api_topic_suffix=suffix)
    try:
        with (
            running_flows(kafka_bootstrap, suffix, tmp_path),
            TestClient(create_app(settings)) as api,
        ):
            wait_until(lambda: api.get("/readyz").status_code == 200, 30, "the API to be ready")
            posts = [
                api.post("/v1/events", json={**event, "qty": 5}, headers=auth("ingest")),
                api.post("/v1/events", json={**event, "qty": 11}, headers=keyed("collide-1")),
                api.post(
                    "/v1/events", json={**event, "qty": 13}, headers=keyed("collide-1", "admin")
                ),
                api.post("/v1/events", json={**event, "qty": 11}, headers=keyed("collide-1")),
            ]
            assert [p.status_code for p in posts] == [202] * 4

            def on_hand() -> int | None:
                response = api.get(f"/v1/skus/{sku}", headers=auth("viewer"))
                if response.status_code != 200:
                    return None
                return int(response.json()["sites"]["WH-01"]["on_hand"])

            wait_until(lambda: on_hand() == 29, 90, "5 + 11 + 13 on hand")
    finally:
        delete_topics(kafka_bootstrap, [spec.name + suffix for spec in TOPIC_SPECS])


def test_a_503_says_the_event_may_be_written_and_to_retry_with_the_same_key(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, kafka_bootstrap="127.0.0.1:1", ingest_delivery_timeout_s=1.0)
    with TestClient(create_app(settings, feed=FakeFeed())) as client:
        response = client.post("/v1/events", json=event_json(), headers=keyed("k-503"))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert "may have been written" in detail and "same event_id or Idempotency-Key" in detail
