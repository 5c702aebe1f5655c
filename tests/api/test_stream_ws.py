"""WS /v1/stream through the app: snapshot → deltas → resume with since → resync."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from api.feed import FakeFeed
from tests.api.conftest import TOKENS, make_settings
from tests.api.fakes import alert, position

URL = f"/v1/stream?token={TOKENS['viewer']}"


def next_of(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of a kind, skipping others (heartbeats, pongs)."""
    for _ in range(50):
        message = ws.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message")


def test_snapshot_first_then_deltas_with_consecutive_seq(client: TestClient, feed: FakeFeed):
    feed.push(position("SKU-1", 1), alert("a1"))
    with client.websocket_connect(URL + "&channels=positions,alerts") as ws:
        snapshot = ws.receive_json()
        assert snapshot["type"] == "snapshot"
        assert [p["sku"] for p in snapshot["positions"]] == ["SKU-1"]
        assert [a["id"] for a in snapshot["alerts"]] == ["a1"]
        feed.push(position("SKU-1", 2, on_hand=7))
        delta = next_of(ws, "delta")
        assert delta["seq"] == snapshot["seq"] + 1
        assert delta["positions"][0]["sites"]["WH-01"]["on_hand"] == 7
        feed.push(position("SKU-2", 1))
        assert next_of(ws, "delta")["seq"] == snapshot["seq"] + 2


def test_a_sku_subscription_only_sees_its_skus(client: TestClient, feed: FakeFeed) -> None:
    with client.websocket_connect(URL + "&skus=SKU-2") as ws:
        assert ws.receive_json()["positions"] == []
        feed.push(position("SKU-1", 1))
        feed.push(position("SKU-2", 1))
        assert [p["sku"] for p in next_of(ws, "delta")["positions"]] == ["SKU-2"]


def test_resume_with_since_gets_what_was_missed_without_a_snapshot(
    client: TestClient, feed: FakeFeed
) -> None:
    with client.websocket_connect(URL + "&skus=SKU-1") as ws:
        seen = ws.receive_json()["seq"]
        feed.push(position("SKU-1", 1))
        seen = next_of(ws, "delta")["seq"]
    feed.push(position("SKU-1", 2))  # while disconnected
    feed.push(position("SKU-1", 3))
    with client.websocket_connect(URL + f"&skus=SKU-1&since={seen}") as ws:
        first = ws.receive_json()
        assert first["type"] == "delta"
        assert first["seq"] == seen + 1
        versions = [p["version"] for p in first["positions"]]
        if versions != [3]:  # two ticks may have passed while detached
            second = next_of(ws, "delta")
            assert second["seq"] == seen + 2
            versions += [p["version"] for p in second["positions"]]
        assert versions[-1] == 3


def test_since_out_of_reach_is_answered_with_resync_and_a_snapshot(
    client: TestClient, feed: FakeFeed
) -> None:
    feed.push(position("SKU-1", 4))
    with client.websocket_connect(URL + "&since=12345") as ws:
        resync = ws.receive_json()
        assert resync["type"] == "resync"
        assert "12345" in resync["reason"]
        snapshot = ws.receive_json()
        assert snapshot["type"] == "snapshot"
        assert snapshot["positions"][0]["version"] == 4


def test_ping_pong_and_resubscribe(client: TestClient, feed: FakeFeed) -> None:
    feed.push(position("SKU-1", 1), position("SKU-2", 1))
    with client.websocket_connect(URL) as ws:
        first = ws.receive_json()
        assert len(first["positions"]) == 2
        ws.send_json({"type": "ping"})
        assert next_of(ws, "pong")["type"] == "pong"
        ws.send_json({"type": "subscribe", "skus": ["SKU-2"], "channels": ["positions"]})
        snapshot = next_of(ws, "snapshot")
        assert snapshot["seq"] == first["seq"] + 1
        assert [p["sku"] for p in snapshot["positions"]] == ["SKU-2"]
        ws.send_json({"type": "dance"})
        assert "dance" in next_of(ws, "error")["reason"]


def test_subscribe_message_as_the_first_frame_sets_the_subscription(
    tmp_path: Any, feed: FakeFeed, producer: Any
) -> None:
    app = create_app(make_settings(tmp_path, ws_subscribe_wait_s=2.0), feed=feed, producer=producer)
    with TestClient(app) as client:
        feed.push(position("SKU-1", 1), position("SKU-2", 1))
        with client.websocket_connect(URL) as ws:
            ws.send_json({"type": "subscribe", "skus": ["SKU-1"]})
            snapshot = ws.receive_json()
            assert [p["sku"] for p in snapshot["positions"]] == ["SKU-1"]


