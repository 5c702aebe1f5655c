"""The scenario panel in a real browser against the real stack: for architects only.

A viewer's page shows no scenario panel and asks nothing that is refused (no 403 in the
console or on the wire). An architect signing in after a viewer in the same tab gets the
library from the API, offered per mode, runs a scenario from the live twin with
replications, and reads figures with their intervals and the offsets it opened at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from cli.stack import Stack

pytestmark = pytest.mark.e2e

FORK_SPEC = """\
name: browser-fork
description: Two hours from the live twin's stock now, uploaded by the browser test.
duration_hours: 1
report: {controls: false}
"""


def _sign_in(page: Page, stack: Stack, role: str) -> None:
    page.get_by_test_id("token-input").fill(stack.tokens[role])
    page.get_by_test_id("sign-in-button").click()
    expect(page.get_by_test_id("dashboard")).to_be_visible(timeout=15_000)


def test_a_viewer_sees_no_scenario_panel_and_no_403_in_the_console(
    live_stack: Stack, browser: Browser
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
    console: list[str] = []
    refused: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.on("response", lambda r: refused.append(r.url) if r.status in (401, 403) else None)
    page.goto(f"{live_stack.url}/")
    with page.expect_response(lambda r: r.url.endswith("/v1/me")):
        _sign_in(page, live_stack, "viewer")
    expect(page.get_by_test_id("conn-status")).to_have_text("live", timeout=15_000)
    page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("scenario-panel")).to_be_hidden()
    assert refused == []
    assert [line for line in console if "403" in line or "Forbidden" in line] == []
    page.close()


def test_an_architect_after_a_viewer_runs_from_the_live_twin_and_reads_the_intervals(
    live_stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
    page.goto(f"{live_stack.url}/")
    _sign_in(page, live_stack, "viewer")
    page.locator("#sign-out").click()
    _sign_in(page, live_stack, "architect")
    panel = page.get_by_test_id("scenario-panel")
    expect(panel).to_be_visible()
    page.get_by_text("What-if scenarios").click()
    names = page.get_by_test_id("scenario-name").locator("option")
    # From the API, per mode: the live-only restart scenario is not offered offline.
    expect(names.filter(has_text="3pl-outage")).to_have_count(1)
    expect(names.filter(has_text="restart-under-peak")).to_have_count(0)
    page.get_by_test_id("scenario-mode").select_option("live")
    expect(names.filter(has_text="restart-under-peak")).to_have_count(1)
    page.get_by_test_id("scenario-mode").select_option("offline")

    spec = tmp_path / "browser-fork.yaml"
    spec.write_text(FORK_SPEC)
    page.get_by_test_id("scenario-file").set_input_files(str(spec))
    page.get_by_test_id("scenario-from-live").check()
    page.get_by_test_id("scenario-replications").fill("2")
    page.get_by_test_id("scenario-run").click()
    expect(page.get_by_test_id("scenario-status")).to_contain_text("from the live twin now")

    report = page.get_by_test_id("scenario-report")
    expect(report).to_be_visible(timeout=120_000)
    expect(report).to_contain_text("Opened from the live twin")
    # the offsets it read the stack's own positions topic to
    expect(report).to_contain_text(
        f"SKU-sites of twin.positions.v1{live_stack.topic_suffix} at offsets"
    )
    expect(report).to_contain_text("2 seeds")
    expect(report.locator("dd", has_text="worst").first).to_contain_text("[")  # an interval
    runs = page.get_by_test_id("scenario-runs").locator("li")
    expect(runs.first).to_contain_text("browser-fork")
    expect(runs.first).to_contain_text("from live \u00d72")
    expect(runs.first).to_have_attribute("data-status", "succeeded")
    page.close()


COMPARE_SPEC = """\
name: browser-compare
duration_hours: 1
network: {generate: {sites: 3, skus: 10, seed: 1}}
report: {controls: false}
faults: [{kind: batch_delay, delay_minutes: 45}]
"""


def test_an_architect_compares_a_scenario_with_and_without_its_faults(
    live_stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
    page.goto(f"{live_stack.url}/")
    _sign_in(page, live_stack, "architect")
    page.get_by_text("What-if scenarios").click()
    spec = tmp_path / "browser-compare.yaml"
    spec.write_text(COMPARE_SPEC)
    page.get_by_test_id("scenario-file").set_input_files(str(spec))
    page.get_by_test_id("scenario-compare").check()
    page.get_by_test_id("scenario-replications").fill("2")
    page.get_by_test_id("scenario-run").click()
    report = page.get_by_test_id("scenario-report")
    expect(report).to_be_visible(timeout=120_000)
    expect(report).to_contain_text("without faults vs with its faults")
    # both variants' figures and their difference, with an interval
    staleness = report.locator("div", has_text="staleness: p95 worst site s")
    expect(staleness.locator("dd")).to_contain_text("without faults")
    expect(staleness.locator("dd")).to_contain_text("with its faults")
    expect(staleness.locator("dd")).to_contain_text("difference")
    expect(staleness.locator("dd")).to_contain_text("[")
    page.close()
