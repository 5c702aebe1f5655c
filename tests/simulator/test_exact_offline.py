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
