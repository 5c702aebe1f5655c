"""Benchmark: what the twin core's state costs per SKU-site and per remembered id, and how
fast the core applies events, at the demo size and at a distributor's size.

Two measurements, each at 5,000 SKUs x 6 sites and at 100,000 SKUs x 20 sites:

- memory, after a simulated week: every SKU-site opened by a count, then `--week-events`
  movements per SKU-site spread over seven days of event time (orders, receipts,
  adjustments, a cycle count a day), applied in time order to one `TwinShard`. The state is
  walked object by object (`sys.getsizeof`, shared objects such as site ids and the config
  counted once, the rules' catalogue data aside) on a sample of `--sample-skus` SKUs:
  `twin_bytes_per_sku_site` is buckets, counts and rule state (and the SKU's own objects
  shared among its sites), the remembered ids and the on-hand deltas aside;
  `dedupe_bytes_per_id` is the ids' arrays over the ids remembered; `delta_bytes_per_delta`
  the same for the deltas kept since each site's latest count;
- speed: the whole catalogue opened by a count per SKU-site, then `--events` movements on
  SKU-sites drawn at random, applied by `TwinShard.apply_batch` eight at a time (what one
  shard key gets from a consumed Kafka batch); decoding aside (`bench/core_apply.py`
  measures decode and apply together). `core_events_per_s` is wall-clock, the median of
  `--runs`, one core.

The in-process core only: end-to-end figures are measured by `bench/e2e_throughput.py`.
Writes bench/results/scale.json and prints it as the last line.
Run: `.venv/bin/python -m bench.scale [--events 300000] [--runs 3]`.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import FunctionType, ModuleType
from typing import Any

import twin.position
from bench.publish import publish
from twin._compiled import running_compiled
from twin.events import EventType, InventoryEvent
from twin.shard import TwinShard

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
WEEK_S = 7 * 24 * 3600
# one step of a SKU-site's day: (type, sign of qty) — orders dominate, as in a distributor's
STEPS = (
    (EventType.RESERVED, 1),
    (EventType.PICKED, 1),
    (EventType.SHIPPED, 1),
    (EventType.RESERVED, 1),
    (EventType.PICKED, 1),
    (EventType.SHIPPED, 1),
    (EventType.RECEIVED, 1),
    (EventType.PUT_AWAY, 1),
    (EventType.ADJUSTED, -1),
)


def sku_ids(n: int) -> list[str]:
    return [f"SKU-{k:06d}" for k in range(n)]


def site_ids(n: int) -> list[str]:
    return [sys.intern(f"WH-{s:02d}") for s in range(n)]


def event(n: int, etype: EventType, sku: str, site: str, qty: int, at: datetime) -> InventoryEvent:
    return InventoryEvent(
        event_id=f"{site}-{n:010d}",
        type=etype,
        sku=sku,
        site=site,
        qty=qty,
        uom="each",
        occurred_at=at,
        source="bench",
    )


def openings(skus: list[str], sites: list[str]) -> Iterator[InventoryEvent]:
    n = 0
    for sku in skus:
        for site in sites:
            n += 1
            yield event(n, EventType.COUNTED, sku, site, 500, T0)


def week(skus: list[str], sites: list[str], per_site: int, rnd: random.Random) -> list[Any]:
    """`per_site` movements per SKU-site over a week, plus a cycle count a day, in time order."""
    out: list[InventoryEvent] = []
    n = 10**9
    for sku in skus:
        for site in sites:
            times = sorted(rnd.uniform(1, WEEK_S) for _ in range(per_site))
            for k, t in enumerate(times):
                n += 1
                etype, sign = STEPS[k % len(STEPS)]
                at = T0 + timedelta(seconds=t)
                out.append(event(n, etype, sku, site, sign * rnd.randint(1, 5), at))
            for day in range(1, 8):
                n += 1
                at = T0 + timedelta(days=day, seconds=-rnd.uniform(1, 3600))
                out.append(event(n, EventType.COUNTED, sku, site, rnd.randint(0, 500), at))
    out.sort(key=lambda e: e.occurred_at)
    return out


def deep_size(root: object, shared: set[int]) -> int:
    """Bytes of `root` and everything it reaches, each object once, `shared` ids aside."""
    seen = set(shared)
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, type | ModuleType | FunctionType | EventType):
            continue
        if obj.__class__ is int and -5 <= obj <= 256:
            continue  # the interpreter's cached small ints
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def memory(shard: TwinShard, sample: list[str], n_sites: int) -> dict[str, float]:
    """Bytes per SKU-site (ids and deltas aside), per remembered id and per kept delta."""
    shared = {id(shard.config), id(shard.config.position), id(shard.rules), id(None)}
    shared |= {id(s) for t in shard.twins.values() for s in t.sites}  # interned site ids
    empty = sys.getsizeof(array("q"))
    total = ids = id_bytes = deltas = delta_bytes = 0
    for sku in sample:
        sku_twin = shard.twins[sku]
        total += deep_size(sku_twin, shared)
        ids += sku_twin.remembered_ids
        id_bytes += sys.getsizeof(sku_twin._id_keys) + sys.getsizeof(sku_twin._id_meta)
        id_bytes -= 2 * empty
        for b in sku_twin.sites.values():
            if b.deltas is not None:
                deltas += b.delta_count
                delta_bytes += sys.getsizeof(b.deltas) - empty
    # the shard's dict of SKUs, its share per SKU
    total += sys.getsizeof(shard.twins) * len(sample) // len(shard.twins)
    sku_sites = len(sample) * n_sites
    return {
        "twin_bytes_per_sku_site": round((total - id_bytes - delta_bytes) / sku_sites, 1),
        "dedupe_bytes_per_id": round(id_bytes / max(ids, 1), 2),
        "ids_per_sku": round(ids / len(sample), 1),
        "delta_bytes_per_delta": round(delta_bytes / max(deltas, 1), 2),
        "deltas_per_sku_site": round(deltas / sku_sites, 2),
    }


def apply_all(shard: TwinShard, events: list[Any], at: datetime, size: int = 8) -> float:
    """Seconds `apply_batch` takes for `events`, `size` at a time."""
    apply_batch = shard.apply_batch
    chunks = [events[i : i + size] for i in range(0, len(events), size)]
    gc.collect()
    start = time.perf_counter()
    for chunk in chunks:
        apply_batch(chunk, at)
    return time.perf_counter() - start


def week_memory(n_skus: int, n_sites: int, sample: int, per_site: int) -> dict[str, float]:
    """A simulated week on `sample` SKUs of a catalogue of this shape, then its memory."""
    rnd = random.Random(1)
    skus = sku_ids(n_skus)[:sample]
    sites = site_ids(n_sites)
    shard = TwinShard()
    apply_all(shard, list(openings(skus, sites)), T0)
    apply_all(shard, week(skus, sites, per_site, rnd), T0 + timedelta(days=7))
    return memory(shard, skus, n_sites)


def speed(n_skus: int, n_sites: int, n_events: int, runs: int) -> float:
    """Median events per second of `apply_batch` on a catalogue opened by counts."""
    rnd = random.Random(2)
    skus = sku_ids(n_skus)
    sites = site_ids(n_sites)
    opening = list(openings(skus, sites))
    rates = []
    for run in range(runs):
        events = []
        for n in range(n_events):
            etype, sign = STEPS[n % len(STEPS)]
            at = T0 + timedelta(seconds=1 + n * WEEK_S / n_events)
            sku, site = rnd.choice(skus), rnd.choice(sites)
            events.append(event(run * n_events + n, etype, sku, site, sign * 3, at))
        shard = TwinShard()
        apply_all(shard, opening, T0)
        rates.append(n_events / apply_all(shard, events, T0 + timedelta(days=7)))
        del shard, events
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000, help="timed events per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample-skus", type=int, default=500)
    parser.add_argument("--week-events", type=int, default=60, help="per SKU-site")
    parser.add_argument("--sizes", default="5000x6,100000x20", help="SKUsxsites, ...")
    args = parser.parse_args()
    sizes = [tuple(int(n) for n in size.split("x")) for size in args.sizes.split(",")]
    figures: dict[str, Any] = {
        "compiled": running_compiled(twin.position),
        "horizon_s": twin.position.PositionConfig().horizon_s,
        "week_events_per_sku_site": args.week_events + 7,
    }
    for n_skus, n_sites in sizes:
        tag = f"{n_skus}x{n_sites}"
        mem = week_memory(n_skus, n_sites, min(args.sample_skus, n_skus), args.week_events)
        figures[tag] = {
            **mem,
            "core_events_per_s": round(speed(n_skus, n_sites, args.events, args.runs)),
        }
    big = figures[f"{sizes[-1][0]}x{sizes[-1][1]}"]
    figures.update(
        twin_bytes_per_sku_site=big["twin_bytes_per_sku_site"],
        dedupe_bytes_per_id=big["dedupe_bytes_per_id"],
        core_events_per_s=big["core_events_per_s"],
    )
    publish("scale", figures)


if __name__ == "__main__":
    main()
