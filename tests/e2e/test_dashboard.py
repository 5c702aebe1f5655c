"""The dashboard in a real headless Chromium against the real stack (Kafka, both flows, API).

An operator signs in, sees every site of the master data, finds a SKU, and watches an event
posted through the ingest API change that SKU's buckets on the page without a reload; the
LOW_STOCK alert it causes appears in the feed with its recommendation. Every wait is an
assertion with a timeout, never a sleep.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
import pytest
from playwright.sync_api import Browser, Page, expect

from cli.stack import REPO_ROOT, Stack
from twin.events import EventType, InventoryEvent
from twin.masterdata import load_master_data

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

# A count well above target, then a reservation that leaves ATP at half the reorder point:
# a real shortage at a site whose feed is fresh (figures from examples/network.yaml).
SKU, SITE = "SKU-00002", "WH-01"
MASTER = load_master_data(REPO_ROOT / "examples" / "network.yaml")
_POLICY = next(s for s in MASTER.skus if s.id == SKU)
COUNT = max(1000, 2 * _POLICY.target[SITE])
LOW_ATP = _POLICY.reorder_point[SITE] // 2
RESERVE = COUNT - LOW_ATP
PIPELINE_TIMEOUT_MS = 30_000


def post_event(stack: Stack, event_type: EventType, qty: int, sku: str = SKU) -> str:
    now = datetime.now(UTC)
    event = InventoryEvent(
        event_id=f"e2e-{uuid.uuid4().hex}",
        type=event_type,
        sku=sku,
        site=SITE,
        qty=qty,
        uom="each",
        occurred_at=now,
        recorded_at=now,
        source=f"wms-api:{SITE}",
    )
    response = httpx.post(
        f"{stack.url}/v1/events",
        content=msgspec.json.encode(event),
        headers={
            "Authorization": f"Bearer {stack.tokens['ingest']}",
            "Content-Type": "application/json",
            "Idempotency-Key": event.event_id,
        },
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return event.event_id


def wait_for_sku(stack: Stack, sku: str = SKU) -> None:
    """Poll the REST view (with a deadline) until the twin has published the SKU."""
    headers = {"Authorization": f"Bearer {stack.tokens['viewer']}"}
    deadline = time.monotonic() + PIPELINE_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        response = httpx.get(f"{stack.url}/v1/skus/{sku}", headers=headers, timeout=5)
        if response.status_code == 200:
            return
        time.sleep(0.2)  # poll interval
    pytest.fail(f"{sku} never became visible through the API")


def sign_in(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.url}/")
    page.get_by_test_id("token-input").fill(stack.tokens["viewer"])
    page.get_by_test_id("sign-in-button").click()
    expect(page.get_by_test_id("conn-status")).to_have_text("live", timeout=15_000)


def test_operator_sees_sites_searches_a_sku_and_watches_it_change_live(
    live_stack: Stack, browser: Browser, artifacts: Path
) -> None:
    post_event(live_stack, EventType.COUNTED, COUNT)
    wait_for_sku(live_stack)

    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_stack)

    for site in MASTER.sites:
        expect(page.get_by_test_id(f"site-row-{site.id}")).to_contain_text(site.name)

    page.get_by_test_id("sku-search").fill("SKU-0000")
    page.get_by_test_id(f"sku-result-{SKU}").click()
    expect(page.get_by_test_id("sku-name")).to_have_text(SKU)
    expect(page.get_by_test_id(f"sku-on_hand-{SITE}")).to_have_text(f"{COUNT:,}")
    expect(page.get_by_test_id(f"sku-atp-{SITE}")).to_have_text(f"{COUNT:,}")

    post_event(live_stack, EventType.RESERVED, RESERVE)
    # No reload: the change arrives over WS /v1/stream.
    expect(page.get_by_test_id(f"sku-reserved-{SITE}")).to_have_text(
        f"{RESERVE:,}", timeout=PIPELINE_TIMEOUT_MS
    )
    expect(page.get_by_test_id(f"sku-atp-{SITE}")).to_have_text(f"{LOW_ATP:,}")
    expect(page.get_by_test_id("sku-net-atp")).to_have_text(f"{LOW_ATP:,}")

    # Site metrics stream in: WH-01's event-to-visible latency is charted and tabulated.
    expect(page.get_by_test_id("latency-chart")).to_have_attribute(
        "data-series", re.compile(SITE), timeout=PIPELINE_TIMEOUT_MS
    )
    expect(page.get_by_test_id(f"site-latency-{SITE}")).to_have_text(re.compile(r"\d+ (ms|s)"))

    alert = page.locator(f'[data-testid="alert-item"][data-kind="LOW_STOCK"][data-sku="{SKU}"]')
    expect(alert).to_be_visible(timeout=PIPELINE_TIMEOUT_MS)
    expect(alert.get_by_test_id("alert-kind")).to_have_text("Low stock")
    expect(alert.get_by_test_id("alert-recommendation")).to_contain_text("Recommendation")

    # Another SKU: the page re-subscribes its stream, and follows the new SKU live.
    other = "SKU-00003"
    post_event(live_stack, EventType.COUNTED, 50, sku=other)
    wait_for_sku(live_stack, other)
    page.get_by_test_id("sku-search").fill(other)
    page.get_by_test_id("sku-search").press("Enter")
    expect(page.get_by_test_id("sku-name")).to_have_text(other)
    expect(page.get_by_test_id(f"sku-on_hand-{SITE}")).to_have_text("50")
    post_event(live_stack, EventType.RESERVED, 5, sku=other)
    expect(page.get_by_test_id(f"sku-reserved-{SITE}")).to_have_text(
        "5", timeout=PIPELINE_TIMEOUT_MS
    )

    shot = artifacts / "dashboard-e2e.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    assert not errors, f"page errors: {errors}"
    page.close()


def test_a_wrong_token_is_refused_with_a_message(live_stack: Stack, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
    page.goto(f"{live_stack.url}/")
    page.get_by_test_id("token-input").fill("not-a-token")
    page.get_by_test_id("sign-in-button").click()
    expect(page.get_by_test_id("sign-in-error")).to_have_text("That token is not valid.")
    expect(page.get_by_test_id("dashboard")).to_be_hidden()
    page.close()


SMALL_SCENARIO = """\
description: A two-hour day on a small network, uploaded by the browser test.
seed: 3
duration_hours: 2
network:
  generate: {sites: 3, skus: 20, seed: 1}
