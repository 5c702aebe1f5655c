"""Recommendations on their own: choice of source, quantities, ties, approval."""

from __future__ import annotations

from datetime import timedelta

from tests.twin.factories import T0
from twin.recommend import LaneIn, SkuLimits, recommend
from twin.wire import Recommendation

LIMITS = SkuLimits(
    reorder_point={"A": 10, "B": 10, "C": 10, "D": 40},
    target={"A": 30, "B": 20, "C": 20},
    unit_value=5.0,
)


def rec(atp: dict[str, int], lanes: list[LaneIn], threshold: float = 1e9) -> Recommendation:
    return recommend(
        site="A",
        atp_by_site=atp,
        limits=LIMITS,
        lanes_in=lanes,
        fresh=lambda site: True,
        now=T0,
        approval_value_threshold=threshold,
    )


def test_equal_excess_goes_to_the_alphabetically_first_site() -> None:
    r = rec({"A": 5, "B": 30, "C": 30}, [LaneIn("C", 3600), LaneIn("B", 7200)])
    assert (r.action, r.from_site, r.qty) == ("transfer", "B", 10)
    assert r.expected_arrival == T0 + timedelta(hours=2)


def test_a_source_without_a_target_keeps_its_reorder_point() -> None:
    r = rec({"A": 5, "D": 45}, [LaneIn("D", 60)])
    assert (r.action, r.from_site, r.qty) == ("transfer", "D", 5)  # 45 - reorder point 40


def test_a_partial_transfer_says_it_only_gets_closer_to_target() -> None:
    r = rec({"A": 0, "B": 25}, [LaneIn("B", 60)])
    assert (r.qty, r.value) == (5, 25.0)
    assert "closer to" in r.reason


def test_a_purchase_needs_approval_only_above_the_threshold() -> None:
    assert rec({"A": 10}, [], threshold=100.0).needs_approval is False  # 20 x 5 = 100
    assert rec({"A": 9}, [], threshold=100.0).needs_approval is True  # 21 x 5 = 105
