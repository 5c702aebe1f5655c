"""The stream protocol with no I/O: seq, groups encoded once, coalescing, replay, resume."""

from __future__ import annotations

import random

import msgspec
import pytest

import api.stream_protocol as sp
from api.stream_protocol import (
    ClientSession,
    SessionRegistry,
    Subscription,
    SubscriptionError,
    SubscriptionLimits,
    SubscriptionTooLarge,
    build_batch,
)
from api.view import Changes, TwinView
from tests.api.fakes import alert, position, site_metric

decode = msgspec.json.decode


def session(max_queue: int = 8, replay: int = 16, first_seq: int = 100, **kw) -> ClientSession:
    return ClientSession(
        "s1",
        Subscription.build(),
        first_seq=first_seq,
        max_queue=max_queue,
        replay_size=replay,
        max_coalesced=kw.get("max_coalesced", 1000),
        max_lag_s=kw.get("max_lag_s", 5.0),
    )


def changes(*positions) -> Changes:
    return Changes(positions={p.sku: p for p in positions})


def drain(s: ClientSession) -> list[dict]:
    out = []
    while (frame := s.take()) is not None:
        out.append(decode(frame))
    return out


def test_snapshot_then_deltas_have_consecutive_seqs() -> None:
    s = session()
    s.snapshot(b'{"session":"s1","positions":[],"alerts":[],"sites":[]}')
    for version in (1, 2, 3):
        s.offer(build_batch(s.subscription, changes(position("A", version))), now=0.0)
    frames = drain(s)
    assert [f["type"] for f in frames] == ["snapshot", "delta", "delta", "delta"]
    assert [f["seq"] for f in frames] == [100, 101, 102, 103]
    assert [f["positions"][0]["version"] for f in frames[1:]] == [1, 2, 3]


def test_a_subscription_filters_skus_sites_and_channels() -> None:
    sub = Subscription.build(skus=["A"], sites=["WH-01"], channels=["positions", "alerts"])
    tick = Changes(
        positions={"A": position("A", 1), "B": position("B", 1)},
        alerts={"x": alert("x", sku="A"), "y": alert("y", sku="A", site="WH-09")},
        metrics={("site", "WH-01"): site_metric("WH-01")},
    )
    batch = build_batch(sub, tick)
    assert batch is not None
    body = decode(batch.body)
    assert [p["sku"] for p in body["positions"]] == ["A"]
    assert [a["id"] for a in body["alerts"]] == ["x"]
    assert body["metrics"] == []
    assert build_batch(Subscription.build(channels=["metrics"]), changes(position("A", 1))) is None


def test_unknown_channel_is_refused() -> None:
    with pytest.raises(SubscriptionError):
        Subscription.build(channels=["positions", "gossip"])


def test_a_group_is_encoded_once_however_many_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = sp._encoder

    class CountingEncoder:
        def encode(self, obj: object) -> bytes:
            calls.append(type(obj).__name__)
            return real.encode(obj)

    registry = SessionRegistry(
        random.Random(1), max_queue=8, replay_size=8, max_coalesced=100, max_lag_s=5.0
    )
    everything = [registry.new_session(Subscription.build()) for _ in range(50)]
    only_a = [registry.new_session(Subscription.build(skus=["A"])) for _ in range(50)]
    monkeypatch.setattr(sp, "_encoder", CountingEncoder())
    registry.fan_out(changes(position("A", 1), position("B", 1)), now=0.0)
    assert calls == ["_DeltaBody", "_DeltaBody"]  # one per group, not per client
    bodies = {s.take().split(",", 2)[2] for s in everything}  # after type and seq
    assert len(bodies) == 1
    assert all(len(decode(s.take())["positions"]) == 1 for s in only_a)


def test_sessions_of_a_group_queue_and_replay_one_shared_body_not_copies() -> None:
    registry = _registry()
    members = [registry.new_session(Subscription.build()) for _ in range(20)]
    registry.fan_out(changes(position("A", 1)), now=0.0)
    tails = {id(entry[2]) for s in members for entry in (*s.outbox, *s.replay)}
    assert len(tails) == 1


def test_a_snapshot_is_not_replayed_and_a_since_before_it_resyncs() -> None:
    s = session(first_seq=100)
    s.snapshot(b'{"positions":[]}')  # 100
    s.offer(build_batch(s.subscription, changes(position("A", 1))), now=0.0)  # 101
    s.snapshot(b'{"positions":[]}')  # 102: a resubscribe
    s.offer(build_batch(s.subscription, changes(position("A", 2))), now=0.0)  # 103
    drain(s)
    assert [seq for seq, _, _ in s.replay] == [103]
    assert not s.resume(101)  # frame 102 (the snapshot) is gone: resync, not a gap
    assert s.resume(102)
    assert [(f["type"], f["seq"]) for f in drain(s)] == [("delta", 103)]


def test_a_full_outbox_coalesces_to_the_latest_state_per_sku() -> None:
    s = session(max_queue=2)
    for version in range(1, 7):  # 2 queued, 4 coalesced
        s.offer(build_batch(s.subscription, changes(position("A", version))), now=float(version))
    s.offer(build_batch(s.subscription, changes(position("B", 1))), now=7.0)
    frames = drain(s)
    assert [f["seq"] for f in frames] == [100, 101, 102]
    coalesced = frames[-1]
    assert coalesced["coalesced"] is True
    assert {p["sku"]: p["version"] for p in coalesced["positions"]} == {"A": 6, "B": 1}
    # Once drained, the client is back to normal deltas, still gap-free.
    s.offer(build_batch(s.subscription, changes(position("A", 7))), now=8.0)
    assert decode(s.take())["seq"] == 103


