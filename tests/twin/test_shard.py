"""TwinShard: many SKUs, dedupe and expiry reported, dirty tracking, windows, snapshots."""

from __future__ import annotations

import pickle

from tests.twin.factories import at, ev, master
from twin.position import PositionConfig
from twin.shard import TwinConfig, TwinShard
from twin.windows import WindowConfig

NOW = at(3600)


def test_apply_reports_duplicates_expired_and_changes() -> None:
    s = TwinShard(master(), TwinConfig(position=PositionConfig(horizon_s=600)))
    e = ev("RECEIVED", 10, t=1000)
    first = s.apply(e, NOW)
    assert (first.duplicate, first.changed, first.expired, first.sku) == (
        False,
        True,
        False,
        "SKU-1",
    )
    again = s.apply(e, NOW)
    assert (again.duplicate, again.changed, again.alerts) == (True, False, [])
    old = s.apply(ev("RECEIVED", 10, t=300), NOW)
    assert (old.duplicate, old.expired, old.changed) == (False, True, False)
    assert s.stats() == {
        "skus": 1,
        "applied": 1,
        "duplicates": 1,
        "conflicts": 0,
        "expired": 1,
        "future": 0,
        "late_events": 0,
    }
    assert s.position("SKU-1", NOW).sites["WH-01"].on_hand == 10


def test_take_dirty_returns_each_changed_sku_once_in_first_changed_order() -> None:
    s = TwinShard(master())
    s.apply(ev("ADJUSTED", 1, sku="B"), NOW)
    s.apply(ev("ADJUSTED", 1, sku="A"), NOW)
    s.apply(ev("ADJUSTED", 1, sku="B"), NOW)
    assert s.take_dirty() == ["B", "A"]
    assert s.take_dirty() == []
    dup = ev("ADJUSTED", 1, sku="C")
    s.apply(dup, NOW)
    s.take_dirty()
    s.apply(dup, NOW)
    assert s.take_dirty() == []  # a duplicate changes nothing


def test_position_of_an_unknown_sku_is_empty_at_version_zero() -> None:
    pos = TwinShard(master()).position("NOPE", NOW)
    assert (pos.sku, pos.version, pos.sites, pos.network.on_hand) == ("NOPE", 0, {}, 0)


def test_skus_outside_master_data_get_positions_and_bucket_alerts() -> None:
    s = TwinShard(master())
    alerts = s.apply(ev("RESERVED", 5, sku="NEW-SKU"), NOW).alerts
    assert [a.kind for a in alerts] == ["OVER_ALLOCATION"]  # no reorder point: no LOW_STOCK
    assert s.position("NEW-SKU", NOW).sites["WH-01"].atp == -5


def test_windows_inside_the_shard_close_and_feed_the_anomaly_rule() -> None:
    s = TwinShard(master(), TwinConfig(windows=WindowConfig(size_s=60, lateness_s=0)))
    for k in range(10):
        s.apply(ev("SHIPPED", 10, t=60 * k + 1), NOW)
    s.apply(ev("SHIPPED", 500, t=60 * 10 + 1), NOW)
    closed, alerts = s.take_closed_windows(NOW)
    assert [m.demand for m in closed] == [10] * 10
    assert alerts == []
    closed, alerts = s.take_closed_windows(NOW, watermark=at(60 * 11))
    assert [m.demand for m in closed] == [500]
    assert [(a.kind, a.state) for a in alerts] == [("ANOMALY", "raised")]
    s.apply(ev("SHIPPED", 10, t=60 * 11 + 1), NOW)
    closed, alerts = s.take_closed_windows(NOW, flush=True)
    assert [(a.kind, a.state) for a in alerts] == [("ANOMALY", "cleared")]
    assert s.take_closed_windows(NOW) == ([], [])


def test_a_shard_folds_no_windows_unless_asked() -> None:
    s = TwinShard(master())
    s.apply(ev("SHIPPED", 1), NOW)
    assert s.take_closed_windows(NOW, flush=True) == ([], [])


def test_a_pickled_shard_resumes_with_dedupe_rules_and_windows_intact() -> None:
    s = TwinShard(
        master(reorder_point={"WH-01": 20}, target={"WH-01": 40}),
        TwinConfig(windows=WindowConfig()),
    )
    e = ev("COUNTED", 30, t=0)
    s.apply(e, NOW)
    low = s.apply(ev("RESERVED", 15, t=1), NOW).alerts
    s.on_freshness("WH-02", False, NOW)
    copy: TwinShard = pickle.loads(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL))
    assert copy.apply(e, NOW).duplicate
    assert copy.position("SKU-1", NOW) == s.position("SKU-1", NOW)
    assert copy.stale_sites == {"WH-02"}
    cleared = copy.apply(ev("RESERVATION_RELEASED", 15, t=2), NOW).alerts
    assert [(a.id, a.state) for a in cleared] == [(low[0].id, "cleared")]
    closed, _ = copy.take_closed_windows(NOW, flush=True)
    assert sum(m.movements for m in closed) == 3


def test_an_event_dated_far_in_the_future_does_not_expire_the_events_after_it() -> None:
    s = TwinShard(master(), TwinConfig(position=PositionConfig(horizon_s=3600)))
    bad = s.apply(ev("ADJUSTED", 1, t=400 * 24 * 3600), NOW)  # a year ahead of the clock
    assert bad.changed
    ok = s.apply(ev("ADJUSTED", 2, t=0), NOW)
    assert (ok.changed, ok.expired) == (True, False)
    assert s.position("SKU-1", NOW).sites["WH-01"].on_hand == 3
    assert s.stats()["future"] == 1
