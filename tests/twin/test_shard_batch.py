"""TwinShard.apply_batch does exactly what `apply` does event by event, and the rules' cache.

`apply_batch` is the hot path of the dataflow; `apply` is the reference. For any events
(several SKUs and sites, duplicates, expired and future-dated ones, counts, stale feeds,
windows on) both give the same positions, alerts in the same order, the same counters,
dirty SKUs and closed windows, and `codes` agrees with each `ApplyResult`.
"""

from __future__ import annotations

import pickle
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.twin.factories import at, ev, master
from twin.events import EventType, InventoryEvent
from twin.masterdata import MasterData, Site, Sku
from twin.position import PositionConfig, SiteBuckets
from twin.rules import RuleBook
from twin.shard import (
    APPLIED,
    DUPLICATE,
    EXPIRED,
    REJECTED,
    UNCHANGED,
    ApplyResult,
    TwinConfig,
    TwinShard,
)
from twin.windows import WindowConfig

SITES = ("WH-01", "WH-02", "WH-03")
SKUS = ("SKU-1", "SKU-2")
NOW = at(3600)


def two_sku_master() -> MasterData:
    return MasterData(
        sites=[Site(id=s, feed_mode="api", expected_interval_s=60) for s in SITES],
        skus=[
            Sku(
                id=sku,
                base_uom="each",
                uom_factors={"each": 1},
                unit_value=5.0 * (n + 1),
                reorder_point={"WH-01": 20, "WH-02": 10},
                target={"WH-01": 40, "WH-02": 30, "WH-03": 25},
            )
            for n, sku in enumerate(SKUS)
        ],
    )


def config() -> TwinConfig:
    return TwinConfig(
        position=PositionConfig(horizon_s=3600),
        windows=WindowConfig(),
        future_tolerance_s=600,
    )


@st.composite
def events(draw: st.DrawFn) -> list[InventoryEvent]:
    specs = draw(st.lists(st.tuples(*(st.integers(0, 10**6) for _ in range(6))), max_size=60))
    out: list[InventoryEvent] = []
    types = list(EventType)
    for n, (t, s, k, q, when, again) in enumerate(specs):
        etype = types[t % len(types)]
        site = SITES[s % 3]
        qty = q % 40 + 1
        if etype == EventType.ADJUSTED and q % 2:
            qty = -qty
        elif etype == EventType.COUNTED:
            qty = q % 60
        # mostly inside the horizon, sometimes far before it, sometimes ahead of the clock
        seconds = (when % 7200) - 3600 if when % 13 else 3600 * (when % 5 - 2) * 10
        out.append(
            ev(
                etype,
                qty,
                site=site,
                sku=SKUS[k % 2],
                t=seconds,
                event_id=f"B{n}",
                to_site=SITES[(s + 1) % 3] if etype == EventType.TRANSFER_SHIPPED else None,
            )
        )
        if again % 5 == 0 and out:  # a resent duplicate of an earlier event
            out.append(out[again % len(out)])
    return out


def code_of(result: ApplyResult) -> int:
    if result.duplicate:
        return DUPLICATE
    if result.expired:
        return EXPIRED
    return APPLIED if result.changed else UNCHANGED


def observed(shard: TwinShard) -> dict[str, Any]:
    closed, window_alerts = shard.take_closed_windows(NOW, flush=True)
    return {
        "positions": [shard.position(sku, NOW) for sku in SKUS],
        "stats": shard.stats(),
        "dirty": shard.take_dirty(),
        "closed": closed,
        "window_alerts": window_alerts,
    }


@settings(max_examples=200, deadline=None)
@given(events(), st.lists(st.integers(1, 20), max_size=8), st.sampled_from([(), ("WH-02",)]))
def test_a_batch_does_what_applying_each_event_does(
    evs: list[InventoryEvent], cuts: list[int], stale: tuple[str, ...]
) -> None:
    one, batched = TwinShard(two_sku_master(), config()), TwinShard(two_sku_master(), config())
    for shard in (one, batched):
        for site in stale:
            shard.on_freshness(site, False, NOW)
    results = [one.apply(e, NOW) for e in evs]
    alerts, codes = [], bytearray()
    start = 0
    for size in [*cuts, len(evs)]:  # the same events, cut into batches of any sizes
        result = batched.apply_batch(evs[start : start + size], NOW)
        alerts += result.alerts
        codes += result.codes
        start += size
    assert list(codes) == [code_of(r) for r in results]
    assert alerts == [a for r in results for a in r.alerts]
    assert observed(batched) == observed(one)


def test_codes_say_applied_duplicate_expired_and_unchanged() -> None:
    shard = TwinShard(master(), TwinConfig(position=PositionConfig(horizon_s=600)))
    e = ev("RECEIVED", 10, t=1000)
    count = ev("COUNTED", 0, t=999)  # the book at 999: on hand stays 10
    result = shard.apply_batch([e, e, ev("RECEIVED", 1, t=10), count, count], NOW)
    assert list(result.codes) == [APPLIED, DUPLICATE, EXPIRED, UNCHANGED, DUPLICATE]
    assert result.alerts == []
    assert shard.stats()["applied"] == 2
    assert shard.take_dirty() == ["SKU-1"]


