"""The dashboard against the real API app (with a fake feed: no Kafka needed).

The API closes a refused WebSocket with 4401 after the handshake; the page must then sign
out with a message, not reconnect for ever (refused at the handshake, an HTTP 403, a browser
only sees 1006 and cannot tell). An uploaded scenario the API refuses is answered with the
field and the reason, shown in the scenario panel.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from api.app import create_app
from api.feed import FakeFeed
from api.ws_limits import Refusal
from tests.api.conftest import TOKENS, make_settings
from tests.api.fakes import FakeProducer
from tests.api.uvicorn_server import serving

pytestmark = pytest.mark.e2e


@pytest.fixture
def real_api(tmp_path: Path) -> Iterator[tuple[str, FastAPI]]:
    settings = make_settings(tmp_path, ws_subscribe_wait_s=0.3)
    app = create_app(settings, feed=FakeFeed(), producer=FakeProducer())
    with serving(app, settings) as port:
        yield f"http://127.0.0.1:{port}", app


def sign_in(page: Page, url: str, token: str) -> None:
    page.goto(f"{url}/")
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("sign-in-button").click()


def revoke_every_token_and_drop_the_streams(app: FastAPI) -> None:
    """As an operator rotating tokens and restarting would: the page must reconnect."""
    twin = app.state.twin
    twin.tokens._tokens.clear()  # the book of a restarted API without the old tokens
    for conn in list(twin.broadcaster.connections.values()):
        assert conn.sender is not None
        loop = conn.sender.get_loop()
        loop.call_soon_threadsafe(
            twin.broadcaster.close, conn, Refusal(1012, "service restart", "restart")
        )


def test_a_token_refused_on_reconnect_signs_the_page_out(
    browser: Browser, real_api: tuple[str, FastAPI]
) -> None:
    url, app = real_api
    page = browser.new_page()
    try:
        sign_in(page, url, TOKENS["viewer"])
        expect(page.get_by_test_id("conn-status")).to_have_text("live")
        revoke_every_token_and_drop_the_streams(app)
        expect(page.locator("#sign-in")).to_be_visible(timeout=15_000)
        expect(page.locator("#sign-in-error")).to_contain_text("refused by the live stream")
        expect(page.get_by_test_id("conn-status")).to_have_text("offline")
    finally:
        page.close()


def test_a_token_without_the_viewer_role_is_told_so(
    browser: Browser, real_api: tuple[str, FastAPI]
) -> None:
    url, _ = real_api
    page = browser.new_page()
    try:
        sign_in(page, url, TOKENS["ingest"])
        expect(page.locator("#sign-in-error")).to_contain_text("viewer role")
    finally:
        page.close()


def test_an_uploaded_scenario_naming_a_file_is_refused_with_the_field(
    browser: Browser, real_api: tuple[str, FastAPI], tmp_path: Path
) -> None:
    url, app = real_api
    upload = tmp_path / "what-if.yaml"
    upload.write_text("duration_hours: 2\nnetwork:\n  path: /etc/passwd\n")
    page = browser.new_page()
    try:
        sign_in(page, url, TOKENS["architect"])
        expect(page.get_by_test_id("conn-status")).to_have_text("live")
        page.locator("#scenario-details summary").click()
        page.get_by_test_id("scenario-file").set_input_files(str(upload))
        page.get_by_test_id("scenario-run").click()
        status = page.get_by_test_id("scenario-status")
        expect(status).to_contain_text("422")
        expect(status).to_contain_text("spec.network.path")
        expect(status).not_to_contain_text("root:")
        assert app.state.twin.scenarios.runs == {}
    finally:
        page.close()