def closed(ws: Any) -> tuple[int, str]:
    """The close code and reason the server ends this (accepted) connection with."""
    with pytest.raises(WebSocketDisconnect) as ended:
        for _ in range(50):
            ws.receive_json()
    return ended.value.code, ended.value.reason


def app_with(tmp_path: Any, feed: FakeFeed, producer: Any, **settings: Any) -> Any:
    return create_app(make_settings(tmp_path, **settings), feed=feed, producer=producer)


def test_connection_limit_answers_try_again_later_after_accept(
    tmp_path: Any, feed: FakeFeed, producer: Any
):
    app = app_with(tmp_path, feed, producer, ws_max_connections=1)
    with TestClient(app) as client, client.websocket_connect(URL) as ws:
        ws.receive_json()
        with client.websocket_connect(URL) as refused:
            code, reason = closed(refused)
        assert (code, reason.startswith("server full")) == (1013, True)


def test_one_token_gets_its_share_and_another_token_still_connects(
    tmp_path: Any, feed: FakeFeed, producer: Any
):
    app = app_with(tmp_path, feed, producer, ws_max_connections_per_token=2)
    other = f"/v1/stream?token={TOKENS['operator']}"
    with (
        TestClient(app) as client,
        client.websocket_connect(URL) as a,
        client.websocket_connect(URL) as b,
    ):
        a.receive_json(), b.receive_json()
        with client.websocket_connect(URL) as third:
            code, reason = closed(third)
        assert code == 1013 and "this token already holds 2" in reason
        with client.websocket_connect(other) as ws:
            assert ws.receive_json()["type"] == "snapshot"
        metrics = app.state.twin.metrics.registry
        sample = metrics.get_sample_value
        assert sample("invtwin_ws_refused_total", {"code": "1013", "reason": "token_full"}) == 1
        assert sample("invtwin_ws_token_connections_max") == 2
        assert sample("invtwin_ws_connections", {"endpoint": "stream", "role": "viewer"}) == 2
    assert app.state.twin.ws_slots.held == {}


def test_a_query_subscription_over_the_sku_cap_is_closed_1009(
    tmp_path: Any, feed: FakeFeed, producer: Any
):
    app = app_with(tmp_path, feed, producer, ws_max_skus_per_subscription=3)
    with TestClient(app) as client:
        with client.websocket_connect(URL + "&skus=A,B,C") as ws:
            assert ws.receive_json()["type"] == "snapshot"
        with client.websocket_connect(URL + "&skus=A,B,C,D") as ws:
            code, reason = closed(ws)
        assert code == 1009 and "4 SKUs, at most 3" in reason
        with client.websocket_connect(URL + "&channels=nonsense") as ws:
            assert closed(ws)[0] == 1008


def test_a_subscribe_message_over_the_sku_cap_closes_1009_and_drops_the_session(
    tmp_path: Any, feed: FakeFeed, producer: Any
):
    app = app_with(tmp_path, feed, producer, ws_max_skus_per_subscription=3)
    with TestClient(app) as client, client.websocket_connect(URL) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "skus": ["A", "B", "C", "D"]})
        code, reason = closed(ws)
    assert code == 1009 and "at most 3" in reason
    registry = app.state.twin.broadcaster.registry
    assert registry.sessions == {} and registry.detached == {}


def test_a_first_subscribe_message_over_the_site_cap_closes_1009(
    tmp_path: Any, feed: FakeFeed, producer: Any
):
    app = app_with(
        tmp_path, feed, producer, ws_max_sites_per_subscription=1, ws_subscribe_wait_s=2.0
    )
    with TestClient(app) as client, client.websocket_connect(URL) as ws:
        ws.send_json({"type": "subscribe", "sites": ["WH-01", "WH-02"]})
        code, reason = closed(ws)
    assert code == 1009 and "2 sites, at most 1" in reason


def test_a_message_over_the_size_limit_closes_1009_before_it_is_parsed(
    tmp_path: Any, feed: FakeFeed, producer: Any
):
    app = app_with(tmp_path, feed, producer, ws_max_message_bytes=2048)
    with TestClient(app) as client:
        with client.websocket_connect(URL) as ws:
            ws.receive_json()
            ws.send_text('{"type":"ping"}' + " " * 2048)
            code, reason = closed(ws)
        assert code == 1009 and "over 2048 bytes" in reason
        with client.websocket_connect(URL) as ws:
            ws.receive_json()
            ws.send_bytes(b"x" * 4096)
            assert closed(ws)[0] == 1009
        with client.websocket_connect(URL) as ws:
            ws.receive_json()
            ws.send_bytes(b'{"type":"ping"}')  # a binary frame within the limit is read
            assert next_of(ws, "pong")["type"] == "pong"
        sample = app.state.twin.metrics.registry.get_sample_value
        assert (
            sample("invtwin_ws_refused_total", {"code": "1009", "reason": "message_too_big"}) == 2
        )
