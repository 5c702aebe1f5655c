"""Invariants of the position, for any events hypothesis can think of.

- any arrival order of a set of events gives the same final position (counts, late counts,
  transfers included);
- applying any event twice equals applying it once, and the repeat is counted;
- transfers conserve network stock (on_hand + in_transit);
- atp always equals on_hand - receiving - reserved - picked - quarantined.
"""

from __future__ import annotations

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


@settings(max_examples=100, deadline=None)
@given(
    st.lists(event_specs(MOVES), max_size=40),
    st.integers(2, 6),
    st.randoms(use_true_random=False),
)
def test_folding_uncounted_deltas_never_loses_one(
    specs: list[dict[str, Any]], max_deltas: int, rnd: Any
) -> None:
    events = to_events(specs)
    rnd.shuffle(events)
    twin = SkuTwin("SKU-1", PositionConfig(max_deltas=max_deltas))
    for e in events:
        twin.apply(e)
    for site in SITES:
        expected = sum(ON_HAND_SIGN[e.type] * int(e.qty) for e in events if e.site == site)
        got = twin.sites[site].on_hand if site in twin.sites else 0
        assert got == expected
        if site in twin.sites:
            assert len(twin.sites[site].deltas) <= max_deltas
