"""Drill-down and history against the real stack (Kafka, both flows, `invtwin history`, API).

Events posted through the ingest API go through both flows; the history process stores them
and the positions; the ledger of the SKU-site adds up to the figures in its row of the
dashboard's table, and the SKU's history chart draws. Every wait is polled with a deadline.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from playwright.sync_api import Browser, expect

from cli.stack import Stack
from history.ledger import BUCKETS
from tests.e2e.test_dashboard import sign_in
from twin.events import EventType, InventoryEvent

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SKU, SITE = "SKU-00007", "WH-01"
TIMEOUT_S = 40.0
_POSITIVE = re.compile(r"^[1-9]\d*$")


def post(stack: Stack, event_type: EventType, qty: int, at: datetime) -> None:
    event = InventoryEvent(
        event_id=f"ledger-{uuid.uuid4().hex}",
        type=event_type,
        sku=SKU,
        site=SITE,
        qty=qty,
        uom="each",
        occurred_at=at,
        recorded_at=at,
        source=f"wms-api:{SITE}",
    )
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        response = httpx.post(
            f"{stack.url}/v1/events",
            content=msgspec.json.encode(event),
            headers={
                "Authorization": f"Bearer {stack.tokens['ingest']}",
                "Content-Type": "application/json",
            },
            timeout=15,
        )
        # a 503 may have written it: the contract's answer is a retry with the same id
        if response.status_code != 503 or time.monotonic() > deadline:
            break
    assert response.status_code == 202, response.text


def newest_event(stack: Stack) -> datetime:
    """The newest event time the twin holds for the SKU-site (the epoch if none)."""
    headers = {"Authorization": f"Bearer {stack.tokens['viewer']}"}
    response = httpx.get(f"{stack.url}/v1/skus/{SKU}", headers=headers, timeout=10)
    site = response.json().get("sites", {}).get(SITE, {}) if response.status_code == 200 else {}
    last = site.get("last_event_at")
    return datetime.fromisoformat(last) if last else datetime(2000, 1, 1, tzinfo=UTC)


def ledger_once_explained(stack: Stack, reserved: int) -> dict[str, Any]:
    """The ledger, polled until it explains a position that holds the last event."""
    headers = {"Authorization": f"Bearer {stack.tokens['viewer']}"}
    deadline = time.monotonic() + TIMEOUT_S
    last = None
    while time.monotonic() < deadline:
        response = httpx.get(f"{stack.url}/v1/skus/{SKU}/sites/{SITE}/ledger", headers=headers)
        if response.status_code == 200:
            last = response.json()
            if last["explained"] and last["position"]["reserved"] == reserved:
                return dict(last)
        time.sleep(0.2)  # poll interval
    pytest.fail(f"the ledger never explained the position; last answer: {last}")


def test_the_ledger_adds_up_to_the_row_and_the_history_chart_draws(
    live_stack: Stack, browser: Browser
) -> None:
    # After anything the shared stack already holds for this SKU-site (a live scenario run by
    # another test writes simulated times ahead of the wall clock), so this count is its latest
    start = max(datetime.now(UTC) - timedelta(minutes=5), newest_event(live_stack))
    post(live_stack, EventType.RECEIVED, 50, start + timedelta(minutes=1))
    post(live_stack, EventType.PUT_AWAY, 50, start + timedelta(minutes=2))
    post(live_stack, EventType.COUNTED, 400, start + timedelta(minutes=3))
    post(live_stack, EventType.RESERVED, 12, start + timedelta(minutes=4))
    ledger = ledger_once_explained(live_stack, reserved=12)
    assert ledger["totals"] == ledger["position"]
    assert ledger["count"]["type"] == "COUNTED"
    assert [e["type"] for e in ledger["entries"]] == ["RESERVED"]

    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        sign_in(page, live_stack)
        page.get_by_test_id("sku-search").fill(SKU)
        page.get_by_test_id(f"sku-result-{SKU}").click()
        expect(page.get_by_test_id(f"sku-reserved-{SITE}")).to_have_text("12")
        page.get_by_test_id(f"sku-ledger-{SITE}").click()
        table = page.get_by_test_id("ledger-table")
        expect(table).to_be_visible()
        for bucket in BUCKETS:
            row_cell = page.get_by_test_id(f"sku-{bucket}-{SITE}")
            total = table.locator(f'tr[data-row="total"] td[data-bucket="{bucket}"]')
            expect(total).to_have_text(row_cell.inner_text())
        count = table.locator('tr[data-row="count"]')
        expect(count).to_contain_text("COUNTED 400")
        counted = ledger["count"]["effect"]["on_hand"]  # 400 less what the book held before
        shown = f"+{counted:,}" if counted > 0 else f"\u2212{-counted:,}" if counted else ""
        expect(count.locator('td[data-bucket="on_hand"]')).to_have_text(shown)
        chart = page.get_by_test_id("history-chart")
        expect(chart).to_have_attribute("data-points", _POSITIVE, timeout=TIMEOUT_S * 1000)
        assert not errors, errors
    finally:
        page.close()
