"""POST /v1/events: validation, idempotency, acknowledgement, limits — with a fake producer."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from tests.api.conftest import auth, make_settings
from tests.api.fakes import FakeProducer, event_json


def post(client: TestClient, body: object, key: str | None = None, role: str = "ingest"):
    headers = auth(role)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/v1/events", content=json.dumps(body), headers=headers)


def test_a_valid_event_is_produced_keyed_by_sku_then_accepted(
    client: TestClient, producer: FakeProducer
) -> None:
    response = post(client, event_json("e-1", sku="SKU-9"))
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "event_ids": ["e-1"]}
    [(topic, key, value)] = producer.sent
    assert (topic, key) == ("feeds.api.v1", b"SKU-9")
    assert json.loads(value)["event_id"] == "e-1"


def test_an_array_is_accepted_whole(client: TestClient, producer: FakeProducer) -> None:
    response = post(client, [event_json("a"), event_json("b")])
    assert response.status_code == 202
    assert response.json()["event_ids"] == ["a", "b"]
    assert len(producer.sent) == 2


def test_422_lists_every_error_of_every_record(client: TestClient, producer: FakeProducer) -> None:
    bad = [event_json("ok"), {**event_json("x"), "qty": -3, "type": "NOPE"}, {"sku": "S"}]
    response = post(client, bad)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"[1].type", "[2].event_id", "[2].site"} <= fields
    assert all(e["message"] for e in response.json()["errors"])
    assert producer.sent == []


def test_same_key_same_body_replays_the_first_response(
    client: TestClient, producer: FakeProducer
) -> None:
    first = post(client, event_json("body-id"), key="key-1")
    second = post(client, event_json("body-id"), key="key-1")
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    [event_id] = first.json()["event_ids"]
    assert event_id.startswith("idem-") and event_id != "key-1"
    assert len(producer.sent) == 1
    assert json.loads(producer.sent[0][2])["event_id"] == event_id


def test_the_same_json_with_other_whitespace_and_key_order_is_a_replay(
    client: TestClient, producer: FakeProducer
) -> None:
    event = event_json("e-ws", qty=7)
    compact = json.dumps(event, separators=(",", ":"))
    spaced = json.dumps(dict(reversed(list(event.items()))), indent=4)
    stamped = json.dumps({**event, "qty": 7.0, "occurred_at": "2026-11-26T10:00:00+00:00"})
    for body in (compact, spaced, stamped):
        response = client.post(
            "/v1/events", content=body, headers={**auth("ingest"), "Idempotency-Key": "ws"}
        )
        assert response.status_code == 202, response.text
    assert len(producer.sent) == 1


def test_same_key_different_body_is_a_409_conflict_naming_the_event_id(
    client: TestClient, producer: FakeProducer
) -> None:
    first = post(client, event_json(qty=5), key="key-2")
    assert first.status_code == 202
    response = post(client, event_json(qty=6), key="key-2")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["field"] == "event_id" and error["code"] == "event_id_conflict"
    assert error["value"] == first.json()["event_ids"][0]
    assert len(producer.sent) == 1


def test_recorded_at_source_and_ref_are_not_business_content(
    client: TestClient, producer: FakeProducer
) -> None:
    assert post(client, event_json(), key="k-meta").status_code == 202
    retry = {
        **event_json(),
        "recorded_at": "2026-11-26T10:05:00Z",
        "source": "wms-api:retry",
        "ref": "second try",
    }
    assert post(client, retry, key="k-meta").status_code == 202
    assert len(producer.sent) == 1


def test_two_callers_equal_keys_are_two_events(client: TestClient, producer: FakeProducer) -> None:
    mine = post(client, event_json(qty=11), key="collide-1")
    theirs = post(client, event_json(qty=13), key="collide-1", role="admin")
    assert mine.status_code == theirs.status_code == 202
    assert mine.json()["event_ids"] != theirs.json()["event_ids"]
    assert len(producer.sent) == 2


def test_a_key_equal_to_an_existing_event_id_does_not_collide(
    client: TestClient, producer: FakeProducer
) -> None:
    assert post(client, event_json("collide-2", qty=11)).status_code == 202
    keyed = post(client, event_json("ignored", qty=13), key="collide-2")
    assert keyed.status_code == 202
    assert keyed.json()["event_ids"] != ["collide-2"]
    assert len(producer.sent) == 2


def test_an_event_id_reused_with_other_content_is_409_and_with_the_same_a_replay(
    client: TestClient, producer: FakeProducer
) -> None:
    assert post(client, event_json("reused", qty=3)).status_code == 202
    assert post(client, event_json("reused", qty=3)).status_code == 202
    conflict = post(client, [event_json("fresh"), event_json("reused", qty=4)])
    assert conflict.status_code == 409
    assert [e["field"] for e in conflict.json()["errors"]] == ["[1].event_id"]
    assert len(producer.sent) == 1  # nothing of the refused array, no second copy


def test_one_id_twice_in_an_array_with_other_content_is_409(client: TestClient) -> None:
    response = post(client, [event_json("twice", qty=1), event_json("twice", qty=2)])
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "[1].event_id"


def test_idempotency_key_with_an_array_is_refused(client: TestClient) -> None:
    response = post(client, [event_json("a"), event_json("b")], key="k")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_fifty_concurrent_posts_with_one_key_produce_once(tmp_path: Path) -> None:
    producer = FakeProducer(delay_s=0.1)  # every request overlaps the first one's produce
    app = create_app(make_settings(tmp_path), feed=FakeFeed(), producer=producer)
    with TestClient(app) as client, ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda _: post(client, event_json(), key="same"), range(50)))
    assert {r.status_code for r in responses} == {202}
    assert {r.text for r in responses} == {responses[0].text}
    assert len(producer.sent) == 1


def test_unreachable_broker_is_503_with_retry_after_and_nothing_remembered(
    client: TestClient, producer: FakeProducer
) -> None:
    producer.fail = True
    response = post(client, event_json(), key="k-503")
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    detail = response.json()["detail"]
    assert "may have been written" in detail
    assert "same event_id or Idempotency-Key" in detail
    producer.fail = False
    assert post(client, event_json(), key="k-503").status_code == 202
    assert len(producer.sent) == 1


def test_body_over_the_limit_is_413(tmp_path: Path) -> None:
    app = create_app(
        make_settings(tmp_path, ingest_max_body_bytes=200), feed=FakeFeed(), producer=FakeProducer()
    )
    with TestClient(app) as client:
        response = post(client, [event_json(str(i)) for i in range(5)])
    assert response.status_code == 413


@pytest.mark.parametrize("burst", [3])
def test_rate_limit_per_token_is_429_with_retry_after(tmp_path: Path, burst: int) -> None:
    settings = make_settings(tmp_path, ingest_rate_per_s=0.01, ingest_burst=burst)
    app = create_app(settings, feed=FakeFeed(), producer=FakeProducer())
    with TestClient(app) as client:
        codes = [post(client, event_json(f"e{i}")).status_code for i in range(burst + 1)]
        other_token = post(client, event_json("admin-1"), role="admin").status_code
    assert codes == [202] * burst + [429]
    assert other_token == 202  # buckets are per token


def test_the_event_rate_per_token_charges_a_batch_its_size(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ingest_event_rate_per_s=0.01, ingest_event_burst=5)
    app = create_app(settings, feed=FakeFeed(), producer=FakeProducer())
    with TestClient(app) as client:
        first = post(client, [event_json(f"b{i}") for i in range(3)])
        second = post(client, [event_json(f"c{i}") for i in range(3)])
        other_token = post(client, event_json("admin-2"), role="admin")
    assert (first.status_code, second.status_code, other_token.status_code) == (202, 429, 202)
    assert int(second.headers["retry-after"]) >= 1