def test_a_client_that_never_drains_must_be_closed() -> None:
    s = session(max_queue=1, max_lag_s=2.0)
    s.offer(build_batch(s.subscription, changes(position("A", 1))), now=0.0)
    s.offer(build_batch(s.subscription, changes(position("A", 2))), now=1.0)
    assert s.close_reason(now=2.5) is None
    assert "slow consumer" in (s.close_reason(now=3.5) or "")


def test_too_much_coalesced_state_closes_the_client() -> None:
    s = session(max_queue=1, max_coalesced=3)
    s.offer(build_batch(s.subscription, changes(position("Z", 1))), now=0.0)
    s.offer(build_batch(s.subscription, changes(*[position(f"S{i}", 1) for i in range(4)])), 0.0)
    assert s.close_reason(now=0.0) is not None


def test_resume_replays_the_frames_after_since() -> None:
    s = session()
    s.snapshot(b'{"positions":[]}')
    for version in (1, 2, 3):
        s.offer(build_batch(s.subscription, changes(position("A", version))), now=0.0)
    drain(s)
    assert s.resume(101)
    assert [f["seq"] for f in drain(s)] == [102, 103]


def test_resume_from_a_seq_older_than_the_buffer_fails() -> None:
    s = session(replay=2)
    for version in range(1, 6):
        s.offer(build_batch(s.subscription, changes(position("A", version))), now=0.0)
    drain(s)
    assert not s.resume(100)
    assert not s.resume(10**9)  # from the future: not ours
    assert s.resume(s.last_seq)


def test_registry_finds_the_detached_session_a_since_belongs_to() -> None:
    registry = SessionRegistry(
        random.Random(7), max_queue=8, replay_size=8, max_coalesced=100, max_lag_s=5.0
    )
    sub = Subscription.build()
    a, b = registry.new_session(sub), registry.new_session(sub)
    for s in (a, b):
        s.snapshot(b'{"positions":[]}')
        drain(s)
        registry.detach(s, now=1.0, keep=10)
    assert registry.find_resumable(sub, b.last_seq) is b
    assert registry.find_resumable(sub, a.last_seq, session_id=a.id) is a
    assert registry.find_resumable(Subscription.build(skus=["A"]), a.last_seq) is None
    assert set(registry.expire(now=100.0, ttl_s=10.0)) == {a, b}
    assert registry.sessions == {}


def _registry() -> SessionRegistry:
    return SessionRegistry(
        random.Random(7), max_queue=8, replay_size=8, max_coalesced=100, max_lag_s=5.0
    )


def test_only_the_token_that_opened_a_session_can_resume_it() -> None:
    registry = _registry()
    sub = Subscription.build()
    mine = registry.new_session(sub, owner="tok-a")
    mine.snapshot(b'{"positions":[]}')
    drain(mine)
    registry.detach(mine, now=1.0, keep=10)
    assert registry.find_resumable(sub, mine.last_seq, mine.id, owner="tok-b") is None
    assert registry.find_resumable(sub, mine.last_seq, owner="tok-b") is None
    assert registry.find_resumable(sub, mine.last_seq, mine.id, owner="tok-a") is mine


def test_a_token_keeps_at_most_its_share_of_detached_sessions_oldest_dropped_first() -> None:
    registry = _registry()
    big = Subscription.build(skus=[f"SKU-{i}" for i in range(100)])
    sessions = [registry.new_session(big, owner="tok-a") for _ in range(5)]
    assert registry.subscribed_skus == 500
    dropped = [d for s in sessions for d in registry.detach(s, now=1.0, keep=2)]
    assert dropped == sessions[:3]
    assert list(registry.detached["tok-a"].values()) == sessions[3:]
    assert registry.subscribed_skus == 200
    registry.reattach(sessions[4])
    assert registry.detached_count() == 1
    registry.expire(now=100.0, ttl_s=10.0)
    assert registry.detached == {} and registry.sessions.keys() == {sessions[4].id}
    registry.remove(sessions[4])
    assert (registry.sessions, registry.groups, registry.subscribed_skus) == ({}, {}, 0)


def test_a_subscription_over_the_limits_is_too_large() -> None:
    limits = SubscriptionLimits(max_skus=3, max_sites=2)
    assert Subscription.build(skus=["A", "B", "C"], sites=["S1", "S2"], limits=limits).skus
    with pytest.raises(SubscriptionTooLarge, match="4 SKUs, at most 3"):
        Subscription.build(skus=["A", "B", "C", "D"], limits=limits)
    with pytest.raises(SubscriptionTooLarge, match="3 sites, at most 2"):
        Subscription.build(sites=["S1", "S2", "S3"], limits=limits)
    assert Subscription.build(skus=None, sites=None, limits=limits).skus is None


def test_view_keeps_the_highest_version_and_reports_changes_once() -> None:
    view = TwinView()
    view.apply(position("A", 2))
    view.apply(position("A", 1))
    assert view.positions["A"].version == 2
    assert list(view.drain_changes().positions) == ["A"]
    assert not view.drain_changes()
