"""COUNTED semantics independent of arrival order, and the memory bounds of a SKU's state."""

from __future__ import annotations

import pickle
from array import array

import msgspec
import pytest

from tests.twin.factories import at, ev
from twin.errors import ValidationFailed
from twin.events import EventType, InventoryEvent
from twin.position import (
    BEGINNING,
    CHANGED,
    CONFLICT,
    DUPLICATE,
    EXPIRED,
    UNCHANGED,
    PositionConfig,
    SkuTwin,
)


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


def listed(twin: SkuTwin, site: str = "WH-01") -> list[int]:
    """The qtys of the on-hand deltas a site lists after its latest count."""
    deltas = twin.sites[site].deltas
    return [] if deltas is None else list(deltas[1::2])


def test_only_deltas_after_the_latest_count_are_kept() -> None:
    twin = SkuTwin("SKU-1")
    for t in range(10):
        twin.apply(ev("ADJUSTED", 1, t=t))
    twin.apply(ev("COUNTED", 100, t=5))
    assert listed(twin) == [1, 1, 1, 1]  # t = 6..9
    assert on_hand(twin) == 104


def test_a_count_behind_5000_later_deltas_is_placed_exactly() -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("RECEIVED", 10_000, t=0))
    for k in range(1, 5001):
        twin.apply(ev("SHIPPED", 1, t=k) if k % 2 else ev("ADJUSTED", 2, t=k))
    # DESIGN: on_hand = the count + the deltas strictly after it (2,500 x -1, 2,500 x +2)
    # minus those at or before its instant (t = 1..10: 5 x -1, 5 x +2)
    assert twin.apply_code(ev("COUNTED", 700, t=10)) == CHANGED
    assert on_hand(twin) == 700 + (2500 * 2 - 2500) - (5 * 2 - 5)
    assert twin.superseded_counts == 0
    assert twin.last_count is not None and twin.last_count.book == 10_000 + 5 * 2 - 5


def test_a_resend_after_10000_other_events_of_its_sku_changes_nothing() -> None:
    twin = SkuTwin("SKU-1")
    first = ev("RECEIVED", 7, t=0, site="WH-02")
    twin.apply(first)
    for k in range(1, 10_001):
        twin.apply(ev("ADJUSTED", 1, t=k / 10, site=f"WH-0{k % 3 + 1}"))
    before = (twin.version, twin.atp_by_site(), twin.sites["WH-02"].receiving)
    assert twin.apply_code(first) == DUPLICATE
    assert (twin.version, twin.atp_by_site(), twin.sites["WH-02"].receiving) == before
    assert twin.duplicates == 1


def test_an_id_reused_with_other_content_is_a_conflict_and_changes_nothing() -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("RECEIVED", 11, t=0, event_id="collide-1"))
    for k in range(1, 300):
        twin.apply(ev("ADJUSTED", 1, t=k))
    version = twin.version
    other = ev("RECEIVED", 13, t=0, event_id="collide-1")
    assert twin.apply_code(other) == CONFLICT
    assert (twin.conflicts, twin.duplicates, twin.version, on_hand(twin)) == (1, 0, version, 310)
    # the same content again, whatever its recorded_at or source, is a duplicate
    same = msgspec.structs.replace(
        ev("RECEIVED", 11, t=0, event_id="collide-1"), recorded_at=at(5), source="other"
    )
    assert twin.apply_code(same) == DUPLICATE
    assert (twin.conflicts, twin.duplicates, on_hand(twin)) == (1, 1, 310)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("type", "ADJUSTED"),
        ("site", "WH-09"),
        ("qty", 12),
        ("uom", "case"),
        ("occurred_at", at(1)),
        ("to_site", "WH-02"),
        ("transfer_id", "TR-2"),
    ],
)
def test_each_business_field_is_in_the_content_fingerprint(field: str, value: object) -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("RECEIVED", 11, t=0, event_id="X"))
    other = msgspec.structs.replace(ev("RECEIVED", 11, t=0, event_id="X"), **{field: value})
    assert twin.apply_code(other) == CONFLICT


