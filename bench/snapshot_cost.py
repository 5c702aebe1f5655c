"""Benchmark: what one recovery snapshot of the twin flow costs, packed vs plain pickle.

The twin flow stops while Bytewax snapshots its 64 shards (every 30 s by default), so the
time to encode the whole state is both the recovery cost per interval and a latency spike.
Scenario: the e2e benchmark's network (6 sites, 5,000 SKUs) after `--events` canonical events
(random SKUs, UUID event ids, millisecond-spaced times), applied to 64 shards as the flow
keys them. Measured, as medians of `--runs`: `dataflows.snapshots` encoding (what the flow
ships) and plain `pickle` (the baseline), their sizes, and restoring the packed state.

    .venv/bin/python -m bench.snapshot_cost [--events 1000000] [--runs 3]

Writes bench/results/snapshot_cost.json and prints it as the last line.
"""

from __future__ import annotations

import argparse
import pickle
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import msgspec

from bench.e2e_throughput import _event, bench_master
from bench.publish import publish
from dataflows import snapshots
from dataflows.keys import shard_of
from dataflows.settings import DEFAULT_SHARDS, DEFAULT_SNAPSHOT_INTERVAL_S
from dataflows.shard_logic import ShardFactory, ShardState
from twin.events import InventoryEvent


def build_states(events: int, skus: int) -> list[ShardState]:
    master = bench_master(skus)
    factory = ShardFactory(master)
    states = [factory.new() for _ in range(DEFAULT_SHARDS)]
    sku_ids = [s.id for s in master.skus]
    sites = [s.id for s in master.sites]
    rng = random.Random(1)
    t0 = datetime(2026, 11, 20, tzinfo=UTC)
    now = datetime.now(UTC)
    for i in range(events):
        sku = rng.choice(sku_ids)
        raw = _event(i, sku, sites[i % len(sites)], t0 + timedelta(milliseconds=i))
        raw["event_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
        event = msgspec.convert(raw, InventoryEvent)
        state = states[shard_of(sku, DEFAULT_SHARDS)]
        state.shard.apply(event, now)
        state.windows.add(event)
    for state in states:
        state.shard.rules = None  # as ShardState.dumps leaves it out
    return states


def _timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--skus", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    states = build_states(args.events, args.skus)
    packed_s, plain_s, restore_s = [], [], []
    packed: list[bytes] = []
    plain: list[bytes] = []
    for _ in range(args.runs):  # interleaved, so a spell of load hits both alike
        seconds, packed = _timed(lambda: [snapshots.dumps(s) for s in states])
        packed_s.append(seconds)
        seconds, plain = _timed(
            lambda: [pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL) for s in states]
        )
        plain_s.append(seconds)
        blobs = packed
        seconds, _ = _timed(lambda blobs=blobs: [snapshots.loads(b) for b in blobs])
        restore_s.append(seconds)
    packed_median = statistics.median(packed_s)
    publish(
        "snapshot_cost",
        {
            "snapshot_s": round(packed_median, 3),
            "snapshot_plain_pickle_s": round(statistics.median(plain_s), 3),
            "restore_s": round(statistics.median(restore_s), 3),
            "snapshot_mb": round(sum(map(len, packed)) / 1e6, 1),
            "snapshot_plain_pickle_mb": round(sum(map(len, plain)) / 1e6, 1),
            "steady_cost_pct_at_shipped_interval": round(
                100 * packed_median / DEFAULT_SNAPSHOT_INTERVAL_S, 1
            ),
            "events": args.events,
            "skus": args.skus,
            "shards": DEFAULT_SHARDS,
            "runs": args.runs,
            "note": "encoding only; Bytewax then writes the bytes to SQLite",
        },
    )


if __name__ == "__main__":
    main()
