"""Honest figures in headless Chromium against the real API app (a fake feed, no Kafka): a
site with no events reads "no data", never "0 ms"; a real figure survives the polls and the
quiet intervals that follow it; the page states the clock its times are on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from api.app import create_app
from api.feed import FakeFeed
from tests.api.conftest import TOKENS, make_settings
from tests.api.fakes import FakeProducer, position
from tests.api.uvicorn_server import serving
from twin.wire import LatencyStats, SiteMetric

pytestmark = pytest.mark.e2e

SPEED = 600.0


@pytest.fixture
def simulated_api(tmp_path: Path) -> Iterator[tuple[str, FakeFeed, datetime]]:
    """The API on the demo's clock: 600 simulated seconds per wall second."""
    origin = datetime.now(UTC) - timedelta(seconds=60)  # ten simulated hours ahead already
    settings = make_settings(tmp_path, clock_origin=origin, clock_speed=SPEED)
    feed = FakeFeed()
    app = create_app(settings, feed=feed, producer=FakeProducer())
    with serving(app, settings) as port:
        yield f"http://127.0.0.1:{port}", feed, settings.domain_clock()()


def interval(site: str, as_of: datetime, p95_ms: float | None) -> SiteMetric:
    """A site's reporting interval: with events (a p95) or without any (None)."""
    latency = LatencyStats() if p95_ms is None else LatencyStats(count=40, p95_ms=p95_ms)
    return SiteMetric(
        site=site,
        as_of=as_of,
        events=0 if p95_ms is None else 40,
        visible_latency=latency,
        last_event_at=as_of - timedelta(minutes=3) if p95_ms is not None else None,
    )


def signed_in(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
    page.goto(f"{url}/")
    page.get_by_test_id("token-input").fill(TOKENS["viewer"])
    page.get_by_test_id("sign-in-button").click()
    expect(page.get_by_test_id("conn-status")).to_have_text("live")
    return page


def test_a_site_without_events_reads_no_data_and_a_real_figure_outlives_quiet_polls(
    browser: Browser, simulated_api: tuple[str, FakeFeed, datetime]
) -> None:
    url, feed, now = simulated_api
    feed.push(
        position("SKU-1", 1, site="WH-01"),
        interval("WH-01", now - timedelta(minutes=10), p95_ms=65_000.0),
        interval("WH-01", now - timedelta(minutes=5), p95_ms=None),  # quiet since
        interval("WH-09", now - timedelta(minutes=5), p95_ms=None),  # never an event
    )
    page = signed_in(browser, url)
    try:
        quiet = page.get_by_test_id("site-latency-WH-09")
        expect(quiet).to_have_text("no data")
        expect(quiet).to_have_attribute("title", re.compile("95th percentile"))
        figure = page.get_by_test_id("site-latency-WH-01")
        expect(figure).to_have_text("65 s")
        # a poll whose interval had no event, then a quiet interval on the stream: still 65 s
        with page.expect_response(re.compile(r"/v1/network$")):
            pass
        feed.push(interval("WH-01", now, p95_ms=None))
        expect(page.get_by_test_id("site-row-WH-01")).to_be_visible()
        expect(figure).to_have_text("65 s")
        expect(figure).to_have_attribute("title", re.compile("none in the intervals since"))
        expect(page.get_by_test_id("site-row-WH-01")).to_contain_text("last event")

        # one clock, stated: the demo's simulated time, not the browser's
        note = page.get_by_test_id("page-clock")
        expect(note).to_contain_text("Simulated clock")
        expect(note).to_contain_text("600\u00d7 the wall clock")
        expect(note).to_have_attribute("data-clock", "simulated")
    finally:
        page.close()
