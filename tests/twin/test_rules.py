"""Alert rules: raised once, cleared once, and the right kind for the right situation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.twin.factories import T0, at, ev, master
from twin.rules import RuleConfig, rank_count_discrepancies
from twin.shard import TwinConfig, TwinShard
from twin.wire import Alert, WindowMetric

NOW = at(3600)


def shard(**kw: object) -> TwinShard:
    rules = kw.pop("rules", None)
    config = TwinConfig(rules=rules) if isinstance(rules, RuleConfig) else TwinConfig()
    return TwinShard(master(**kw), config)  # type: ignore[arg-type]


def kinds(alerts: list[Alert]) -> list[tuple[str, str]]:
    return [(a.kind, a.state) for a in alerts]


def test_low_stock_is_raised_once_and_cleared_once() -> None:
    s = shard(reorder_point={"WH-01": 20}, target={"WH-01": 50})
    assert s.apply(ev("COUNTED", 30, t=0), NOW).alerts == []
    low = s.apply(ev("RESERVED", 15, t=1), NOW).alerts  # atp 15 < 20
    assert kinds(low) == [("LOW_STOCK", "raised")]
    assert low[0].id == "LOW_STOCK:SKU-1:WH-01:1"
    assert low[0].severity == "warning"
    assert low[0].details["atp"] == 15
    assert "below its reorder point of 20" in low[0].explanation
    assert s.apply(ev("RESERVED", 5, t=2), NOW).alerts == []  # still low: no repeat
    cleared = s.apply(ev("RECEIVED", 40, t=3), NOW).alerts
    assert cleared == []  # receiving is not available yet: atp unchanged
    cleared = s.apply(ev("PUT_AWAY", 40, t=4), NOW).alerts
    assert kinds(cleared) == [("LOW_STOCK", "cleared")]
    assert cleared[0].id == low[0].id
    again = s.apply(ev("RESERVED", 40, t=5), NOW).alerts
    assert [a.id for a in again] == ["LOW_STOCK:SKU-1:WH-01:2"]


def test_low_stock_recommends_a_transfer_from_the_site_with_most_excess() -> None:
    s = shard(
        reorder_point={"WH-01": 20, "WH-02": 10, "WH-03": 10},
        target={"WH-01": 60, "WH-02": 50, "WH-03": 50},
        lanes=[("WH-02", "WH-01", 24.0), ("WH-03", "WH-01", 8.0)],
        unit_value=2.0,
    )
    s.apply(ev("COUNTED", 80, site="WH-02", t=0), NOW)  # 30 over target
    s.apply(ev("COUNTED", 90, site="WH-03", t=0), NOW)  # 40 over target: the most
    s.apply(ev("COUNTED", 25, site="WH-01", t=0), NOW)
    alerts = s.apply(ev("RESERVED", 10, site="WH-01", t=1), NOW).alerts  # atp 15, need 45
    rec = alerts[0].recommendation
    assert rec is not None
    assert (rec.action, rec.from_site, rec.to_site, rec.qty) == ("transfer", "WH-03", "WH-01", 40)
    assert rec.expected_arrival == NOW + timedelta(hours=8)
    assert rec.value == 80.0
    assert rec.needs_approval is False


def test_transfer_quantity_is_what_brings_the_site_back_to_target() -> None:
    s = shard(
        reorder_point={"WH-01": 20},
        target={"WH-01": 30, "WH-02": 0},
        lanes=[("WH-02", "WH-01", 2.0)],
    )
    s.apply(ev("COUNTED", 500, site="WH-02", t=0), NOW)
    s.apply(ev("COUNTED", 25, site="WH-01", t=0), NOW)
    rec = s.apply(ev("RESERVED", 16, site="WH-01", t=1), NOW).alerts[0].recommendation
    assert rec is not None
    assert (rec.action, rec.qty) == ("transfer", 30 - 9)


def test_low_stock_recommends_a_purchase_when_no_site_with_a_lane_has_excess() -> None:
    s = shard(
        reorder_point={"WH-01": 20},
        target={"WH-01": 50, "WH-02": 100, "WH-03": 10},
        lanes=[("WH-02", "WH-01", 24.0)],  # WH-03 has excess but no lane into WH-01
        unit_value=1000.0,
        rules=RuleConfig(approval_value_threshold=5_000.0),
    )
    s.apply(ev("COUNTED", 100, site="WH-02", t=0), NOW)  # at target: no excess
    s.apply(ev("COUNTED", 300, site="WH-03", t=0), NOW)
    s.apply(ev("COUNTED", 20, site="WH-01", t=0), NOW)
    rec = s.apply(ev("RESERVED", 5, site="WH-01", t=1), NOW).alerts[0].recommendation
    assert rec is not None
    assert (rec.action, rec.from_site, rec.qty) == ("purchase", None, 35)
    assert rec.value == 35_000.0
    assert rec.needs_approval is True


def test_excess_behind_a_stale_feed_is_not_offered_for_transfer() -> None:
    s = shard(
        reorder_point={"WH-01": 20},
        target={"WH-01": 50, "WH-02": 10},
        lanes=[("WH-02", "WH-01", 24.0)],
    )
    s.apply(ev("COUNTED", 200, site="WH-02", t=0), NOW)
    s.apply(ev("COUNTED", 20, site="WH-01", t=0), NOW)
    s.on_freshness("WH-02", False, NOW)
    rec = s.apply(ev("RESERVED", 5, site="WH-01", t=1), NOW).alerts[0].recommendation
    assert rec is not None
    assert rec.action == "purchase"


def test_low_atp_at_a_stale_site_is_a_suspected_sync_gap_not_a_shortage() -> None:
    s = shard(reorder_point={"WH-01": 20}, target={"WH-01": 50})
    s.apply(ev("COUNTED", 30, t=0), NOW)
    changed, alerts = s.on_freshness("WH-01", False, NOW)
    assert changed == ["SKU-1"]
    assert alerts == []
    gap = s.apply(ev("RESERVED", 15, t=1), NOW).alerts
    assert kinds(gap) == [("SUSPECTED_SYNC_GAP", "raised")]
    assert gap[0].severity == "info"
    assert "not a shortage" in gap[0].explanation
    assert gap[0].recommendation is None
    # the feed catches up: the low figure can now be trusted, and it is a shortage
    _, alerts = s.on_freshness("WH-01", True, at(4000))
    assert kinds(alerts) == [("SUSPECTED_SYNC_GAP", "cleared"), ("LOW_STOCK", "raised")]
    assert alerts[0].id == gap[0].id
    assert "caught up" in alerts[0].explanation
    # and back to stale: the open shortage becomes a suspected gap again (a new episode)
    _, alerts = s.on_freshness("WH-01", False, at(5000))
    assert kinds(alerts) == [("LOW_STOCK", "cleared"), ("SUSPECTED_SYNC_GAP", "raised")]
    assert "overdue" in alerts[0].explanation
    assert alerts[1].id == "SUSPECTED_SYNC_GAP:SKU-1:WH-01:2"


def test_on_freshness_bumps_versions_and_marks_the_sites_skus_dirty() -> None:
    s = shard()
    s.apply(ev("ADJUSTED", 5, site="WH-01", sku="SKU-1"), NOW)
    s.apply(ev("ADJUSTED", 5, site="WH-02", sku="SKU-2"), NOW)
    s.take_dirty()
    version = s.position("SKU-1", NOW).version
    changed, _ = s.on_freshness("WH-01", False, NOW)
    assert changed == ["SKU-1"]
    assert s.take_dirty() == ["SKU-1"]
    pos = s.position("SKU-1", NOW)
    assert pos.version == version + 1
    assert pos.sites["WH-01"].fresh is False
    assert s.on_freshness("WH-01", False, NOW) == ([], [])  # no change, nothing to do


def test_over_allocation_and_negative_on_hand_are_raised_and_cleared() -> None:
    s = shard()
    s.apply(ev("COUNTED", 10, t=0), NOW)
    over = s.apply(ev("RESERVED", 12, t=1), NOW).alerts
    assert kinds(over) == [("OVER_ALLOCATION", "raised")]
    assert over[0].severity == "critical"
    assert "2 more units" in over[0].explanation
    neg = s.apply(ev("ADJUSTED", -11, t=2), NOW).alerts
    assert kinds(neg) == [("NEGATIVE_ON_HAND", "raised")]
    assert s.apply(ev("ADJUSTED", -1, t=3), NOW).alerts == []
    back = s.apply(ev("COUNTED", 20, t=4), NOW).alerts
    assert kinds(back) == [
        ("OVER_ALLOCATION", "cleared"),
        ("NEGATIVE_ON_HAND", "cleared"),
        ("COUNT_DISCREPANCY", "raised"),
    ]


@pytest.mark.parametrize(
    ("diff", "severity"), [(5, "info"), (-20, "warning"), (150, "critical")], ids=str
)
def test_count_discrepancy_is_valued_and_graded(diff: int, severity: str) -> None:
    s = shard(unit_value=10.0)  # warning from 100, critical from 1000 (defaults)
    s.apply(ev("ADJUSTED", 200, t=0), NOW)
    alerts = s.apply(ev("COUNTED", 200 + diff, t=1), NOW).alerts
    assert kinds(alerts) == [("COUNT_DISCREPANCY", "raised")]
    a = alerts[0]
    assert a.severity == severity
    assert a.details["difference"] == diff
    assert a.details["value"] == abs(diff) * 10.0
    assert (a.details["book"], a.details["counted"]) == (200, 200 + diff)


def test_an_opening_count_is_not_a_discrepancy_and_an_agreeing_count_clears_one() -> None:
    s = shard()
    assert s.apply(ev("COUNTED", 50, t=0), NOW).alerts == []
    first = s.apply(ev("COUNTED", 45, t=1), NOW).alerts
    assert kinds(first) == [("COUNT_DISCREPANCY", "raised")]
    replaced = s.apply(ev("COUNTED", 40, t=2), NOW).alerts
    assert kinds(replaced) == [("COUNT_DISCREPANCY", "cleared"), ("COUNT_DISCREPANCY", "raised")]
    assert replaced[0].id == first[0].id
    assert replaced[1].id == "COUNT_DISCREPANCY:SKU-1:WH-01:2"
    agreed = s.apply(ev("COUNTED", 40, t=3), NOW).alerts
    assert kinds(agreed) == [("COUNT_DISCREPANCY", "cleared")]


def test_count_discrepancies_rank_by_value() -> None:
    s = shard(unit_value=1.0)
    found: list[Alert] = []
    for site, diff in (("WH-01", 3), ("WH-02", -40), ("WH-03", 12)):
        s.apply(ev("ADJUSTED", 100, site=site, t=0), NOW)
        found += s.apply(ev("COUNTED", 100 + diff, site=site, t=1), NOW).alerts
    ranked = rank_count_discrepancies(found)
    assert [a.site for a in ranked] == ["WH-02", "WH-03", "WH-01"]


def window(demand: int, k: int) -> WindowMetric:
    start = T0 + timedelta(minutes=15 * k)
    return WindowMetric(
        sku="SKU-1",
        site="WH-01",
        window_start=start,
        window_end=start + timedelta(minutes=15),
        demand=demand,
    )


def test_anomaly_is_raised_with_its_figures_and_cleared_when_demand_is_normal() -> None:
    s = shard()
    usual = [10, 12, 9, 11, 10, 8, 12, 10, 11, 9]
    for k, demand in enumerate(usual):
        assert s.on_window(window(demand, k), NOW) == []
    spike = s.on_window(window(80, 10), NOW)
    assert kinds(spike) == [("ANOMALY", "raised")]
    d = spike[0].details
    assert d["demand"] == 80
    assert 9 < float(d["baseline"]) < 12
    assert float(d["deviation"]) > float(d["threshold"]) == 4.0
    assert "80" in spike[0].explanation
    assert s.on_window(window(75, 11), NOW) == []  # still anomalous: no repeat
    back = s.on_window(window(11, 12), NOW)
    assert kinds(back) == [("ANOMALY", "cleared")]
    assert back[0].id == spike[0].id


def test_no_anomaly_before_the_baseline_has_enough_windows() -> None:
    s = shard()
    assert s.on_window(window(1, 0), NOW) == []
    assert s.on_window(window(500, 1), NOW) == []


def test_a_late_count_that_agrees_with_the_book_still_clears_the_discrepancy() -> None:
    s = shard()
    s.apply(ev("COUNTED", 50, t=0), NOW)
    s.apply(ev("COUNTED", 45, t=10), NOW)  # discrepancy of -5
    s.apply(ev("ADJUSTED", 1, t=30), NOW)
    # happened before the last event seen, and equal to the book: nothing visible moves
    result = s.apply(ev("COUNTED", 45, t=20), NOW)
    assert result.changed is False
    assert kinds(result.alerts) == [("COUNT_DISCREPANCY", "cleared")]
