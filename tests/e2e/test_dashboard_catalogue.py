"""The dashboard against the real API holding a catalogue far larger than a page.

20,000 SKUs at 3 sites: the page finds a SKU by prefix and pages through the at-risk ones,
and every request it makes for SKUs is one page (`limit`), so what it downloads stays a
small fraction of the catalogue however large it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Response, expect

from api.app import create_app
from api.feed import FakeFeed
from tests.api.conftest import TOKENS, make_settings
from tests.api.fakes import FakeProducer
from tests.api.uvicorn_server import serving
from twin.wire import NetworkTotals, Position, SitePosition

pytestmark = pytest.mark.e2e

SKUS = 20_000
SITES = ("WH-01", "WH-02", "WH-03")
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _position(n: int) -> Position:
    # one SKU in 40 at risk (ATP 0, no reorder point) at its first site
    return Position(
        sku=f"SKU-{n:06d}",
        version=1,
        as_of=T0,
        sites={
            site: SitePosition(
                on_hand=50, atp=0 if n % 40 == 0 and s == 0 else 50, last_event_at=T0
            )
            for s, site in enumerate(SITES)
        },
        network=NetworkTotals(on_hand=150, atp=150),
    )


@pytest.fixture
def catalogue_api(tmp_path: Path) -> Iterator[tuple[str, FastAPI]]:
    settings = make_settings(tmp_path)
    feed = FakeFeed()
    app = create_app(settings, feed=feed, producer=FakeProducer())
    with serving(app, settings) as port:
        feed.push(*(_position(n) for n in range(SKUS)))
        yield f"http://127.0.0.1:{port}", app


def test_the_dashboard_pages_a_large_catalogue_without_pulling_it(
    browser: Browser, catalogue_api: tuple[str, FastAPI]
) -> None:
    url, app = catalogue_api
    assert len(app.state.twin.view.positions) == SKUS
    listings: list[Response] = []
    page = browser.new_page()
    page.on("response", lambda r: listings.append(r) if "/v1/skus?" in r.url else None)
    try:
        page.goto(f"{url}/")
        page.get_by_test_id("token-input").fill(TOKENS["viewer"])
        page.get_by_test_id("sign-in-button").click()
        expect(page.get_by_test_id("conn-status")).to_have_text("live")

        page.get_by_test_id("sku-search").fill("SKU-01234")
        results = page.get_by_test_id("sku-results")
        expect(results).to_contain_text("SKU-012345")
        expect(results.locator("li")).to_have_count(10)  # SKU-012340 .. SKU-012349

        page.get_by_test_id("sku-search").fill("")
        page.get_by_test_id("sku-at-risk").check()
        expect(results).to_contain_text("SKU-000000")
        first_page = results.locator("li").count()
        assert 0 < first_page < SKUS // 40
        page.get_by_test_id("sku-more").click()
        expect(results.locator("li")).to_have_count(2 * first_page)
        expect(results).not_to_contain_text("SKU-000001")  # only at-risk ones
        sizes = [len(r.body()) for r in listings]  # read while the page is open
    finally:
        page.close()

    assert listings, "the page lists SKUs through GET /v1/skus"
    for response in listings:
        assert "limit=" in response.url and response.status == 200
    # a page is a page: a fraction of the catalogue each, and all of them together too
    catalogue_bytes = SKUS * sizes[-1] / first_page
    assert max(sizes) < 200_000
    assert sum(sizes) < catalogue_bytes / 20, (sizes, catalogue_bytes)
