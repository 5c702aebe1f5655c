"""COUNTED semantics independent of arrival order, and the memory bounds of a SKU's state."""

from __future__ import annotations

import pickle

import msgspec
import pytest

from tests.twin.factories import at, ev
from twin.errors import ValidationFailed
from twin.events import InventoryEvent
from twin.position import CHANGED, DUPLICATE, EXPIRED, UNCHANGED, PositionConfig, SkuTwin


def on_hand(twin: SkuTwin, site: str = "WH-01") -> int:
    return twin.sites[site].on_hand


def test_a_count_replaces_on_hand_and_later_movements_apply_on_top() -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("ADJUSTED", 40, t=0))
    twin.apply(ev("COUNTED", 100, t=10))
    twin.apply(ev("SHIPPED", 5, t=20))
    assert on_hand(twin) == 95


def test_a_late_movement_from_before_the_count_is_inside_the_count() -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("COUNTED", 100, t=10))
    twin.apply(ev("ADJUSTED", -30, t=5))  # arrives late, but happened before the count
    assert on_hand(twin) == 100
    twin.apply(ev("ADJUSTED", -30, t=10))  # at the count's instant: inside it too
    assert on_hand(twin) == 100


def test_a_late_count_keeps_the_later_movements_already_applied() -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("ADJUSTED", 50, t=0))
    twin.apply(ev("SHIPPED", 5, t=20))
    twin.apply(ev("ADJUSTED", 7, t=30))
    twin.apply(ev("COUNTED", 100, t=10))  # arrives last, happened before both movements
    assert on_hand(twin) == 100 - 5 + 7


def test_an_older_count_arriving_late_is_superseded() -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("COUNTED", 100, t=20))
    twin.apply(ev("ADJUSTED", 3, t=25))
    version = twin.version
    assert twin.apply_code(ev("COUNTED", 40, t=10)) == UNCHANGED
    assert on_hand(twin) == 103
    assert twin.superseded_counts == 1
    assert twin.version == version


def test_counts_at_the_same_instant_are_ordered_by_event_id() -> None:
    a = ev("COUNTED", 10, t=5, event_id="CNT-A")
    b = ev("COUNTED", 20, t=5, event_id="CNT-B")
    one, two = SkuTwin("SKU-1"), SkuTwin("SKU-1")
    one.apply(a)
    one.apply(b)
    two.apply(b)
    two.apply(a)
    assert on_hand(one) == on_hand(two) == 20


def test_count_outcome_reports_the_book_at_the_count_time() -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("COUNTED", 50, t=0))
    assert twin.last_count is not None
    assert twin.last_count.opening
    twin.apply(ev("ADJUSTED", -10, t=5))
    twin.apply(ev("ADJUSTED", 4, t=30))
    twin.apply(ev("COUNTED", 37, t=10))  # book at t=10 was 40; the +4 at t=30 is on top
    count = twin.last_count
    assert count is not None
    assert (count.counted, count.book, count.difference, count.opening) == (37, 40, -3, False)
    assert on_hand(twin) == 41


def test_a_first_count_after_earlier_movements_is_not_an_opening_count() -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("RECEIVED", 10, t=0))
    twin.apply(ev("COUNTED", 8, t=10))
    assert twin.last_count is not None
    assert (twin.last_count.book, twin.last_count.opening) == (10, False)


def test_a_movement_inside_the_count_still_moves_its_other_buckets() -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("COUNTED", 100, t=10))
    assert twin.apply_code(ev("SHIPPED", 5, t=5)) == CHANGED
    b = twin.sites["WH-01"]
    assert (b.on_hand, b.picked) == (100, -5)


def test_an_adjustment_inside_the_count_changes_nothing_visible() -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("COUNTED", 100, t=10))
    version = twin.version
    assert twin.apply_code(ev("ADJUSTED", 5, t=5)) == UNCHANGED
    assert twin.version == version


def test_only_deltas_after_the_latest_count_are_kept() -> None:
    twin = SkuTwin("SKU-1")
    for t in range(10):
        twin.apply(ev("ADJUSTED", 1, t=t))
    twin.apply(ev("COUNTED", 100, t=5))
    assert [d[1] for d in twin.sites["WH-01"].deltas] == [1, 1, 1, 1]  # t = 6..9
    assert on_hand(twin) == 104