def test_a_resumed_shard_follows_the_reorder_points_of_its_new_master_data() -> None:
    shard = TwinShard(master(reorder_point={"WH-01": 20}))
    shard.apply_batch([ev("COUNTED", 30, t=0)], NOW)
    assert shard.apply_batch([ev("RESERVED", 5, t=1)], NOW).alerts == []  # 25 >= 20
    # a snapshot without its rules, resumed under master data with a higher reorder point
    rules = shard.rules
    shard.rules = None  # type: ignore[assignment]
    copy: TwinShard = pickle.loads(pickle.dumps(shard, protocol=pickle.HIGHEST_PROTOCOL))
    shard.rules = rules
    copy.rules = RuleBook.from_master(master(reorder_point={"WH-01": 30}))
    low = copy.apply_batch([ev("RESERVED", 1, t=2)], NOW).alerts
    assert [(a.kind, a.state, a.details["reorder_point"]) for a in low] == [
        ("LOW_STOCK", "raised", 30)
    ]
    # and the original, still on its own rules, sees no shortage for the same event
    assert shard.apply_batch([ev("RESERVED", 1, t=2)], NOW).alerts == []


def test_rules_swapped_in_memory_are_followed_at_once() -> None:
    shard = TwinShard(master(reorder_point={"WH-01": 20}))
    shard.apply(ev("COUNTED", 30, t=0), NOW)
    shard.rules = RuleBook.from_master(master(reorder_point={"WH-01": 40}))
    low = shard.apply(ev("RESERVED", 1, t=1), NOW).alerts
    assert [(a.kind, a.details["reorder_point"]) for a in low] == [("LOW_STOCK", 40)]


def test_a_count_that_moves_nothing_still_closes_a_discrepancy_in_a_batch() -> None:
    evs = [
        ev("COUNTED", 10, t=0),  # opening balance
        ev("COUNTED", 8, t=10),  # 2 fewer than the book: a discrepancy
        ev("RECEIVED", 5, t=30),
        ev("COUNTED", 8, t=20),  # agrees with the book at 20; on hand stays 13
    ]
    one = TwinShard(master())
    expected = [a for e in evs for a in one.apply(e, NOW).alerts]
    result = TwinShard(master()).apply_batch(evs, NOW)
    assert list(result.codes) == [APPLIED, APPLIED, APPLIED, UNCHANGED]
    assert [(a.kind, a.state) for a in result.alerts] == [
        ("COUNT_DISCREPANCY", "raised"),
        ("COUNT_DISCREPANCY", "cleared"),
    ]
    assert result.alerts == expected


def test_a_snapshot_from_before_the_rules_cache_resumes_and_judges_with_its_rules() -> None:
    shard = TwinShard(master(reorder_point={"WH-01": 20}))
    shard.apply(ev("COUNTED", 30, t=0), NOW)
    twin = shard.twins["SKU-1"]
    # what pickle held of the earlier, plain slotted SiteBuckets: (None, slots), no rules cache
    slots = twin.sites["WH-01"].__getstate__()
    for newer in ("reorder_point", "atp_floor", "rules_token"):
        del slots[newer]
    resumed = SiteBuckets()
    resumed.reorder_point, resumed.atp_floor, resumed.rules_token = 99, 99, shard.rules.token
    resumed.__setstate__((None, slots))
    twin.sites["WH-01"] = resumed
    copy: TwinShard = pickle.loads(pickle.dumps(shard, protocol=pickle.HIGHEST_PROTOCOL))
    assert copy.twins["SKU-1"].sites["WH-01"].on_hand == 30
    low = copy.apply_batch([ev("RESERVED", 15, t=1)], NOW).alerts
    assert [(a.kind, a.details["reorder_point"]) for a in low] == [("LOW_STOCK", 20)]


def test_an_event_that_breaks_the_contract_is_rejected_and_the_batch_goes_on() -> None:
    shard = TwinShard(master(reorder_point={"WH-01": 20}))
    bad_qty = msgspec.structs.replace(ev("RECEIVED", 1, t=1), qty=1.5)  # not whole units
    no_to_site = ev("TRANSFER_SHIPPED", 3, t=2)  # needs to_site
    evs = [ev("COUNTED", 30, t=0), bad_qty, no_to_site, ev("RESERVED", 15, t=3)]
    result = shard.apply_batch(evs, NOW)
    assert list(result.codes) == [APPLIED, REJECTED, REJECTED, APPLIED]
    assert [a.kind for a in result.alerts] == ["LOW_STOCK"]  # from the event after them
    assert shard.stats()["applied"] == 2
    assert shard.position("SKU-1", NOW).sites["WH-01"].on_hand == 30
