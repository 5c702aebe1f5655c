"""Small scenarios for tests: the shipped ones, shrunk to a few hours on a small network."""

from __future__ import annotations

from typing import Any

from simulator.scenarios import load_scenario, parse_scenario
from simulator.spec import GenerateSpec, NetworkSpec, Scenario

SMALL_NETWORK = NetworkSpec(generate=GenerateSpec(sites=6, skus=30, seed=1))


def small(name: str, **update: Any) -> Scenario:
    """A shipped scenario on 6 sites x 30 SKUs, with fields replaced by `update`."""
    return load_scenario(name).model_copy(update={"network": SMALL_NETWORK, **update})


def inline(yaml_text: str) -> Scenario:
    return parse_scenario(yaml_text)