def test_ids_and_deltas_that_left_the_horizon_are_forgotten() -> None:
    twin = SkuTwin("SKU-1", PositionConfig(horizon_s=100))
    twin.apply(ev("COUNTED", 0, t=0))
    for t in range(1, 2001):
        twin.apply(ev("ADJUSTED", 1, t=t))
    # at most about twice a horizon of ids (100 s here, one event a second) and deltas
    assert twin.remembered_ids <= 2 * 103
    assert twin.sites["WH-01"].delta_count <= 2 * 103
    assert on_hand(twin) == 2000
    twin.apply(ev("COUNTED", 50, t=1950.5))  # inside the horizon: placed exactly
    assert on_hand(twin) == 100
    assert twin.apply_code(ev("COUNTED", 0, t=1890)) == EXPIRED  # outside it


def test_ids_in_the_earlier_signed_arrays_still_dedupe_and_are_swept() -> None:
    twin = SkuTwin("SKU-1", PositionConfig(horizon_s=100))
    for t in range(50):
        twin.apply(ev("ADJUSTED", 1, t=t, event_id=f"A{t}"))
    restored = pickle.loads(pickle.dumps(twin))
    # as a snapshot of the earlier layout holds them: signed 64-bit arrays
    restored._id_keys = array("q", restored._id_keys)
    restored._id_meta = array("q", restored._id_meta)
    assert restored.apply_code(ev("ADJUSTED", 1, t=10, event_id="A10")) == DUPLICATE
    for t in range(50, 400):  # enough to sweep several times
        restored.apply(ev("ADJUSTED", 1, t=t, event_id=f"A{t}"))
    assert restored.remembered_ids <= 2 * 103
    assert on_hand(restored) == 400
    assert restored.apply_code(ev("ADJUSTED", 1, t=399, event_id="A399")) == DUPLICATE


def test_a_late_delta_among_the_folded_ones_still_counts_after_the_count() -> None:
    twin = SkuTwin("SKU-1", PositionConfig(horizon_s=100))
    twin.apply(ev("COUNTED", 100, t=0))
    for t in range(1, 301):
        twin.apply(ev("ADJUSTED", 1, t=t))
    b = twin.sites["WH-01"]
    assert b.fold_us > b.count_us
    twin.apply(ev("ADJUSTED", 5, t=250.5))  # after the count, inside the horizon
    assert b.on_hand == 405
    twin.apply(ev("COUNTED", 50, t=299.5))  # the late +5 is inside this count
    assert b.on_hand == 51


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


def test_a_busy_sku_keeps_state_bounded_by_its_horizon_however_many_events() -> None:
    twin = SkuTwin("SKU-1", PositionConfig(horizon_s=100))
    for t in range(5000):
        twin.apply(ev("ADJUSTED", 1 if t % 3 else -1, t=t, site=f"WH-0{t % 3 + 1}"))
    assert twin.remembered_ids <= 2 * 103
    assert all(b.delta_count <= 2 * 103 for b in twin.sites.values())
    assert sum(b.on_hand for b in twin.sites.values()) == 5000 - 2 * 1667


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:45:00+00:00"])
def test_an_event_time_the_twin_cannot_hold_is_refused_before_anything_changes(
    when: str,
) -> None:
    from datetime import datetime

    twin = SkuTwin("SKU-1")
    bad = msgspec.structs.replace(ev("RECEIVED", 5, t=0), occurred_at=datetime.fromisoformat(when))
    with pytest.raises(ValidationFailed) as failed:
        twin.apply(bad)
    assert [(e.field, e.code) for e in failed.value.errors] == [("occurred_at", "out_of_range")]
    assert (twin.version, twin.sites, twin.max_at, twin.remembered_ids) == (0, {}, BEGINNING, 0)


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


@pytest.mark.parametrize("kind", list(EventType))
def test_a_resend_of_any_type_is_a_duplicate_not_a_conflict(kind: EventType) -> None:
    # the fingerprint remembered with an applied event and the one a resend is checked
    # against are computed in two places: they must agree for every type
    twin = SkuTwin("SKU-1")
    to_site = "WH-02" if kind is EventType.TRANSFER_SHIPPED else None
    event = ev(kind, 3, t=10, event_id="E-resent", to_site=to_site)
    assert twin.apply_code(event) in (CHANGED, UNCHANGED)
    assert twin.apply_code(event) == DUPLICATE
    assert twin.conflicts == 0
