"""Listing positions: filters, cursor paging under concurrent updates, CSV, size."""

from __future__ import annotations

import csv
import io
import random
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.feed import FakeFeed
from api.sorted_ids import SortedIds
from api.view import Catalog, PositionFilter, TwinView, decode_cursor, encode_cursor
from tests.api.conftest import auth
from tests.api.fakes import T0, alert
from twin.wire import NetworkTotals, Position, SitePosition

SITES = ("WH-01", "WH-02", "WH-03")


def make_position(sku: str, version: int, sites: dict[str, tuple[int, bool]]) -> Position:
    """`sites`: site -> (atp, fresh)."""
    return Position(
        sku=sku,
        version=version,
        as_of=T0 + timedelta(seconds=version),
        sites={
            site: SitePosition(
                on_hand=max(atp, 0) + 5, reserved=5, atp=atp, fresh=fresh, last_event_at=T0
            )
            for site, (atp, fresh) in sites.items()
        },
        network=NetworkTotals(),
    )


def random_sites(rng: random.Random) -> dict[str, tuple[int, bool]]:
    chosen = rng.sample(SITES, rng.randint(1, len(SITES)))
    return {site: (rng.randint(-5, 40), rng.random() > 0.1) for site in chosen}


def build_view(count: int = 300, seed: int = 7) -> TwinView:
    rng = random.Random(seed)
    skus = [f"SKU-{i:04d}" for i in range(count)] + [f"ABC-{i:03d}" for i in range(count // 10)]
    rng.shuffle(skus)  # the topic delivers in hash order, not sorted
    catalog = Catalog(
        reorder_points={(sku, site): rng.randint(0, 20) for sku in skus for site in SITES}
    )
    view = TwinView(catalog)
    for sku in skus:
        view.apply_position(make_position(sku, 1, random_sites(rng)))
    for n in range(40):
        sku = rng.choice(skus)
        kind = rng.choice(["LOW_STOCK", "OVER_ALLOCATION"])
        view.apply_alert(alert(f"a{n}", sku=sku, site=rng.choice(SITES), kind=kind))
    for n in range(0, 40, 3):  # some cleared again
        view.apply_alert(alert(f"a{n}", state="cleared"))
    return view


def expected(view: TwinView, where: PositionFilter) -> list[str]:
    """The filter's meaning, by brute force over every position."""

    def risky(sku: str, site: str) -> bool:
        at = view.positions[sku].sites[site]
        return at.atp <= view.catalog.reorder_points.get((sku, site), 0)

    def stale(sku: str, site: str) -> bool:
        return not view.positions[sku].sites[site].fresh

    def flag(pred: Callable[[str, str], bool], sku: str) -> bool:
        sites = [where.site] if where.site else list(view.positions[sku].sites)
        return any(pred(sku, s) for s in sites)

    out = []
    for sku, pos in view.positions.items():
        if not sku.startswith(where.prefix):
            continue
        if where.site is not None and where.site not in pos.sites:
            continue
        if where.at_risk is not None and flag(risky, sku) != where.at_risk:
            continue
        if where.stale is not None and flag(stale, sku) != where.stale:
            continue
        if where.alert_kind is not None and not any(
            a.sku == sku and a.kind == where.alert_kind and where.site in (None, a.site)
            for a in view.open_alerts.values()
        ):
            continue
        out.append(sku)
    return sorted(out)


def page_through(
    view: TwinView,
    where: PositionFilter,
    limit: int,
    between: Callable[[int], None] | None = None,
    max_scan: int = 0,
) -> list[str]:
    seen: list[str] = []
    cursor = None
    for n in range(10_000):
        page = view.list_positions(where, limit=limit, cursor=cursor, max_scan=max_scan)
        assert len(page.positions) <= limit
        seen.extend(p.sku for p in page.positions)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor
        if between is not None:
            between(n)
    raise AssertionError("the listing never ended")


FILTERS = [
    PositionFilter(),
    PositionFilter(prefix="SKU-01"),
    PositionFilter(prefix="ABC"),
    PositionFilter(prefix="NOPE"),
    PositionFilter(site="WH-02"),
    PositionFilter(site="WH-99"),
    PositionFilter(at_risk=True),
    PositionFilter(at_risk=False),
    PositionFilter(stale=True),
    PositionFilter(stale=False),
    PositionFilter(alert_kind="LOW_STOCK"),
    PositionFilter(alert_kind="ANOMALY"),
    PositionFilter(site="WH-01", at_risk=True),
    PositionFilter(site="WH-03", stale=True),
    PositionFilter(site="WH-02", alert_kind="OVER_ALLOCATION"),
    PositionFilter(prefix="SKU-02", at_risk=True, stale=False),
    PositionFilter(at_risk=True, alert_kind="LOW_STOCK"),
]


@pytest.mark.parametrize("where", FILTERS, ids=repr)
def test_each_filter_returns_exactly_the_matching_skus(where: PositionFilter) -> None:
    view = build_view()
    want = expected(view, where)
    assert page_through(view, where, limit=7) == want
    assert [p.sku for p in view.list_positions(where, limit=1000).positions] == want
    if where.prefix != "NOPE" and where.site != "WH-99" and where.alert_kind != "ANOMALY":
        assert want, "the fixture should give every filter something to find"


@pytest.mark.parametrize("where", FILTERS[:8], ids=repr)
def test_a_short_scan_budget_only_splits_pages_never_loses_skus(where: PositionFilter) -> None:
    view = build_view()
    assert page_through(view, where, limit=5, max_scan=3) == expected(view, where)


def test_paging_under_updates_returns_each_sku_once_in_order() -> None:
    view = build_view()
    rng = random.Random(11)
    before = sorted(view.positions)
    added: list[str] = []
    version = 2

    def churn(_: int) -> None:
        nonlocal version
        version += 1
        for sku in rng.sample(sorted(view.positions), 30):  # new versions of existing SKUs
            view.apply_position(make_position(sku, version, random_sites(rng)))
        for _n in range(3):  # and new SKUs, anywhere in the order
            sku = f"SKU-{rng.randint(0, 999):04d}x"
            if sku not in view.positions:
                added.append(sku)
                view.apply_position(make_position(sku, 1, random_sites(rng)))

    seen = page_through(view, PositionFilter(), limit=13, between=churn)
    assert seen == sorted(set(seen)), "ascending, each SKU once"
    assert set(before) <= set(seen), "no SKU present throughout is lost"
    assert set(seen) <= set(before) | set(added)

    at_risk_seen = page_through(view, PositionFilter(at_risk=True), limit=4, between=churn)
    assert at_risk_seen == sorted(set(at_risk_seen))
    for where in FILTERS:  # the indexes followed every update
        assert page_through(view, where, limit=9) == expected(view, where), where


def test_a_changed_reorder_point_moves_the_sku_in_and_out_of_at_risk() -> None:
    view = TwinView(Catalog(reorder_points={("S1", "WH-01"): 0}))
    view.apply_position(make_position("S1", 1, {"WH-01": (10, True)}))
    at_risk = PositionFilter(at_risk=True)
    assert view.list_positions(at_risk, limit=10).positions == []
    view.set_reorder_point("S1", "WH-01", 10)
    assert [p.sku for p in view.list_positions(at_risk, limit=10).positions] == ["S1"]
    assert view.skus_at_risk("WH-01") == [("S1", 10, 10)]
    view.set_reorder_point("S1", "WH-01", 9)
    assert view.list_positions(at_risk, limit=10).positions == []
    assert view.skus_at_risk("WH-01") == []


def test_an_alert_counts_while_open_at_its_latest_site() -> None:
    view = TwinView()
    view.apply_position(make_position("S1", 1, {"WH-01": (10, True), "WH-02": (10, True)}))
    low = PositionFilter(alert_kind="LOW_STOCK")
    at_2 = PositionFilter(alert_kind="LOW_STOCK", site="WH-02")
    view.apply_alert(alert("a", sku="S1", site="WH-01"))
    view.apply_alert(alert("a", sku="S1", site="WH-01"))  # redelivered: still one alert
    assert [p.sku for p in view.list_positions(low, limit=5).positions] == ["S1"]
    assert view.list_positions(at_2, limit=5).positions == []
    view.apply_alert(alert("a", sku="S1", site="WH-02"))
    assert [p.sku for p in view.list_positions(at_2, limit=5).positions] == ["S1"]
    view.apply_alert(alert("a", sku="S1", site="WH-02", state="cleared"))
    assert view.list_positions(low, limit=5).positions == []


def test_cursor_round_trips_any_sku_id() -> None:
    for sku in ["SKU-1", "ä/ö?&=", "", "a" * 100]:
        assert decode_cursor(encode_cursor(sku)) == sku


def test_sorted_ids_behave_as_a_sorted_set() -> None:
    rng = random.Random(3)
    ids, truth = SortedIds(merge_at=8), set()
    for _ in range(3000):
        key = f"k{rng.randint(0, 400):03d}"
        if rng.random() < 0.3:
            ids.discard(key)
            truth.discard(key)
        else:
            ids.add(key)
            truth.add(key)
        if rng.random() < 0.05:
            start = f"k{rng.randint(0, 400):03d}"
            assert list(ids.iter_from(start)) == sorted(k for k in truth if k >= start)
            assert list(ids.iter_from(start, inclusive=False)) == sorted(
                k for k in truth if k > start
            )
    assert len(ids) == len(truth)


# -- over HTTP --------------------------------------------------------------------------


def push_network(feed: FakeFeed) -> None:
    feed.push(
        make_position("SKU-1", 1, {"WH-01": (-2, True), "WH-02": (30, False)}),
        make_position("SKU-2", 1, {"WH-01": (50, True)}),
        make_position("SKU-3", 1, {"WH-02": (0, True)}),
        make_position("OTHER", 1, {"WH-01": (50, True)}),
        alert("a1", sku="SKU-2", site="WH-01", kind="OVER_ALLOCATION"),
    )


def get(client: TestClient, **params: object) -> dict[str, object]:
    response = client.get("/v1/skus", params=params, headers=auth("viewer"))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def skus_of(body: dict[str, object]) -> list[str]:
    return [p["sku"] for p in body["positions"]]  # type: ignore[attr-defined]


def test_filters_over_http(client: TestClient, feed: FakeFeed) -> None:
    push_network(feed)
    assert skus_of(get(client)) == ["OTHER", "SKU-1", "SKU-2", "SKU-3"]
    assert skus_of(get(client, prefix="SKU")) == ["SKU-1", "SKU-2", "SKU-3"]
    assert skus_of(get(client, site="WH-02")) == ["SKU-1", "SKU-3"]
    assert get(client, site="WH-99") == {"positions": [], "skus": [], "next_cursor": None}
    assert skus_of(get(client, at_risk="true")) == ["SKU-1", "SKU-3"]
    assert skus_of(get(client, at_risk="true", site="WH-02")) == ["SKU-3"]
    assert skus_of(get(client, stale="true")) == ["SKU-1"]
    assert skus_of(get(client, stale="false")) == ["OTHER", "SKU-2", "SKU-3"]
    assert skus_of(get(client, alert_kind="OVER_ALLOCATION")) == ["SKU-2"]
    body = get(client, prefix="SKU", limit=2)
    assert skus_of(body) == ["SKU-1", "SKU-2"] and body["skus"] == ["SKU-1", "SKU-2"]
    rest = get(client, prefix="SKU", limit=2, cursor=body["next_cursor"])
    assert skus_of(rest) == ["SKU-3"] and rest["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [{"limit": 1001}, {"limit": 0}, {"cursor": "!!not-base64!!"}, {"alert_kind": "NOPE"}],
    ids=repr,
)
def test_bad_listing_parameters_are_422_problems(
    client: TestClient, params: dict[str, object]
) -> None:
    response = client.get("/v1/skus", params=params, headers=auth("viewer"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_largest_page_is_served_whole(client: TestClient, feed: FakeFeed) -> None:
    feed.push(*(make_position(f"S{i:05d}", 1, {"WH-01": (1, True)}) for i in range(1500)))
    body = get(client, limit=1000)
    assert len(skus_of(body)) == 1000
    assert len(skus_of(get(client, limit=1000, cursor=body["next_cursor"]))) == 500


def test_csv_rows_per_sku_site_with_the_next_cursor_in_headers(
    client: TestClient, feed: FakeFeed
) -> None:
    push_network(feed)
    headers = {**auth("viewer"), "Accept": "text/csv"}
    response = client.get("/v1/skus", params={"prefix": "SKU", "limit": 2}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "sku",
        "site",
        "on_hand",
        "receiving",
        "reserved",
        "picked",
        "quarantined",
        "in_transit",
        "atp",
        "fresh",
        "last_event_at",
    ]
    assert [(r[0], r[1], r[8], r[9]) for r in rows[1:]] == [
        ("SKU-1", "WH-01", "-2", "true"),
        ("SKU-1", "WH-02", "30", "false"),
        ("SKU-2", "WH-01", "50", "true"),
    ]
    assert rows[1][10] == T0.isoformat()
    cursor = response.headers["X-Next-Cursor"]
    assert (
        'rel="next"' in response.headers["Link"] and f"cursor={cursor}" in response.headers["Link"]
    )
    last = client.get(
        "/v1/skus", params={"prefix": "SKU", "cursor": cursor, "site": "WH-02"}, headers=headers
    )
    assert list(csv.reader(io.StringIO(last.text)))[1:] == [
        ["SKU-3", "WH-02", "5", "0", "5", "0", "0", "0", "0", "true", T0.isoformat()]
    ]
    assert "X-Next-Cursor" not in last.headers


# -- at catalogue size --------------------------------------------------------------------


def test_a_prefix_page_of_a_200k_sku_view_costs_the_page_not_the_catalogue() -> None:
    rng = random.Random(5)
    skus = [f"SKU-{i:07d}" for i in range(200_000)]
    rng.shuffle(skus)
    view = TwinView()
    started = time.perf_counter()
    for n, sku in enumerate(skus):
        view.apply_position(make_position(sku, 1, {"WH-01": (n % 50 - 1, n % 97 != 0)}))
    loaded_s = time.perf_counter() - started

    def timed(where: PositionFilter) -> tuple[float, int]:
        started = time.perf_counter()
        page = view.list_positions(where, limit=100)
        return time.perf_counter() - started, len(page.positions)

    prefix_s, prefix_n = timed(PositionFilter(prefix="SKU-01234"))
    risky_s, risky_n = timed(PositionFilter(at_risk=True, stale=True))
    first_s, first_n = timed(PositionFilter())
    nowhere_s, nowhere_n = timed(PositionFilter(site="NOWHERE"))
    print(
        f"200k SKUs: load {loaded_s:.2f} s, prefix page {prefix_s * 1000:.2f} ms, "
        f"at-risk+stale page {risky_s * 1000:.2f} ms, first page {first_s * 1000:.2f} ms"
    )
    assert (prefix_n, first_n, nowhere_n) == (100, 100, 0) and risky_n > 0
    assert max(prefix_s, risky_s, first_s, nowhere_s) < 0.5
    assert loaded_s < 60


def test_alerts_as_csv(client: TestClient, feed: FakeFeed) -> None:
    feed.push(alert("a1", sku="SKU-2", site="WH-01", kind="OVER_ALLOCATION"))
    response = client.get(
        "/v1/alerts",
        params={"kind": "OVER_ALLOCATION"},
        headers={**auth("viewer"), "Accept": "text/csv"},
    )
    assert response.headers["content-type"].startswith("text/csv")
    header, *rows = list(csv.reader(io.StringIO(response.text)))
    assert header == [
        "id", "kind", "severity", "condition", "case_state", "assignee", "value_at_risk",
        "sku", "site", "detected_at", "explanation",
    ]  # fmt: skip
    assert rows == [
        [
            "a1",
            "OVER_ALLOCATION",
            "warning",
            "raised",
            "open",
            "",
            "",
            "SKU-2",
            "WH-01",
            T0.isoformat().replace("+00:00", "Z"),
            "ATP below reorder point",
        ],
    ]
