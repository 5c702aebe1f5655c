"""The shipped scenarios through the real normalizer and twin core: every physical event is
applied exactly once, every injected duplicate is rejected as one, and no count is dropped.

`mixed` resends events of busy SKUs long after thousands of their other events (the 3PL
backlog), and `late-counts` keys counts in three hours late, behind many later movements:
both within the twin's event-time horizon, so both must come out exact.
"""

from __future__ import annotations

import pytest
import simpy

from simulator.engine import Simulation
from simulator.offline import OfflineTwin
from simulator.scenarios import load_scenario
from simulator.truth import BUCKETS


@pytest.mark.parametrize("name", ["mixed", "late-counts"])
def test_a_shipped_scenario_applies_exactly_the_physical_events(name: str) -> None:
    scenario = load_scenario(name)
    env = simpy.Environment()
    sim = Simulation(scenario, 7, env)
    twin = OfflineTwin(sim.network, scenario.start)
    sim.sinks.append(twin.deliver)
    env.run(until=sim.start(twin_atp=twin.atp))
    assert sim.model is not None
    physical = sim.model.stats["events"]
    stats = twin.shard.stats()
    assert physical > 10_000
    assert twin.applied == stats["applied"] == physical
    assert (
        sum(twin.duplicates) == stats["duplicates"] == sum(sim.faults.injected_duplicates.values())
    )
    assert (twin.expired, stats["conflicts"]) == (0, 0)
    assert sum(t.superseded_counts for t in twin.shard.twins.values()) == 0
    assert sim.model.stats["counts"] > 0
    # every broken record went to the DLQ, none to the twin
    assert sum(twin.dlq) == sum(sim.faults.injected_malformed.values())
    # At the end the twin holds the truth in every bucket of every SKU-site, except on hand
    # that went missing unreported (shrinkage) after the site's last count of the SKU: the
    # twin may hold more there, never less, and nowhere else may it differ.
    differing = _differing_sku_sites(sim, twin)
    shrunk = {(s, k) for _t, s, k in sim.model.shrink_log}
    assert differing, "the scenario's shrinkage should leave some stock no count found yet"
    for (s, k), deltas in differing.items():
        assert (s, k) in shrunk
        assert deltas["on_hand"] > 0 and all(
            delta == 0 for bucket, delta in deltas.items() if bucket != "on_hand"
        )


def _differing_sku_sites(sim: Simulation, twin: OfflineTwin) -> dict[tuple[int, int], dict]:
    """(site, sku) -> bucket -> twin minus truth, where any bucket differs."""
    truth = sim.truth.snapshot()
    out: dict[tuple[int, int], dict] = {}
    for k, sku in enumerate(sim.network.sku_ids):
        sites = twin.shard.twins[sku].sites
        for site in sim.network.sites:
            buckets = sites[site.id]
            deltas = {
                name: getattr(buckets, name) - int(truth[name][site.index, k]) for name in BUCKETS
            }
            if any(deltas.values()):
                out[(site.index, k)] = deltas
    return out
