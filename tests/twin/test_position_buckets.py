"""Every event type moves exactly the buckets of DESIGN.md's table, and nothing else."""

from __future__ import annotations

import msgspec
import pytest

from tests.twin.factories import T0, at, ev
from twin.errors import ValidationFailed
from twin.events import EventType
from twin.position import CHANGED, DUPLICATE, SkuTwin

BUCKETS = ("on_hand", "receiving", "reserved", "picked", "quarantined", "in_transit")

# (type, qty, expected change at site, expected change at to_site) — DESIGN's bucket table
TABLE = [
    (EventType.RECEIVED, 5, {"on_hand": 5, "receiving": 5}, {}),
    (EventType.PUT_AWAY, 5, {"receiving": -5}, {}),
    (EventType.RESERVED, 5, {"reserved": 5}, {}),
    (EventType.RESERVATION_RELEASED, 5, {"reserved": -5}, {}),
    (EventType.PICKED, 5, {"reserved": -5, "picked": 5}, {}),
    (EventType.SHIPPED, 5, {"on_hand": -5, "picked": -5}, {}),
    (EventType.TRANSFER_SHIPPED, 5, {"on_hand": -5}, {"in_transit": 5}),
    (EventType.TRANSFER_RECEIVED, 5, {"on_hand": 5, "receiving": 5, "in_transit": -5}, {}),
    (EventType.QUALITY_HOLD, 5, {"quarantined": 5}, {}),
    (EventType.QUALITY_RELEASE, 5, {"quarantined": -5}, {}),
    (EventType.RETURNED, 5, {"on_hand": 5, "quarantined": 5}, {}),
    (EventType.ADJUSTED, -5, {"on_hand": -5}, {}),
    (EventType.ADJUSTED, 5, {"on_hand": 5}, {}),
    (EventType.COUNTED, 130, {"on_hand": 130 - 80}, {}),  # on hand was 100 - 20 = 80
]


def _start() -> SkuTwin:
    """A SKU with every bucket non-zero at both sites, so decreases are visible."""
    twin = SkuTwin("SKU-1")
    for site in ("WH-01", "WH-02"):
        twin.apply(ev("RECEIVED", 100, site=site, t=-100))
        twin.apply(ev("RESERVED", 40, site=site, t=-90))
        twin.apply(ev("PICKED", 10, site=site, t=-80))
        twin.apply(ev("QUALITY_HOLD", 7, site=site, t=-70))
    twin.apply(ev("TRANSFER_SHIPPED", 20, site="WH-02", to_site="WH-01", t=-60))
    twin.apply(ev("TRANSFER_SHIPPED", 20, site="WH-01", to_site="WH-02", t=-60))
    return twin


def _snapshot(twin: SkuTwin) -> dict[str, dict[str, int]]:
    return {site: {name: getattr(b, name) for name in BUCKETS} for site, b in twin.sites.items()}


@pytest.mark.parametrize(("etype", "qty", "at_site", "at_to_site"), TABLE, ids=str)
def test_each_event_type_moves_exactly_its_buckets(
    etype: EventType, qty: int, at_site: dict[str, int], at_to_site: dict[str, int]
) -> None:
    twin = _start()
    before = _snapshot(twin)
    version = twin.version
    to_site = "WH-02" if etype == EventType.TRANSFER_SHIPPED else None
    assert twin.apply(ev(etype, qty, site="WH-01", to_site=to_site, t=0))
    after = _snapshot(twin)
    for name in BUCKETS:
        assert after["WH-01"][name] - before["WH-01"][name] == at_site.get(name, 0), name
        assert after["WH-02"][name] - before["WH-02"][name] == at_to_site.get(name, 0), name
    assert twin.version == version + 1
    assert twin.sites["WH-01"].last_event_at == T0


def test_atp_is_on_hand_minus_receiving_reserved_picked_quarantined() -> None:
    twin = SkuTwin("SKU-1")
    for e in [
        ev("RECEIVED", 100),
        ev("PUT_AWAY", 60),
        ev("RESERVED", 30),
        ev("PICKED", 10),
        ev("QUALITY_HOLD", 5),
    ]:
        twin.apply(e)
    pos = twin.position(T0, lambda site: True)
    s = pos.sites["WH-01"]
    assert (s.on_hand, s.receiving, s.reserved, s.picked, s.quarantined) == (100, 40, 20, 10, 5)
    assert s.atp == 100 - 40 - 20 - 10 - 5 == 25


def test_atp_goes_negative_when_over_allocated() -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("ADJUSTED", 10))
    twin.apply(ev("RESERVED", 25))
    assert twin.position(T0, lambda s: True).sites["WH-01"].atp == -15


def test_transfer_is_in_transit_at_destination_until_received() -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("ADJUSTED", 50, site="WH-01"))
    twin.apply(ev("TRANSFER_SHIPPED", 20, site="WH-01", to_site="WH-02", t=10))
    pos = twin.position(at(20), lambda s: True)
    assert pos.sites["WH-01"].on_hand == 30
    assert pos.sites["WH-02"].in_transit == 20
    assert (pos.network.on_hand, pos.network.in_transit) == (30, 20)
    twin.apply(ev("TRANSFER_RECEIVED", 20, site="WH-02", t=3600))
    pos = twin.position(at(3600), lambda s: True)
    assert pos.sites["WH-02"].in_transit == 0
    assert pos.sites["WH-02"].on_hand == 20
    assert (pos.network.on_hand, pos.network.in_transit) == (50, 0)


def test_position_reports_freshness_and_last_event_per_site() -> None:
    twin = SkuTwin("SKU-1")
    twin.apply(ev("ADJUSTED", 5, site="WH-01", t=30))
    twin.apply(ev("ADJUSTED", 5, site="WH-01", t=10))  # older: last_event_at keeps the max
    twin.apply(ev("ADJUSTED", 5, site="WH-02", t=20))
    pos = twin.position(at(60), lambda site: site != "WH-02")
    assert pos.sites["WH-01"].last_event_at == at(30)
    assert pos.sites["WH-01"].fresh is True
    assert pos.sites["WH-02"].fresh is False
    assert pos.as_of == at(60)
    assert pos.version == 3


def test_a_repeated_event_id_changes_nothing_and_is_counted() -> None:
    twin = SkuTwin("SKU-1")
    e = ev("RECEIVED", 10)
    assert twin.apply(e) is True
    before = (_snapshot(twin), twin.version)
    assert twin.apply(e) is False
    assert (_snapshot(twin), twin.version) == before
    assert twin.duplicates == 1


def test_an_event_built_with_a_plain_string_type_applies_as_its_event_type() -> None:
    # the decoder gives EventType members; code may build events with the type's name
    by_name = msgspec.structs.replace(ev("RESERVED", 4, t=1), type="RESERVED")  # type: ignore[arg-type]
    twin = SkuTwin("SKU-1")
    twin.apply(ev("COUNTED", 10, t=0))
    assert twin.apply_code(by_name) == CHANGED
    assert twin.sites["WH-01"].reserved == 4
    assert twin.apply_code(by_name) == DUPLICATE
    # a malformed one is refused before anything changes, not even a site entry
    no_to_site = msgspec.structs.replace(
        ev("TRANSFER_SHIPPED", 2, site="WH-09", t=2),
        type="TRANSFER_SHIPPED",  # type: ignore[arg-type]
    )
    with pytest.raises(ValidationFailed):
        twin.apply_code(no_to_site)
    assert sorted(twin.sites) == ["WH-01"] and not twin.seen(no_to_site.event_id)
