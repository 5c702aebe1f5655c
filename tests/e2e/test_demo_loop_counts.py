"""The demo's loop on the real stack: a live `baseline`-like scenario run twice on one twin,
as `invtwin demo` re-runs it with the next seed. The second run continues from the twin's
stock, so the twin raises no COUNT_DISCREPANCY, and the dashboard shows none."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from cli.stack import REPO_ROOT, Stack
from infra.topics import topic_names
from simulator.runner import run_scenario
from simulator.scenarios import parse_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

# The stack's own network, one fast simulated hour without faults; counts during the run
# check the book too. The stack's flows run on the wall clock: 3600x keeps the hour short.
SCENARIO = f"""
name: demo-loop
duration_hours: 1
network: {{path: {REPO_ROOT / "examples" / "network.yaml"}, supplier_lead_time_hours: 1}}
demand: {{orders_per_sku_site_per_day: 10, diurnal: flat}}
operations: {{cycle_count_interval_hours: 0.5, cycle_count_skus: 5}}
feeds:
  defaults:
    batch: {{interval_minutes: 10}}
    3pl: {{interval_minutes: 20}}
report: {{sample_minutes: 10}}
live: {{speed: 3600, quiescence_timeout_s: 60}}
"""


def count_discrepancies(stack: Stack, since: datetime, state: str = "all") -> list[dict[str, Any]]:
    """COUNT_DISCREPANCY alerts the twin detected from `since` on."""
    response = httpx.get(
        f"{stack.url}/v1/alerts",
        params={"kind": "COUNT_DISCREPANCY", "state": state},
        headers={"Authorization": f"Bearer {stack.tokens['viewer']}"},
        timeout=10,
    )
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()["alerts"]
    return [a for a in alerts if datetime.fromisoformat(a["detected_at"]) >= since]


def test_a_demo_loop_continues_from_the_twin_and_raises_no_count_discrepancy(
    live_stack: Stack, browser: Browser
) -> None:
    scenario = parse_scenario(SCENARIO)
    topics = topic_names(live_stack.topic_suffix)
    started = datetime.now(UTC)
    # other tests on this stack may have left some open: the page must show no more than those
    already_open = len(count_discrepancies(live_stack, datetime.min.replace(tzinfo=UTC), "open"))
    runs = [
        run_scenario(
            scenario, mode="live", seed=seed, bootstrap=live_stack.bootstrap, topics=topics
        )
        for seed in (7, 8)  # the demo's loop: the same scenario with the next seed
    ]
    loop = runs[1]["live"]
    assert loop["continued_sku_sites"] > 0, loop
    assert loop["agreed_at_quiescence"], runs[1]["accuracy"]
    assert count_discrepancies(live_stack, started) == []

    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page.goto(f"{live_stack.url}/#token={live_stack.tokens['viewer']}")
        expect(page.get_by_test_id("conn-status")).to_have_text("live", timeout=15_000)
        expect(page.get_by_test_id("open-alert-counts")).to_have_text(re.compile(r"\S"))
        counts = page.get_by_test_id("open-alert-counts")
        if already_open:
            expect(counts).to_contain_text(f"COUNT_DISCREPANCY {already_open}")
        else:
            expect(counts).not_to_contain_text("COUNT_DISCREPANCY")
            listed = page.locator('[data-testid="alert-item"][data-kind="COUNT_DISCREPANCY"]')
            expect(listed).to_have_count(0)
    finally:
        page.close()
