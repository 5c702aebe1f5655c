"""Alert cases in the browser against the real stack: an operator acknowledges, assigns and
resolves a case on one API replica process, and a viewer's page on the stack's own API sees
each change live (the change travels over `twin.alert-cases.v1`); the viewer has no buttons."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from confluent_kafka import Producer
from playwright.sync_api import Browser, Locator, Page, expect

from cli.stack import Stack
from infra.kafka_clients import producer_config
from infra.topics import TWIN_ALERTS
from tests.api.procs import ApiProcess
from twin.wire import Alert

pytestmark = pytest.mark.e2e

LIVE_MS = 15_000
OPERATOR_TOKEN = f"operator-{uuid.uuid4().hex}"


@pytest.fixture
def second_replica(live_stack: Stack, tmp_path: Path) -> Iterator[str]:
    """Another API process on the same topics (the stack's own API is the first), which also
    knows an operator's token."""
    env = {
        **live_stack.env(),
        "TWIN_API_TOKENS": f"{live_stack.tokens_env()},{OPERATOR_TOKEN}:operator",
        "TWIN_API_TOPIC_SUFFIX": live_stack.topic_suffix,
        "TWIN_PURE": os.environ.get("TWIN_PURE", ""),
    }
    replica = ApiProcess(env, tmp_path)
    replica.start()
    try:
        yield replica.base_url
    finally:
        replica.stop()


def raise_alert(stack: Stack, site: str) -> str:
    alert_id = f"e2e-case-{uuid.uuid4().hex[:8]}"
    alert = Alert(
        id=alert_id,
        kind="LOW_STOCK",
        severity="critical",
        detected_at=datetime.now(UTC),
        explanation="ATP 2 at the site is below its reorder point 10.",
        sku="SKU-00001",
        site=site,
    )
    producer = Producer(producer_config(stack.bootstrap))
    producer.produce(
        TWIN_ALERTS + stack.topic_suffix, key=b"SKU-00001", value=msgspec.json.encode(alert)
    )
    producer.flush(10)
    return alert_id


def open_cases(page: Page, url: str, token: str, site: str, alert_id: str) -> Locator:
    """Sign in and show every case of `site` (any state), returning the alert's row."""
    page.goto(f"{url}/")
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("sign-in-button").click()
    page.get_by_test_id("case-state-filter").select_option("all")
    page.get_by_test_id("case-site-filter").fill(site)
    page.get_by_test_id("case-site-filter").dispatch_event("change")
    row = page.locator(f'[data-testid="alert-item"][data-alert-id="{alert_id}"]')
    expect(row).to_have_count(1, timeout=LIVE_MS)
    return row


def test_an_operator_works_a_case_and_another_replica_sees_each_step_live(
    live_stack: Stack, second_replica: str, browser: Browser
) -> None:
    site = f"E2E-{uuid.uuid4().hex[:6]}"
    alert_id = raise_alert(live_stack, site)
    operator_page, viewer_page = browser.new_page(), browser.new_page()
    try:
        mine = open_cases(operator_page, second_replica, OPERATOR_TOKEN, site, alert_id)
        theirs = open_cases(
            viewer_page, live_stack.url, live_stack.tokens["viewer"], site, alert_id
        )
        expect(theirs.get_by_test_id("case-state")).to_have_text("Open")
        expect(theirs.get_by_test_id("case-acknowledge")).to_have_count(0)  # viewers only read

        mine.get_by_test_id("case-acknowledge").click()
        expect(theirs.get_by_test_id("case-state")).to_have_text("Acknowledged", timeout=LIVE_MS)

        mine.get_by_test_id("case-input").fill("Dana Ortiz")
        mine.get_by_test_id("case-assign").click()
        expect(theirs.get_by_test_id("case-assignee")).to_have_text(
            "assigned to Dana Ortiz", timeout=LIVE_MS
        )

        mine.get_by_test_id("case-input").fill("recounted, stock is right")
        mine.get_by_test_id("case-resolve").click()
        expect(theirs.get_by_test_id("case-state")).to_have_text("Resolved", timeout=LIVE_MS)
        expect(mine.get_by_test_id("case-reopen")).to_be_visible()

        theirs.locator("details summary").click()
        trail = theirs.get_by_test_id("case-trail")
        expect(trail.locator("li")).to_have_count(3, timeout=LIVE_MS)
        expect(trail).to_contain_text("recounted, stock is right")
    finally:
        operator_page.close()
        viewer_page.close()
