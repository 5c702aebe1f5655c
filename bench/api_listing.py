"""Benchmark: the API view's position listing (`GET /v1/skus`) at catalogue size, in process.

Scenario: a `TwinView` fed `--skus` positions of `--sites` sites each (default 100,000 x 20,
2 million SKU-sites), in shuffled (topic) order, with a reorder point per SKU-site; about 4%
of SKU-sites at or below it, one SKU in 100 stale at one site, one in 50 with an open alert.

Measured:
- `view_build_s`: applying every position (the listing indexes are kept on the way);
  `view_rss_mb`: the process's resident memory growth over the build (positions + indexes,
  not the reorder points, which master data holds);
- `<filter>_page_p50_ms` / `_p99_ms`: `TwinView.list_positions` for a 100-row page, over
  `--pages` calls each (random prefixes; cursors from random SKU ids), plus msgspec JSON
  encoding of the page as the route does: the cost a request adds on the event loop;
- `csv_page_ms`: the CSV rendering of a 100-SKU page (one row per SKU-site).
The HTTP stack and concurrency are not in it (bench/catalogue.py measures those).

The last line of stdout is the JSON result.
    TWIN_PURE=1 .venv/bin/python -m bench.api_listing [--skus 100000 --sites 20 --pages 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from api.positions_csv import positions_csv
from api.view import Catalog, PositionFilter, TwinView, encode_cursor
from twin.wire import Alert, NetworkTotals, Position, SitePosition

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def rss_mb() -> float:
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def build(skus: int, sites: int, rng: random.Random) -> tuple[TwinView, list[str], float, float]:
    site_ids = [f"WH-{n:02d}" for n in range(1, sites + 1)]
    sku_ids = [f"SKU-{n:07d}" for n in range(skus)]
    rng.shuffle(sku_ids)
    # Master data is the catalog's, loaded before: only positions and indexes are measured.
    catalog = Catalog(reorder_points={(sku, site): 10 for sku in sku_ids for site in site_ids})
    before = rss_mb()
    started = time.perf_counter()
    view = TwinView(catalog)
    for n, sku in enumerate(sku_ids):
        position = Position(
            sku=sku,
            version=1,
            as_of=T0,
            sites={
                site: SitePosition(
                    on_hand=40,
                    atp=rng.randint(-1, 50) if rng.random() < 0.04 else 40,
                    last_event_at=T0,
                    fresh=not (n % 100 == 0 and i == 0),
                )
                for i, site in enumerate(site_ids)
            },
            network=NetworkTotals(on_hand=40 * sites, atp=40 * sites),
        )
        view.apply_position(position)
        if n % 50 == 0:
            view.apply_alert(
                Alert(
                    id=f"a-{sku}",
                    kind="LOW_STOCK",
                    severity="warning",
                    detected_at=T0,
                    explanation="bench",
                    sku=sku,
                    site=site_ids[0],
                )
            )
    build_s = time.perf_counter() - started
    return view, sorted(sku_ids), build_s, rss_mb() - before


def timed_pages(calls: int, page: Callable[[], object]) -> dict[str, float]:
    encoder = msgspec.json.Encoder()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        encoder.encode(page())
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(1)
    view, sorted_skus, build_s, view_mb = build(args.skus, args.sites, rng)
    result: dict[str, float | int] = {
        "skus": args.skus,
        "sites": args.sites,
        "view_build_s": round(build_s, 2),
        "view_rss_mb": round(view_mb, 1),
    }

    def listing(where: PositionFilter, with_cursor: bool = False) -> Callable[[], object]:
        def page() -> object:
            cursor = encode_cursor(rng.choice(sorted_skus)) if with_cursor else None
            found = view.list_positions(where, limit=100, cursor=cursor)
            return {"positions": found.positions, "next_cursor": found.next_cursor}

        return page

    cases = {
        "first": lambda: listing(PositionFilter())(),
        "prefix": lambda: listing(PositionFilter(prefix=rng.choice(sorted_skus)[:9]))(),
        "cursor": listing(PositionFilter(), with_cursor=True),
        "at_risk": listing(PositionFilter(at_risk=True), with_cursor=True),
        "site_at_risk": listing(PositionFilter(site="WH-02", at_risk=True), with_cursor=True),
        "stale": listing(PositionFilter(stale=True), with_cursor=True),
        "alert_kind": listing(PositionFilter(alert_kind="LOW_STOCK"), with_cursor=True),
    }
    for name, page in cases.items():
        for stat, value in timed_pages(args.pages, page).items():
            result[f"{name}_page_{stat}"] = value
    positions = view.list_positions(PositionFilter(), limit=100).positions
    started = time.perf_counter()
    positions_csv(positions)
    result["csv_page_ms"] = round((time.perf_counter() - started) * 1000, 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
