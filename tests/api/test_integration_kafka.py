"""The API on the real broker (and, where needed, the real dataflows as subprocesses).

- 50 concurrent posts with one Idempotency-Key produce exactly one message (broker only).
- An event posted to /v1/events reaches a WebSocket subscriber as a delta with the right
  buckets (API → feeds.api.v1 → normalize → twin → twin.positions.v1 → view → stream).
- Killing the API process while a client is subscribed: after the restart, the client's
  resume (`since`) is answered with resync + snapshot and converges to the twin's state.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from infra.kafka_clients import delete_topics, ensure_topics
from infra.topics import FEEDS_API, TOPIC_SPECS
from tests.api.conftest import TOKENS, auth, make_settings
from tests.api.fakes import FakeProducer, event_json
from tests.api.procs import ApiProcess, running_flows
from tests.polling import wait_until

pytestmark = pytest.mark.integration

SITE = "WH-01"  # from examples/network.yaml, the flows' default master data


def _message_count(bootstrap: str, topic: str, timeout: float = 30.0) -> int:
    """Messages in a topic (sum of watermark spans), retrying while leadership settles."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"count-{uuid.uuid4()}"})
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
                return sum(
                    high - low
                    for low, high in (
                        consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                        for p in partitions
                    )
                )
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)  # retry after a leader election, bounded by the deadline
    finally:
        consumer.close()


def _event(sku: str, event_id: str, qty: int, kind: str = "RECEIVED") -> dict[str, Any]:
    return {**event_json(event_id, sku=sku, qty=qty), "type": kind, "uom": "each", "site": SITE}


def test_fifty_concurrent_posts_with_one_key_produce_one_message(
    kafka_bootstrap: str, twin_topics: dict[str, str], topic_suffix: str, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path, kafka_bootstrap=kafka_bootstrap, api_topic_suffix=topic_suffix
    )
    app = create_app(settings, feed=FakeFeed())  # the real idempotent Kafka producer
    body = json.dumps(event_json("body-id", sku="SKU-00001"))
    headers = {**auth("ingest"), "Idempotency-Key": f"idem-{uuid.uuid4().hex}"}
    with TestClient(app) as client, ThreadPoolExecutor(50) as pool:
        responses = list(
            pool.map(lambda _: client.post("/v1/events", content=body, headers=headers), range(50))
        )
    assert {r.status_code for r in responses} == {202}
    assert len({r.text for r in responses}) == 1
    topic = twin_topics[FEEDS_API]
    assert _message_count(kafka_bootstrap, topic) == 1


