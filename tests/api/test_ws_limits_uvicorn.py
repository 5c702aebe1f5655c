"""The WebSocket limits on a real uvicorn server, as a client sees them on the wire.

Every refusal completes the handshake and then closes with the contract's code (an HTTP 403
at the handshake would read as an auth failure to any client): 4401 / 4403 for auth, 1013
when the server or the token's share is full, 1009 for a message or subscription too big.
What closed clients leave behind is released: the registries and gauges go back to zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from fastapi import FastAPI

from api.app import create_app
from api.feed import FakeFeed
from tests.api.conftest import TOKENS, make_settings
from tests.api.fakes import FakeProducer, position
from tests.api.uvicorn_server import serving
from tests.polling import wait_until

OPEN_TIMEOUT_S = 10.0


class Server:
    def __init__(self, port: int, app: FastAPI, feed: FakeFeed) -> None:
        self.port, self.app, self.feed = port, app, feed

    def url(self, path: str = "/v1/stream", token: str | None = "viewer", query: str = "") -> str:
        params = [] if token is None else [f"token={TOKENS.get(token, token)}"]
        params += [query] if query else []
        return f"ws://127.0.0.1:{self.port}{path}" + ("?" + "&".join(params) if params else "")

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        registry = self.app.state.twin.metrics.registry
        return registry.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    stack: list[Any] = []

    def start(**overrides: Any) -> Server:
        feed = FakeFeed()
        settings = make_settings(tmp_path, **overrides)
        app = create_app(settings, feed=feed, producer=FakeProducer())
        serving_cm = serving(app, settings)
        port = serving_cm.__enter__()
        stack.append(serving_cm)
        return Server(port, app, feed)

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


def connect(url: str, **kwargs: Any) -> Any:
    return websockets.connect(
        url, open_timeout=OPEN_TIMEOUT_S, ping_interval=None, compression=None, **kwargs
    )


async def close_of(ws: Any) -> tuple[int | None, str]:
    """Read until the server closes; its close code and reason."""
    try:
        async with asyncio.timeout(15):
            while True:
                await ws.recv()
    except websockets.ConnectionClosed:
        pass
    return ws.close_code, ws.close_reason or ""


async def refused_with(url: str, **kwargs: Any) -> tuple[int | None, str]:
    """Open (the handshake must succeed), then the close code and reason."""
    async with connect(url, **kwargs) as ws:
        return await close_of(ws)


async def snapshot_of(ws: Any) -> dict[str, Any]:
    message = json.loads(await ws.recv())
    assert message["type"] == "snapshot", message
    return message


@pytest.mark.slow
def test_auth_refusals_are_close_codes_after_the_handshake(make_server: Any) -> None:
    srv = make_server()
    cases = {
        "no token": (srv.url(token=None), {}, 4401),
        "unknown token": (srv.url(token="not-a-token"), {}, 4401),
        "ingest on the stream": (srv.url(token="ingest"), {}, 4403),
        "viewer on a scenario stream": (srv.url("/v1/scenarios/x/stream"), {}, 4403),
        "operator on a scenario stream": (
            srv.url("/v1/scenarios/x/stream", token="operator"),
            {},
            4403,
        ),
        "foreign origin": (srv.url(), {"origin": "https://evil.example"}, 4403),
        "unknown run": (srv.url("/v1/scenarios/x/stream", token="architect"), {}, 4404),
    }

    async def scenario() -> dict[str, int | None]:
        return {name: (await refused_with(url, **kw))[0] for name, (url, kw, _) in cases.items()}

    assert asyncio.run(scenario()) == {name: code for name, (_, _, code) in cases.items()}
    assert (
        srv.metric("invtwin_ws_refused_total", {"code": "4401", "reason": "unauthenticated"}) == 2
    )
    assert srv.app.state.twin.ws_slots.held == {}


@pytest.mark.slow
def test_one_token_cannot_take_every_slot_and_another_token_still_connects(
    make_server: Any,
) -> None:
    srv = make_server(ws_max_connections_per_token=3)

    async def scenario() -> None:
        held = [await connect(srv.url()).__aenter__() for _ in range(3)]
        for ws in held:
            await snapshot_of(ws)
        assert srv.metric("invtwin_ws_token_connections_max") == 3
        code, reason = await refused_with(srv.url())
        assert code == 1013 and "this token already holds 3" in reason
        async with connect(srv.url(token="admin")) as other:
            await snapshot_of(other)
            assert srv.metric("invtwin_ws_connections", {"endpoint": "stream", "role": "admin"})
        await held.pop().close()  # a slot given back is a slot another connection can take
        wait_until(lambda: srv.app.state.twin.ws_slots.total == 2, 10, "the slot to be freed")
        async with connect(srv.url()) as again:
            await snapshot_of(again)
        for ws in held:
            await ws.close()

    asyncio.run(scenario())
    assert srv.metric("invtwin_ws_refused_total", {"code": "1013", "reason": "token_full"}) == 1


@pytest.mark.slow
def test_a_full_server_answers_1013_to_every_token(make_server: Any) -> None:
    srv = make_server(ws_max_connections=2)

    async def scenario() -> tuple[int | None, str]:
        async with connect(srv.url()) as a, connect(srv.url(token="operator")) as b:
            await snapshot_of(a), await snapshot_of(b)
            return await refused_with(srv.url(token="admin"))

    code, reason = asyncio.run(scenario())
    assert code == 1013 and reason.startswith("server full")


@pytest.mark.slow
def test_an_oversized_message_is_closed_1009_by_the_server_before_it_is_buffered(
    make_server: Any,
) -> None:
    srv = make_server(ws_max_message_bytes=4096)

    async def scenario() -> tuple[int | None, dict[str, Any]]:
        async with connect(srv.url()) as bystander:
            await snapshot_of(bystander)
            ws = await connect(srv.url())
            await snapshot_of(ws)
            skus = [f"SKU-{i:08d}" for i in range(1_000_000)]  # ~15 MB of JSON
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.send(json.dumps({"type": "subscribe", "skus": skus}))
            code, _ = await close_of(ws)
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.close()
            await bystander.send(json.dumps({"type": "ping"}))
            reply = json.loads(await bystander.recv())
        return code, reply

    code, reply = asyncio.run(scenario())
    assert code == 1009
    assert reply["type"] == "pong"  # the server carries on for everyone else
    registry = srv.app.state.twin.broadcaster.registry
    wait_until(lambda: registry.subscribed_skus == 0, 10, "no subscription left over")


@pytest.mark.slow
def test_a_subscription_over_the_sku_cap_is_closed_1009_with_the_cap_in_the_reason(
    make_server: Any,
) -> None:
    srv = make_server(ws_max_skus_per_subscription=1_000)

    async def scenario() -> list[tuple[int | None, str]]:
        closes = []
        async with connect(srv.url()) as ws:
            await snapshot_of(ws)
            skus = [f"SKU-{i}" for i in range(1_001)]
            await ws.send(json.dumps({"type": "subscribe", "skus": skus}))
            closes.append(await close_of(ws))
        query = "skus=" + ",".join(f"S{i}" for i in range(1_001))
        closes.append(await refused_with(srv.url(query=query)))
        return closes

    for code, reason in asyncio.run(scenario()):
        assert code == 1009
        assert "1001 SKUs, at most 1000" in reason


@pytest.mark.slow
def test_large_subscriptions_are_released_when_their_clients_leave(make_server: Any) -> None:
    clients, skus_each = 8, 1_000
    srv = make_server(ws_session_ttl_s=0.5)
    srv.feed.push(position("SKU-1", 1))
    twin = srv.app.state.twin

    async def scenario() -> None:
        held = [await connect(srv.url()).__aenter__() for _ in range(clients)]
        for n, ws in enumerate(held):
            await snapshot_of(ws)
            skus = [f"SKU-{n}-{i:06d}-{'x' * 80}" for i in range(skus_each)]  # ~100 kB
            await ws.send(json.dumps({"type": "subscribe", "skus": skus}))
            await snapshot_of(ws)
        assert srv.metric("invtwin_ws_subscribed_skus") == clients * skus_each
        assert srv.metric("invtwin_ws_sessions", {"state": "attached"}) == clients
        for ws in held:
            await ws.close()

    asyncio.run(scenario())

    def released() -> bool:
        registry = twin.broadcaster.registry
        return (
            registry.sessions == {}
            and registry.groups == {}
            and registry.detached == {}
            and registry.subscribed_skus == 0
            and twin.broadcaster.connections == {}
            and twin.ws_slots.held == {}
            and twin.ws_slots.total == 0
        )

    wait_until(released, 15, "every session, group and slot to be released")
    assert srv.metric("invtwin_ws_subscribed_skus") == 0
    assert srv.metric("invtwin_ws_sessions", {"state": "attached"}) == 0
    assert srv.metric("invtwin_ws_sessions", {"state": "detached"}) == 0
    assert srv.metric("invtwin_ws_connections", {"endpoint": "stream", "role": "viewer"}) == 0
    assert srv.metric("invtwin_ws_subscription_skus_count") == clients
