"""Alert lifecycles for any stream: each id raised once, cleared at most once, after its raise,
and the alerts left open are exactly the conditions that hold at the end."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.twin.factories import at, master
from tests.twin.test_position_properties import SITES, event_specs, to_events
from twin.shard import TwinShard
from twin.wire import Alert

NOW = at(1000)
RP = {"WH-01": 20, "WH-02": 10, "WH-03": 30}
TARGET = {"WH-01": 40, "WH-02": 30, "WH-03": 60}

steps = st.one_of(
    event_specs(),
    st.tuples(st.sampled_from(SITES), st.booleans()),  # a feed goes stale or fresh
)


def expected_open(shard: TwinShard) -> set[tuple[str, str]]:
    want: set[tuple[str, str]] = set()
    twin = shard.twins.get("SKU-1")
    if twin is None:
        return want
    for site, b in twin.sites.items():
        if b.last_event_at is None:
            continue  # only in transit towards it: the rules run where events happen
        if b.atp < RP[site]:
            want.add(("LOW_STOCK" if shard.is_fresh(site) else "SUSPECTED_SYNC_GAP", site))
        if b.atp < 0:
            want.add(("OVER_ALLOCATION", site))
        if b.on_hand < 0:
            want.add(("NEGATIVE_ON_HAND", site))
    return want


@settings(max_examples=150, deadline=None)
@given(st.lists(steps, max_size=40))
def test_every_alert_is_raised_once_and_cleared_at_most_once(plan: list[Any]) -> None:
    shard = TwinShard(master(reorder_point=RP, target=TARGET, lanes=[("WH-02", "WH-01", 4.0)]))
    specs = [p for p in plan if isinstance(p, dict)]
    events = iter(to_events(specs))
    alerts: list[Alert] = []
    for p in plan:
        if isinstance(p, dict):
            alerts += shard.apply(next(events), NOW).alerts
        else:
            alerts += shard.on_freshness(p[0], p[1], NOW)[1]
    states: dict[str, list[str]] = {}
    for a in alerts:
        states.setdefault(a.id, []).append(a.state)
    for alert_id, seq in states.items():
        assert seq in (["raised"], ["raised", "cleared"]), (alert_id, seq)
    still_open = {
        (a.kind, a.site or "")
        for a in alerts
        if a.kind != "COUNT_DISCREPANCY" and states[a.id] == ["raised"]
    }
    assert still_open == expected_open(shard)
