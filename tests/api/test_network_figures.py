"""/v1/network never reports a default for "no data": an interval without events has no
latency (null, not 0 ms), and the last real figure is served beside it with its time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from tests.api.conftest import auth, make_settings
from tests.api.fakes import T0, FakeProducer, site_metric
from twin.wire import LatencyStats, SiteMetric


def quiet_interval(site: str, minutes_later: int) -> SiteMetric:
    """A reporting interval in which nothing arrived from `site`."""
    return SiteMetric(
        site=site, as_of=T0 + timedelta(minutes=minutes_later), visible_latency=LatencyStats()
    )


def sites_of(client: TestClient) -> dict[str, dict[str, object]]:
    body = client.get("/v1/network", headers=auth("viewer")).json()
    return {s["site"]: s for s in body["sites"]}


def test_an_interval_without_events_has_no_latency_not_zero(
    client: TestClient, feed: FakeFeed
) -> None:
    feed.push(site_metric("WH-01", p95_ms=65_000.0, transfer_cycle_s=7200.0))
    feed.push(quiet_interval("WH-01", minutes_later=1))
    site = sites_of(client)["WH-01"]
    assert site["visible_latency_p95_ms"] is None
    assert site["transfer_cycle_s_p50"] is None
    assert site["last_visible_latency_p95"] == {"value": 65_000.0, "as_of": "2026-11-26T10:00:00Z"}
    assert site["last_transfer_cycle_s_p50"] == {"value": 7200.0, "as_of": "2026-11-26T10:00:00Z"}


def test_a_site_never_heard_from_has_no_figures_at_all(client: TestClient, feed: FakeFeed) -> None:
    feed.push(quiet_interval("WH-09", minutes_later=0))
    site = sites_of(client)["WH-09"]
    assert site["visible_latency_p95_ms"] is None
    assert site["last_visible_latency_p95"] is None
    assert site["last_transfer_cycle_s_p50"] is None


def test_the_network_says_which_clock_its_times_are_on(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, clock_origin="2026-01-05T12:00:00Z", clock_speed=600.0)
    app = create_app(settings, feed=FakeFeed(), producer=FakeProducer())
    with TestClient(app) as client:
        body = client.get("/v1/network", headers=auth("viewer")).json()
    assert body["clock"] == {"simulated": True, "speed": 600.0}
