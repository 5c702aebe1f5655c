"""Invariants of the position, for any events hypothesis can think of.

- any arrival order of a set of events gives the same final position (counts, late counts,
  transfers included);
- applying any event twice equals applying it once, and the repeat is counted;
- transfers conserve network stock (on_hand + in_transit);
- long histories (thousands of events of a SKU, counts far back, resends far apart) give
  DESIGN's answer in any arrival order within the horizon;
- atp always equals on_hand - receiving - reserved - picked - quarantined.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.twin.factories import at
from twin.events import EventType, InventoryEvent
from twin.position import PositionConfig, SkuTwin
from twin.wire import SitePosition

SITES = ("WH-01", "WH-02", "WH-03")
SIGNED = st.integers(-50, 50).filter(lambda q: q != 0)


@st.composite
def event_specs(draw: st.DrawFn, types: tuple[EventType, ...] = tuple(EventType)) -> dict[str, Any]:
    etype = draw(st.sampled_from(types))
    site = draw(st.sampled_from(SITES))
    if etype == EventType.ADJUSTED:
        qty = draw(SIGNED)
    elif etype == EventType.COUNTED:
        qty = draw(st.integers(0, 200))
    else:
        qty = draw(st.integers(1, 50))
    spec: dict[str, Any] = {
        "type": etype,
        "site": site,
        "qty": qty,
        # few distinct instants, so ties between counts and movements happen often
        "occurred_at": at(draw(st.integers(0, 12))),
    }
    if etype == EventType.TRANSFER_SHIPPED:
        spec["to_site"] = draw(st.sampled_from([s for s in SITES if s != site]))
    if etype in (EventType.TRANSFER_SHIPPED, EventType.TRANSFER_RECEIVED):
        spec["transfer_id"] = f"TR-{draw(st.integers(0, 5))}"
    return spec


def to_events(specs: list[dict[str, Any]]) -> list[InventoryEvent]:
    return [
        InventoryEvent(event_id=f"E{i}", sku="SKU-1", uom="each", source="test", **spec)
        for i, spec in enumerate(specs)
    ]


def final_sites(events: list[InventoryEvent]) -> dict[str, SitePosition]:
    twin = SkuTwin("SKU-1")
    for e in events:
        twin.apply(e)
    return twin.position(at(100), lambda site: True).sites


@settings(max_examples=300, deadline=None)
@given(st.lists(event_specs(), max_size=30), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_same_final_position(
    specs: list[dict[str, Any]], rnd: Any
) -> None:
    events = to_events(specs)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert final_sites(shuffled) == final_sites(events)


@settings(max_examples=200, deadline=None)
@given(st.lists(event_specs(), max_size=25), st.data())
def test_applying_any_event_twice_equals_applying_it_once(
    specs: list[dict[str, Any]], data: st.DataObject
) -> None:
    events = to_events(specs)
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=10) if events else st.just([]))
    stream = list(events)
    for e in repeats:  # each repeat goes somewhere after its original
        first = stream.index(e)
        stream.insert(data.draw(st.integers(first + 1, len(stream))), e)
    once, twice = SkuTwin("SKU-1"), SkuTwin("SKU-1")
    for e in events:
        once.apply(e)
    results = [twice.apply(e) for e in stream]
    assert twice.position(at(100), lambda s: True) == once.position(at(100), lambda s: True)
    assert twice.duplicates == len(repeats)
    assert results.count(False) == len(repeats)


TRANSFERS = (EventType.TRANSFER_SHIPPED, EventType.TRANSFER_RECEIVED)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 100), min_size=3, max_size=3),
    st.lists(event_specs(TRANSFERS), max_size=30),
    st.randoms(use_true_random=False),
)
def test_transfers_conserve_network_stock(
    opening: list[int], specs: list[dict[str, Any]], rnd: Any
) -> None:
    twin = SkuTwin("SKU-1")
    for i, (site, qty) in enumerate(zip(SITES, opening, strict=True)):
        twin.apply(
            InventoryEvent(
                event_id=f"OPEN-{i}",
                type=EventType.COUNTED,
                sku="SKU-1",
                site=site,
                qty=qty,
                uom="each",
                occurred_at=at(-1),
                source="test",
            )
        )
    events = to_events(specs)
    rnd.shuffle(events)
    for e in events:
        twin.apply(e)
        network = twin.position(at(100), lambda s: True).network
        assert network.on_hand + network.in_transit == sum(opening)


@settings(max_examples=200, deadline=None)
@given(st.lists(event_specs(), max_size=40))
def test_atp_always_equals_its_formula(specs: list[dict[str, Any]]) -> None:
    twin = SkuTwin("SKU-1")
    for e in to_events(specs):
        twin.apply(e)
        pos = twin.position(at(100), lambda s: True)
        for s in pos.sites.values():
            assert s.atp == s.on_hand - s.receiving - s.reserved - s.picked - s.quarantined
        assert pos.network.atp == sum(s.atp for s in pos.sites.values())
        assert pos.network.on_hand == sum(s.on_hand for s in pos.sites.values())


MOVES = (EventType.ADJUSTED, EventType.SHIPPED, EventType.RECEIVED, EventType.RETURNED)
ON_HAND_SIGN = {
    EventType.ADJUSTED: 1,
    EventType.SHIPPED: -1,
    EventType.RECEIVED: 1,
    EventType.RETURNED: 1,
}


@settings(max_examples=60, deadline=None)
@given(st.integers(200, 1500), st.integers(1, 30), st.integers(0, 2**32))
def test_forgetting_what_left_the_horizon_never_loses_a_delta(
    n: int, horizon_s: int, seed: int
) -> None:
    rnd = random.Random(seed)
    # events in time order over far more than the horizon: nothing expires, much is swept
    events = [
        InventoryEvent(
            event_id=f"E{i}",
            type=rnd.choice(MOVES),
            sku="SKU-1",
            site=rnd.choice(SITES),
            qty=rnd.randint(1, 9),
            uom="each",
            occurred_at=at(i / 4),
            source="test",
        )
        for i in range(n)
    ]
    twin = SkuTwin("SKU-1", PositionConfig(horizon_s=horizon_s))
    assert all(twin.apply(e) for e in events)
    for site in SITES:
        expected = sum(ON_HAND_SIGN[e.type] * int(e.qty) for e in events if e.site == site)
        got = twin.sites[site].on_hand if site in twin.sites else 0
        assert got == expected
    assert twin.remembered_ids <= max(64, 2 * (4 * horizon_s + 8))


def design_answer(events: list[InventoryEvent]) -> dict[str, tuple[int, ...]]:
    """DESIGN's bucket table and COUNTED rule, written plainly: each site's buckets from the
    set of distinct events, whatever order they came in."""
    unique = {e.event_id: e for e in events}.values()
    buckets: dict[str, list[int]] = {}
    deltas: dict[str, list[tuple[Any, int]]] = {}
    counts: dict[str, list[tuple[Any, str, int]]] = {}
    effect = {  # (receiving, reserved, picked, quarantined, on-hand delta) per unit
        EventType.RECEIVED: (1, 0, 0, 0, 1),
        EventType.PUT_AWAY: (-1, 0, 0, 0, 0),
        EventType.RESERVED: (0, 1, 0, 0, 0),
        EventType.RESERVATION_RELEASED: (0, -1, 0, 0, 0),
        EventType.PICKED: (0, -1, 1, 0, 0),
        EventType.SHIPPED: (0, 0, -1, 0, -1),
        EventType.QUALITY_HOLD: (0, 0, 0, 1, 0),
        EventType.QUALITY_RELEASE: (0, 0, 0, -1, 0),
        EventType.RETURNED: (0, 0, 0, 1, 1),
        EventType.ADJUSTED: (0, 0, 0, 0, 1),
        EventType.TRANSFER_SHIPPED: (0, 0, 0, 0, -1),
        EventType.TRANSFER_RECEIVED: (1, 0, 0, 0, 1),
    }
    for e in unique:
        b = buckets.setdefault(e.site, [0] * 5)  # receiving..quarantined, in_transit
        q = int(e.qty)
        if e.type == EventType.COUNTED:
            counts.setdefault(e.site, []).append((e.occurred_at, e.event_id, q))
            continue
        rec, res, pick, quar, on_hand = effect[e.type]
        b[0] += rec * q
        b[1] += res * q
        b[2] += pick * q
        b[3] += quar * q
        if e.type == EventType.TRANSFER_SHIPPED:
            assert e.to_site is not None
            buckets.setdefault(e.to_site, [0] * 5)[4] += q
        elif e.type == EventType.TRANSFER_RECEIVED:
            b[4] -= q
        if on_hand:
            deltas.setdefault(e.site, []).append((e.occurred_at, on_hand * q))
    out = {}
    for site, b in buckets.items():
        latest = max(counts.get(site, []), default=None)
        moves = deltas.get(site, [])
        if latest is None:
            on_hand = sum(d for _, d in moves)
        else:
            on_hand = latest[2] + sum(d for t, d in moves if t > latest[0])
        out[site] = (on_hand, *b)
    return out


def twin_answer(twin: SkuTwin) -> dict[str, tuple[int, ...]]:
    return {
        site: (b.on_hand, b.receiving, b.reserved, b.picked, b.quarantined, b.in_transit)
        for site, b in twin.sites.items()
    }


@settings(max_examples=25, deadline=None)
@given(st.integers(1000, 3000), st.integers(0, 2**32))
def test_long_histories_give_designs_answer_in_any_arrival_order(n: int, seed: int) -> None:
    """Thousands of events of one SKU over six days of event time (inside the default
    horizon), counts that occurred far back arriving last, and resends far apart: time
    order and a shuffled order both give DESIGN's answer, and each resend is a duplicate."""
    rnd = random.Random(seed)  # thousands of draws: from a seed hypothesis shrinks
    day = 24 * 3600
    types = [t for t in EventType if t is not EventType.COUNTED]
    events = []
    for i in range(n):
        etype = rnd.choice(types)
        site = rnd.choice(SITES)
        qty = rnd.randint(1, 40)
        if etype == EventType.ADJUSTED and rnd.random() < 0.5:
            qty = -qty
        extra: dict[str, Any] = {}
        if etype in TRANSFERS:
            extra["transfer_id"] = f"TR-{i}"
        if etype == EventType.TRANSFER_SHIPPED:
            extra["to_site"] = rnd.choice([s for s in SITES if s != site])
        events.append(
            InventoryEvent(
                event_id=f"E{i}",
                type=etype,
                sku="SKU-1",
                site=site,
                qty=qty,
                uom="each",
                occurred_at=at(rnd.uniform(0, 6 * day)),
                source="test",
                **extra,
            )
        )
    counts = [
        InventoryEvent(
            event_id=f"C{k}",
            type=EventType.COUNTED,
            sku="SKU-1",
            site=rnd.choice(SITES),
            qty=rnd.randint(0, 500),
            uom="each",
            occurred_at=at(rnd.uniform(0, day)),  # far back: thousands of deltas after each
            source="test",
        )
        for k in range(rnd.randint(1, 6))
    ]
    in_time = sorted(events + counts, key=lambda e: e.occurred_at)
    resends = rnd.sample(events[: n // 10], k=min(20, n // 10))  # early ids, resent last
    shuffled = list(events)
    rnd.shuffle(shuffled)
    stream = shuffled + counts + resends
    expected = design_answer(in_time)
    ordered, arrived = SkuTwin("SKU-1"), SkuTwin("SKU-1")
    for e in in_time:
        ordered.apply(e)
    codes = [arrived.apply_code(e) for e in stream]
    assert twin_answer(ordered) == expected
    assert twin_answer(arrived) == expected
    assert arrived.duplicates == len(resends) and codes[-len(resends) :] == [1] * len(resends)
    assert arrived.expired == 0 and arrived.conflicts == 0