def test_an_unreachable_broker_answers_503_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, kafka_bootstrap="127.0.0.1:1", ingest_delivery_timeout_s=1.0)
    with TestClient(create_app(settings, feed=FakeFeed())) as client:
        response = client.post("/v1/events", json=event_json(), headers=auth("ingest"))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Topics with a suffix of this module, and both dataflows running on them."""
    suffix = f".t{uuid.uuid4().hex[:12]}"
    ensure_topics(kafka_bootstrap, TOPIC_SPECS, suffix=suffix)
    logs = tmp_path_factory.mktemp("stack-logs")
    with running_flows(kafka_bootstrap, suffix, logs):
        yield suffix
    delete_topics(kafka_bootstrap, [spec.name + suffix for spec in TOPIC_SPECS])


@pytest.mark.slow
def test_a_posted_event_reaches_a_subscriber_as_a_delta_with_the_right_buckets(
    kafka_bootstrap: str, stack: str, tmp_path: Path
) -> None:
    sku = "SKU-00007"
    settings = make_settings(tmp_path, kafka_bootstrap=kafka_bootstrap, api_topic_suffix=stack)
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 30, "view ready")
        with client.websocket_connect(f"/v1/stream?token={TOKENS['viewer']}&skus={sku}") as ws:
            snapshot = ws.receive_json()
            assert snapshot["type"] == "snapshot"
            posted = client.post(
                "/v1/events", json=_event(sku, f"it-{uuid.uuid4().hex}", 12), headers=auth("ingest")
            )
            assert posted.status_code == 202, posted.text
            seq = snapshot["seq"]
            while True:  # bounded by the test timeout; each receive blocks until a frame
                message = ws.receive_json()
                if message["type"] != "delta":
                    continue
                assert message["seq"] == seq + 1
                seq = message["seq"]
                if message["positions"]:
                    break
    at_site = message["positions"][0]["sites"][SITE]
    assert (at_site["on_hand"], at_site["receiving"], at_site["atp"]) == (12, 12, 0)


@pytest.mark.slow
def test_clients_converge_to_the_twin_after_the_api_is_killed(
    kafka_bootstrap: str, stack: str, tmp_path: Path
) -> None:
    sku = "SKU-00011"
    env = {
        "TWIN_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TWIN_API_TOKENS": ",".join(f"{t}:{r}" for r, t in TOKENS.items()),
        "TWIN_API_TOPIC_SUFFIX": stack,
        "TWIN_STATE_DIR": str(tmp_path / "state"),
    }
    api = ApiProcess(env, tmp_path)
    api.start()
    try:
        final = asyncio.run(_subscribe_across_a_kill(api, kafka_bootstrap, stack, sku))
    finally:
        api.stop()
    # 5 + 7 received, then 4 put away, then 3 more received while the API was down.
    assert (final["on_hand"], final["receiving"]) == (15, 11)


async def _subscribe_across_a_kill(
    api: ApiProcess, bootstrap: str, suffix: str, sku: str
) -> dict[str, Any]:
    ws_url = f"ws://127.0.0.1:{api.port}/v1/stream?token={TOKENS['viewer']}&skus={sku}"
    state: dict[str, Any] = {}
    last_seq: int | None = None
    kinds: list[str] = []

    async def follow(url: str, until: tuple[int, int]) -> None:
        nonlocal last_seq
        async with websockets.connect(url) as ws:
            async with asyncio.timeout(60):
                while True:
                    message = json.loads(await ws.recv())
                    kinds.append(message["type"])
                    if message["type"] in ("snapshot", "delta"):
                        last_seq = message["seq"]
                        for position in message["positions"]:
                            state.update(position["sites"].get(SITE, {}))
                    if (state.get("on_hand"), state.get("receiving")) == until:
                        return

    async with httpx.AsyncClient(base_url=api.base_url, headers=auth("ingest")) as http:
        for qty in (5, 7):
            r = await http.post("/v1/events", json=_event(sku, uuid.uuid4().hex, qty))
            assert r.status_code == 202
        r = await http.post("/v1/events", json=_event(sku, uuid.uuid4().hex, 4, "PUT_AWAY"))
        assert r.status_code == 202
    await follow(ws_url, (12, 8))
    api.kill()
    # The twin keeps moving while the API is down (another ingest path writes the feed).
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(
        FEEDS_API + suffix, json.dumps(_event(sku, uuid.uuid4().hex, 3)).encode(), sku.encode()
    )
    assert producer.flush(10) == 0
    await asyncio.to_thread(api.start)
    kinds.clear()
    await follow(f"{ws_url}&since={last_seq}", (15, 11))
    # A new process cannot resume the old session: it says so, then sends a snapshot.
    assert kinds[:2] == ["resync", "snapshot"]
    return state


def test_the_view_is_ready_only_once_caught_up_and_never_moves_backwards(
    kafka_bootstrap: str, twin_topics: dict[str, str], topic_suffix: str, tmp_path: Path
) -> None:
    import msgspec

    from infra.topics import TWIN_ALERTS, TWIN_POSITIONS
    from tests.api.fakes import alert, position

    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for version in range(1, 2001):  # enough records that catching up takes a moment
        pos = position(f"SKU-{version % 50:03d}", version, on_hand=version)
        producer.produce(twin_topics[TWIN_POSITIONS], msgspec.json.encode(pos), pos.sku.encode())
    producer.produce(twin_topics[TWIN_ALERTS], msgspec.json.encode(alert("al-1")), b"SKU-1")
    assert producer.flush(10) == 0
    settings = make_settings(
        tmp_path, kafka_bootstrap=kafka_bootstrap, api_topic_suffix=topic_suffix
    )
    with TestClient(create_app(settings, producer=FakeProducer())) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 30, "the view to catch up")
        # Ready means everything written before start is in the view.
        body = client.get("/readyz").json()
        assert body["view"]["positions"] == 50 and body["view"]["open_alerts"] == 1
        latest = client.get("/v1/skus/SKU-000", headers=auth("viewer")).json()
        assert latest["version"] == 2000
        # At-least-once input: an old version arriving again is ignored.
        old = position("SKU-000", 50, on_hand=-1)
        producer.produce(twin_topics[TWIN_POSITIONS], msgspec.json.encode(old), b"SKU-000")
        assert producer.flush(10) == 0
        wait_until(
            lambda: client.get("/readyz").json()["view"]["stale_versions_ignored"] >= 1,
            30,
            "the old version to be read",
        )
        still = client.get("/v1/skus/SKU-000", headers=auth("viewer")).json()
        assert (still["version"], still["sites"]["WH-01"]["on_hand"]) == (2000, 2000)
