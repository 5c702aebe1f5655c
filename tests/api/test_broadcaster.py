"""The asyncio adapter: a stuck client is coalesced, then closed, without slowing others."""

from __future__ import annotations

import asyncio
import random
import time

import msgspec

from api.broadcaster import Broadcaster
from api.stream_protocol import Subscription
from api.telemetry import ApiMetrics
from api.view import TwinView
from tests.api.fakes import position


async def _wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def _broadcaster(*, max_queue: int, max_lag_s: float, seed: int) -> tuple[TwinView, Broadcaster]:
    view = TwinView()
    broadcaster = Broadcaster(
        view,
        ApiMetrics(),
        tick_s=0.01,
        heartbeat_s=3600,
        session_ttl_s=60,
        max_queue=max_queue,
        replay_size=16,
        max_coalesced=10_000,
        max_lag_s=max_lag_s,
        rng=random.Random(seed),
    )
    return view, broadcaster


def test_a_stuck_client_is_coalesced_then_closed_while_a_fast_one_keeps_up() -> None:
    async def scenario() -> None:
        view, broadcaster = _broadcaster(max_queue=2, max_lag_s=0.3, seed=3)
        fast_frames: list[dict] = []
        stuck_sent: list[dict] = []
        release = asyncio.Event()

        async def fast_send(text: str) -> None:
            fast_frames.append(msgspec.json.decode(text))

        async def stuck_send(text: str) -> None:
            stuck_sent.append(msgspec.json.decode(text))
            if len(stuck_sent) >= 2:
                await release.wait()  # the socket stops taking data

        fast, _ = broadcaster.open(Subscription.build(), None, None)
        stuck, _ = broadcaster.open(Subscription.build(), None, None)
        fast.sender = asyncio.create_task(broadcaster.send_loop(fast, fast_send))
        stuck.sender = asyncio.create_task(broadcaster.send_loop(stuck, stuck_send))
        for version in range(1, 31):
            view.apply(position("A", version))
            broadcaster.tick(time.monotonic())
            await asyncio.sleep(0.005)
        # The fast client got every version, in order and gap-free.
        await _wait_for(lambda: fast_frames[-1].get("positions", [{}])[0].get("version") == 30)
        seqs = [f["seq"] for f in fast_frames]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        # The stuck one is coalescing rather than queueing every tick.
        assert stuck.session.coalesced is not None
        assert len(stuck.session.outbox) <= 2
        # Still stuck after max_lag_s (the clock is passed in): closed as a slow consumer.
        broadcaster.tick(time.monotonic() + 0.4)
        await _wait_for(lambda: stuck.sender.done())
        assert "slow consumer" in (stuck.close_reason or "")
        assert fast.close_reason is None
        await broadcaster.close_all()

    asyncio.run(scenario())


def test_a_briefly_slow_client_receives_one_coalesced_delta_then_catches_up() -> None:
    async def scenario() -> None:
        view, broadcaster = _broadcaster(max_queue=1, max_lag_s=30, seed=4)
        got: list[dict] = []
        gate = asyncio.Event()

        async def send(text: str) -> None:
            got.append(msgspec.json.decode(text))
            if len(got) == 2:
                await gate.wait()

        conn, _ = broadcaster.open(Subscription.build(), None, None)
        conn.sender = asyncio.create_task(broadcaster.send_loop(conn, send))
        for version in range(1, 11):
            view.apply(position("A", version))
            broadcaster.tick(time.monotonic())
            await asyncio.sleep(0.002)
        gate.set()
        await _wait_for(lambda: got[-1].get("positions", [{}])[0].get("version") == 10)
        seqs = [m["seq"] for m in got]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert any(m.get("coalesced") for m in got)
        assert len(got) < 11  # fewer frames than ticks: intermediate versions skipped
        await broadcaster.close_all()

    asyncio.run(scenario())


def test_changes_pending_at_connect_are_in_the_snapshot_and_never_repeated_as_a_delta() -> None:
    """The race CI hit: a change lands in the view, a client connects before the next tick."""
    view, broadcaster = _broadcaster(max_queue=8, max_lag_s=60, seed=5)
    view.apply(position("SKU-1", 1))
    conn, _ = broadcaster.open(Subscription.build(), None, None)
    snapshot = msgspec.json.decode(conn.session.take())
    assert snapshot["type"] == "snapshot"
    assert [p["version"] for p in snapshot["positions"]] == [1]

    broadcaster.tick(time.monotonic())  # the tick that used to resend version 1
    assert conn.session.take() is None

    view.apply(position("SKU-1", 2))
    broadcaster.tick(time.monotonic())
    delta = msgspec.json.decode(conn.session.take())
    assert delta["seq"] == snapshot["seq"] + 1
    assert [p["version"] for p in delta["positions"]] == [2]
