"""The dashboard's own behaviour in headless Chromium, against a small fake of the API.

These pin what the page must tell an operator whatever the twin computes: a LOW_STOCK and a
SUSPECTED_SYNC_GAP are labelled differently, a stale site says so, a recommendation is shown,
and an unknown token is refused. The real-stack test (test_dashboard.py) covers the pipeline.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from cli.stack import free_port
from tests.e2e.fake_api import create_fake_app

pytestmark = pytest.mark.e2e

TOKENS = {"viewer-token": "viewer"}


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_fake_app(TOKENS), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline_polls = 200
    while not server.started and deadline_polls:
        thread.join(0.05)  # poll the server's start flag, bounded
        deadline_polls -= 1
    assert server.started, "fake API did not start"
    yield url
    server.should_exit = True
    server.force_exit = True  # do not wait for the page's idle WebSockets
    thread.join(10)


@pytest.fixture
def page(browser: Browser, fake_url: str) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
    page.goto(f"{fake_url}/")
    page.get_by_test_id("token-input").fill("viewer-token")
    page.get_by_test_id("sign-in-button").click()
    expect(page.get_by_test_id("conn-status")).to_have_text("live")
    yield page
    page.close()


def raise_alert(url: str, **alert: object) -> None:
    base = {"severity": "warning", "detected_at": "2026-11-27T00:01:00Z", "explanation": "x"}
    httpx.post(f"{url}/fake/alerts", json={**base, **alert}, timeout=5).raise_for_status()


def test_shortage_and_sync_gap_are_told_apart(page: Page, fake_url: str) -> None:
    raise_alert(
        fake_url,
        id="low-1",
        kind="LOW_STOCK",
        sku="SKU-00004",
        site="WH-01",
        explanation="ATP 4 at WH-01 is below its reorder point 20.",
        recommendation={
            "action": "transfer",
            "from_site": "WH-02",
            "to_site": "WH-01",
            "qty": 40,
            "value": 320.0,
            "needs_approval": True,
        },
    )
    raise_alert(
        fake_url,
        id="gap-1",
        kind="SUSPECTED_SYNC_GAP",
        sku="SKU-00007",
        site="3PL-ACME",
        explanation="ATP 3 is low but the feed is 45 min overdue.",
    )
    low = page.locator('[data-testid="alert-item"][data-kind="LOW_STOCK"]')
    gap = page.locator('[data-testid="alert-item"][data-kind="SUSPECTED_SYNC_GAP"]')
    expect(low.get_by_test_id("alert-kind")).to_have_text("Low stock")
    expect(gap.get_by_test_id("alert-kind")).to_have_text("Suspected sync gap")
    expect(low).to_contain_text("real shortage")
    expect(gap).to_contain_text("check the integration, not the shelf")
    expect(low.get_by_test_id("alert-recommendation")).to_contain_text(
        "Transfer 40 from WH-02 to WH-01"
    )
    expect(low.get_by_test_id("alert-recommendation")).to_contain_text("needs approval")
    expect(gap.get_by_test_id("alert-recommendation")).to_have_count(0)
    expect(low).to_have_class("alert kind-shortage")
    expect(gap).to_have_class("alert kind-sync-gap")
    expect(page.get_by_test_id("alert-count")).to_have_text("2")

    raise_alert(fake_url, id="low-1", kind="LOW_STOCK", state="cleared", sku="SKU-00004")
    expect(low).to_have_count(0)
    expect(page.get_by_test_id("alert-count")).to_have_text("1")


def test_site_rows_show_the_transfer_cycle_time_where_transfers_arrive(
    page: Page, fake_url: str
) -> None:
    # the fake API reports WH-02's transfers taking 93,600 s; WH-01 has received none, which
    # the page says, with what the figure would be
    expect(page.get_by_test_id("site-transfer-WH-02")).to_have_text("26.0 h")
    expect(page.get_by_test_id("site-transfer-WH-01")).to_have_text("no data")
    expect(page.get_by_test_id("site-transfer-WH-01")).to_have_attribute(
        "title", re.compile("Median shipped-to-received time")
    )


def test_a_site_s_last_event_age_is_told_on_the_twin_s_clock(page: Page, fake_url: str) -> None:
    # the demo runs the twin on an accelerated clock, days ahead of the browser's: a metric
    # saying the twin's time is D and WH-01's last event was at D - 2 h reads "2 h ago"
    twin_now = datetime.now(UTC) + timedelta(days=3)
    metric = {
        "type": "site",
        "site": "WH-01",
        "as_of": twin_now.isoformat(),
        "fresh": True,
        "last_event_at": (twin_now - timedelta(hours=2)).isoformat(),
    }
    httpx.post(f"{fake_url}/fake/metrics", json=metric, timeout=5).raise_for_status()
    expect(page.get_by_test_id("site-row-WH-01")).to_contain_text("2 h ago")


def test_stale_site_is_labelled_and_a_posted_event_updates_the_sku(
    page: Page, fake_url: str
) -> None:
    expect(page.get_by_test_id("site-fresh-3PL-ACME")).to_have_text("⚠ Stale feed")
    expect(page.get_by_test_id("site-fresh-WH-01")).to_have_text("✓ Fresh")
    page.get_by_test_id("sku-search").fill("SKU-0001")
    page.get_by_test_id("sku-result-SKU-00012").click()
    expect(page.get_by_test_id("sku-on_hand-WH-01")).to_have_text("100")
    httpx.post(
        f"{fake_url}/v1/events",
        headers={"Authorization": "Bearer viewer-token"},
        json={"event_id": "p1", "type": "RECEIVED", "sku": "SKU-00012", "site": "WH-01", "qty": 25},
        timeout=5,
    ).raise_for_status()
    expect(page.get_by_test_id("sku-on_hand-WH-01")).to_have_text("125")
    expect(page.get_by_test_id("sku-net-on-hand")).to_have_text("325")


def test_the_page_reconnects_after_the_server_drops_its_streams(page: Page, fake_url: str) -> None:
    page.get_by_test_id("sku-search").fill("SKU-0002")
    page.get_by_test_id("sku-result-SKU-00021").click()
    expect(page.get_by_test_id("sku-on_hand-WH-02")).to_have_text("100")
    detail = page.get_by_test_id("sku-detail")
    expect(detail).to_have_attribute("data-snapshots", "1")
    httpx.post(f"{fake_url}/fake/drop", timeout=5).raise_for_status()
    expect(page.get_by_test_id("conn-status")).not_to_have_text("live")
    expect(page.get_by_test_id("conn-status")).to_have_text("live", timeout=15_000)
    # The SKU's stream is back once its new subscription has been answered with a snapshot.
    expect(detail).to_have_attribute("data-snapshots", "2", timeout=15_000)
    httpx.post(
        f"{fake_url}/v1/events",
        headers={"Authorization": "Bearer viewer-token"},
        json={"event_id": "r1", "type": "RECEIVED", "sku": "SKU-00021", "site": "WH-02", "qty": 7},
        timeout=5,
    ).raise_for_status()
    expect(page.get_by_test_id("sku-on_hand-WH-02")).to_have_text("107")


def listed(url: str, **params: str) -> list[str]:
    """Every SKU the listing holds for these filters, straight from the API."""
    response = httpx.get(
        f"{url}/v1/skus",
        params={**params, "limit": "1000"},
        headers={"Authorization": "Bearer viewer-token"},
        timeout=5,
    )
    response.raise_for_status()
    skus: list[str] = response.json()["skus"]
    return skus


def shown_results(page: Page) -> list[str]:
    ids: list[str] = (
        page.get_by_test_id("sku-results")
        .locator("button")
        .evaluate_all("buttons => buttons.map((b) => b.dataset.testid.replace('sku-result-', ''))")
    )
    return ids


def page_through_results(page: Page) -> list[str]:
    more = page.get_by_test_id("sku-more")
    for _ in range(20):
        if more.is_hidden():
            return shown_results(page)
        count = len(shown_results(page))
        more.click()
        expect(page.get_by_test_id("sku-results").locator("button")).not_to_have_count(count)
    raise AssertionError("the More button never went away")


def test_search_and_at_risk_skus_come_a_page_at_a_time(page: Page, fake_url: str) -> None:
    asked: list[str] = []
    page.on(
        "request", lambda request: asked.append(request.url) if "/v1/skus?" in request.url else None
    )
    page.get_by_test_id("sku-search").fill("SKU-0")
    expect(page.get_by_test_id("sku-results").locator("button")).to_have_count(12)
    expect(page.get_by_test_id("sku-more")).to_be_visible()
    assert page_through_results(page) == listed(fake_url, prefix="SKU-0")

    page.get_by_test_id("sku-search").fill("")
    expect(page.get_by_test_id("sku-results").locator("li")).to_have_count(0)  # search settled
    page.get_by_test_id("sku-at-risk").check()
    expect(page.get_by_test_id("sku-results").locator("button").first).to_contain_text("ATP")
    at_risk = listed(fake_url, at_risk="true")
    assert len(at_risk) > 12, "the fake should hold more than a page of at-risk SKUs"
    assert page_through_results(page) == at_risk

    assert asked and all("limit=12" in url for url in asked), "never the whole catalogue"
    page.get_by_test_id(f"sku-result-{at_risk[-1]}").click()
    expect(page.get_by_test_id("sku-name")).to_have_text(at_risk[-1])
    expect(page.get_by_test_id("sku-more")).to_be_hidden()
