"""A client that stops reading, on a real uvicorn server: closed with 4408 and a reason,
while a client that keeps reading gets every frame, gap-free, and stays connected."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import websockets
from fastapi import FastAPI

from api.app import create_app
from api.feed import FakeFeed
from tests.api.conftest import TOKENS, make_settings
from tests.api.fakes import FakeProducer
from tests.api.uvicorn_server import serving
from twin.wire import NetworkTotals, Position, SitePosition

SITES = [f"S-{i:03d}" for i in range(60)]


def big_position(sku: str, version: int) -> Position:
    now = datetime.now(UTC)
    return Position(
        sku=sku,
        version=version,
        as_of=now,
        sites={s: SitePosition(on_hand=version, atp=version, last_event_at=now) for s in SITES},
        network=NetworkTotals(on_hand=version),
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, FakeFeed, FastAPI]]:
    feed = FakeFeed()
    settings = make_settings(tmp_path, ws_queue_frames=2, ws_max_lag_s=1.0, ws_tick_s=0.05)
    app = create_app(settings, feed=feed, producer=FakeProducer())
    with serving(app, settings) as port:
        yield port, feed, app


@pytest.mark.slow
def test_a_client_that_stops_reading_is_closed_4408_and_others_are_not_slowed(
    server: tuple[int, FakeFeed, FastAPI],
) -> None:
    port, feed, app = server

    def slow_clients_closed() -> float:
        registry = app.state.twin.metrics.registry
        return registry.get_sample_value("invtwin_ws_slow_closed_total") or 0.0

    url = f"ws://127.0.0.1:{port}/v1/stream?token={TOKENS['viewer']}&channels=positions"

    async def scenario() -> tuple[int | None, str, list[int]]:
        fast_seqs: list[int] = []
        async with (
            websockets.connect(url, max_size=2**26, compression=None, ping_interval=None) as slow,
            # No client keepalive: on a loaded machine its pong deadline is not the subject.
            websockets.connect(url, max_size=2**26, compression=None, ping_interval=None) as fast,
        ):
            await slow.recv()  # the snapshot; then this client stops reading

            async def read_fast() -> None:
                while True:
                    fast_seqs.append(json.loads(await fast.recv())["seq"])

            reader = asyncio.create_task(read_fast())
            # Keep the twin moving while `slow` reads nothing, until the server gives up on it
            # (however long the kernel's socket buffers take to fill on a loaded machine).
            deadline = time.monotonic() + 60.0
            version = 0
            while not slow_clients_closed():
                assert time.monotonic() < deadline, "the server never declared `slow` slow"
                version += 1
                await asyncio.to_thread(
                    feed.push, *(big_position(f"SKU-{i}", version) for i in range(40))
                )
                await asyncio.sleep(0.05)
            # Now read: whatever was buffered, then the close frame.
            with contextlib.suppress(websockets.ConnectionClosed):
                async with asyncio.timeout(30):
                    while True:
                        await slow.recv()
            reader.cancel()
            assert fast.state is websockets.State.OPEN
            return slow.close_code, slow.close_reason or "", fast_seqs

    code, reason, fast_seqs = asyncio.run(scenario())
    assert code == 4408
    assert "slow consumer" in reason
    assert fast_seqs == list(range(fast_seqs[0], fast_seqs[0] + len(fast_seqs)))
    assert len(fast_seqs) > 10