def test_uncounted_deltas_are_folded_past_the_bound_and_older_counts_then_superseded() -> None:
    twin = SkuTwin("SKU-1", PositionConfig(max_deltas=8))
    for t in range(1, 20):
        twin.apply(ev("ADJUSTED", 1, t=t))
    b = twin.sites["WH-01"]
    assert len(b.deltas) <= 8
    assert b.on_hand == 19
    assert twin.apply_code(ev("COUNTED", 0, t=0.5)) == UNCHANGED  # before the folded ones
    assert twin.superseded_counts == 1
    twin.apply(ev("COUNTED", 100, t=18.5))
    assert b.on_hand == 101  # the delta at t=19 survives


def test_dedupe_remembers_at_least_the_last_n_ids_per_sku() -> None:
    twin = SkuTwin("SKU-1", PositionConfig(dedupe_max_ids=8))  # cut back past 8 + 8 // 4
    events = [ev("ADJUSTED", 1, t=t) for t in range(11)]
    for e in events[:10]:
        twin.apply(e)
    assert twin.apply_code(events[0]) == DUPLICATE  # up to 10 ids are remembered
    twin.apply(events[10])  # the 11th id cuts memory back to the newest 8
    assert [twin.apply_code(e) for e in events[3:]] == [DUPLICATE] * 8
    # an older id was forgotten: a redelivery that old is applied again
    assert twin.apply_code(events[2]) == CHANGED
    assert on_hand(twin) == 12
    assert twin.duplicates == 9


def test_an_event_older_than_the_horizon_is_expired_not_applied() -> None:
    twin = SkuTwin("SKU-1", PositionConfig(horizon_s=3600))
    twin.apply(ev("ADJUSTED", 10, t=10_000))
    old = ev("ADJUSTED", 99, t=10_000 - 3601)
    assert twin.apply_code(old) == EXPIRED
    assert twin.apply(old) is False
    assert on_hand(twin) == 10
    assert twin.expired == 2
    assert twin.apply_code(ev("ADJUSTED", 1, t=10_000 - 3600)) == CHANGED  # at the bound


def test_a_sku_twin_pickles_with_its_dedupe_memory() -> None:
    twin = SkuTwin("SKU-1")
    e = ev("RECEIVED", 10, t=0)
    twin.apply(e)
    twin.apply(ev("COUNTED", 3, t=1))
    copy = pickle.loads(pickle.dumps(twin))
    assert copy.apply(e) is False
    assert copy.position(at(2), lambda s: True) == twin.position(at(2), lambda s: True)


def test_a_busy_sku_keeps_bounded_state_however_many_events() -> None:
    twin = SkuTwin("SKU-1", PositionConfig(dedupe_max_ids=100, max_deltas=32))
    for t in range(5000):
        twin.apply(ev("ADJUSTED", 1 if t % 3 else -1, t=t, site=f"WH-0{t % 3 + 1}"))
    assert len(twin._id_set) <= 125
    assert all(len(b.deltas) <= 32 for b in twin.sites.values())
    assert sum(b.on_hand for b in twin.sites.values()) == 5000 - 2 * 1667


def test_a_late_delta_among_the_folded_ones_still_counts_after_the_count() -> None:
    twin = SkuTwin("SKU-1", PositionConfig(max_deltas=4))
    twin.apply(ev("COUNTED", 100, t=0))
    for t in range(1, 11):
        twin.apply(ev("ADJUSTED", 1, t=t))
    b = twin.sites["WH-01"]
    assert b.fold_at > b.count_at
    twin.apply(ev("ADJUSTED", 5, t=1.5))  # after the count, older than the folded deltas
    assert b.on_hand == 115
    twin.apply(ev("COUNTED", 50, t=9.5))  # the late +5 is inside this count
    assert b.on_hand == 51


@pytest.mark.parametrize(
    "bad",
    [
        ev("TRANSFER_SHIPPED", 5, t=1),  # no to_site
        msgspec.structs.replace(ev("ADJUSTED", 2, t=1), qty=2.5),
    ],
    ids=["transfer-without-to_site", "fractional-qty"],
)
def test_a_malformed_event_is_refused_before_anything_changes(bad: InventoryEvent) -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("ADJUSTED", 10, t=0))
    before = (twin.version, twin.sites["WH-01"].on_hand, twin.max_at)
    with pytest.raises(ValidationFailed) as failed:
        twin.apply(bad)
    assert failed.value.errors[0].field in ("to_site", "qty")
    assert (twin.version, twin.sites["WH-01"].on_hand, twin.max_at) == before
    assert not twin.seen(bad.event_id)