demand:
  orders_per_sku_site_per_day: 10
"""


def test_architect_uploads_a_scenario_runs_it_and_reads_its_report_and_plots(
    live_stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    spec = tmp_path / "small-day.yaml"
    spec.write_text(SMALL_SCENARIO)
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
    page.goto(f"{live_stack.url}/")
    page.get_by_test_id("token-input").fill(live_stack.tokens["architect"])
    page.get_by_test_id("sign-in-button").click()
    page.get_by_text("What-if scenarios").click()
    # The library comes from the API; the reference run is preselected.
    expect(page.get_by_test_id("scenario-name")).to_have_value("baseline")
    expect(page.get_by_test_id("scenario-name").locator("option")).not_to_have_count(1)
    page.get_by_test_id("scenario-file").set_input_files(str(spec))
    page.get_by_test_id("scenario-mode").select_option("offline")
    page.get_by_test_id("scenario-run").click()
    expect(page.get_by_test_id("scenario-status")).to_contain_text("small-day.yaml")

    report = page.get_by_test_id("scenario-report")
    expect(report).to_be_visible(timeout=120_000)
    expect(page.get_by_test_id("scenario-status")).to_contain_text("finished")
    expect(report).to_contain_text("Final accuracy")
    expect(report.locator("#report-sites li")).to_have_count(3)  # one per site of the spec
    plots = report.locator("img")
    expect(plots).not_to_have_count(0)
    page.wait_for_function(
        "[...document.querySelectorAll('#report-plots img')].every(i => i.naturalWidth > 0)",
        timeout=20_000,
    )
    page.close()
