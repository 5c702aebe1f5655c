"""The demo's flow settings: site metrics every wall second on an accelerated clock (five
seconds would be fifty simulated minutes at 600x), unless the environment says otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cli.demo import demo_flow_env
from infra.clock import DomainClock

ORIGIN = datetime(2026, 11, 27, 6, tzinfo=UTC)


def test_an_accelerated_clock_gets_site_metrics_every_wall_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TWIN_FLOW_METRICS_INTERVAL_S", raising=False)
    assert demo_flow_env(DomainClock(ORIGIN, 600.0)) == {"TWIN_FLOW_METRICS_INTERVAL_S": "1"}
    assert demo_flow_env(DomainClock()) == {}  # the wall clock: the flows' own default


def test_the_environment_s_interval_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWIN_FLOW_METRICS_INTERVAL_S", "3")
    assert demo_flow_env(DomainClock(ORIGIN, 600.0)) == {}
