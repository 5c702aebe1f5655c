"""REST over the materialized view, through the app factory with a fake feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from tests.api.conftest import auth, make_settings
from tests.api.fakes import FakeProducer, alert, position, site_metric


def test_sku_position_is_served_as_the_feed_wrote_it(client: TestClient, feed: FakeFeed) -> None:
    feed.push(position("SKU-1", 3, on_hand=120, atp=75))
    response = client.get("/v1/skus/SKU-1", headers=auth("viewer"))
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 3
    assert body["sites"]["WH-01"]["on_hand"] == 120
    assert body["sites"]["WH-01"]["atp"] == 75
    assert body["network"] == {"on_hand": 120, "atp": 75, "in_transit": 0}


def test_an_older_version_never_replaces_a_newer_one(client: TestClient, feed: FakeFeed) -> None:
    feed.push(position("SKU-1", 5, on_hand=50), position("SKU-1", 4, on_hand=40))
    assert client.get("/v1/skus/SKU-1", headers=auth("viewer")).json()["version"] == 5


def test_unknown_sku_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/skus/NOPE", headers=auth("viewer"))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


def test_sku_search_by_prefix(client: TestClient, feed: FakeFeed) -> None:
    feed.push(position("SKU-10", 1), position("SKU-11", 1), position("ABC-1", 1))
    response = client.get(
        "/v1/skus", params={"prefix": "SKU-1", "limit": 10}, headers=auth("viewer")
    )
    body = response.json()
    assert body["skus"] == ["SKU-10", "SKU-11"]
    assert [p["sku"] for p in body["positions"]] == ["SKU-10", "SKU-11"]
    assert body["next_cursor"] is None


def test_network_sums_positions_and_counts_open_alerts(client: TestClient, feed: FakeFeed) -> None:
    feed.push(
        position("SKU-1", 1, on_hand=10, atp=5),
        position("SKU-2", 1, site="WH-02", on_hand=20, atp=-3),
        alert("a1", kind="LOW_STOCK"),
        alert("a2", kind="OVER_ALLOCATION", sku="SKU-2", site="WH-02"),
        alert("a1", state="cleared"),
        site_metric("WH-02", fresh=False, p95_ms=900.0, transfer_cycle_s=93_600.0),
    )
    body = client.get("/v1/network", headers=auth("viewer")).json()
    assert body["totals"] == {"on_hand": 30, "atp": 2, "in_transit": 0, "skus": 2}
    assert body["open_alerts"] == {"OVER_ALLOCATION": 1}
    sites = {s["site"]: s for s in body["sites"]}
    assert sites["WH-02"]["fresh"] is False
    assert sites["WH-02"]["visible_latency_p95_ms"] == 900.0
    assert sites["WH-02"]["transfer_cycle_s_p50"] == 93_600.0
    assert sites["WH-01"]["transfer_cycle_s_p50"] is None
    assert sites["WH-02"]["skus_at_risk"] == 1
    assert sites["WH-01"]["skus_at_risk"] == 0


def test_site_summary_lists_skus_at_risk(client: TestClient, feed: FakeFeed) -> None:
    feed.push(position("SKU-1", 1, atp=0), position("SKU-2", 1, atp=8), site_metric("WH-01"))
    body = client.get("/v1/sites/WH-01", headers=auth("viewer")).json()
    assert body["skus_at_risk"] == [{"sku": "SKU-1", "atp": 0, "reorder_point": 0}]
    assert body["metrics"]["site"] == "WH-01"
    assert client.get("/v1/sites/NOWHERE", headers=auth("viewer")).status_code == 404


def test_alerts_filter_by_site_kind_and_state(client: TestClient, feed: FakeFeed) -> None:
    feed.push(
        alert("a1", site="WH-01"),
        alert("a2", site="WH-02", kind="STALE_FEED"),
        alert("a3", site="WH-02"),
        alert("a3", site="WH-02", state="cleared"),
    )
    get = lambda **p: client.get("/v1/alerts", params=p, headers=auth("viewer")).json()  # noqa: E731
    assert [a["id"] for a in get(site="WH-02")["alerts"]] == ["a2"]
    assert [a["id"] for a in get(kind="LOW_STOCK")["alerts"]] == ["a1"]
    assert [a["id"] for a in get(state="cleared")["alerts"]] == ["a3"]


def test_site_metrics_keep_the_latest_per_site(client: TestClient, feed: FakeFeed) -> None:
    feed.push(site_metric("WH-01"), site_metric("WH-02"))
    body = client.get("/v1/metrics/sites", headers=auth("viewer")).json()
    assert [m["site"] for m in body["sites"]] == ["WH-01", "WH-02"]


def test_readyz_follows_the_feed(client: TestClient, feed: FakeFeed) -> None:
    feed.set_ready(False)
    assert client.get("/readyz").status_code == 503
    feed.set_ready(True)
    assert client.get("/readyz").json()["ready"] is True
    assert client.get("/healthz").json() == {"status": "ok"}


def test_metrics_endpoint_exposes_the_service_metrics(client: TestClient) -> None:
    text = client.get("/metrics").text
    for name in (
        "invtwin_ws_clients",
        "invtwin_ingest_events_total",
        "invtwin_view_lag_seconds",
        "invtwin_fanout_seconds",
        "invtwin_fanout_lag_seconds",
        "invtwin_scenario_runs",
    ):
        assert name in text


def test_dashboard_page_is_served_at_the_root(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "<html" in response.text.lower()


def test_network_is_dated_on_the_stack_s_domain_clock(tmp_path: Path) -> None:
    # the demo runs every part on one accelerated clock (TWIN_CLOCK_*): an hour of wall time
    # at 600x is 25 simulated days, and the API dates its own answers on that clock too
    origin = datetime.now(UTC) - timedelta(hours=1)
    settings = make_settings(tmp_path, clock_origin=origin, clock_speed=600.0)
    with TestClient(create_app(settings, feed=FakeFeed(), producer=FakeProducer())) as client:
        body = client.get("/v1/network", headers=auth("viewer")).json()
    as_of = datetime.fromisoformat(body["as_of"].replace("Z", "+00:00"))
    assert as_of - origin > timedelta(days=24)
