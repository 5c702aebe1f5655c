"""Benchmark: decode-and-apply throughput of the twin core on one core.

Scenario: a network of 6 sites (3 API, 2 batch, 1 3PL) and 5,000 SKUs, with a realistic mix
of movements (mostly RESERVED / PICKED / SHIPPED / RECEIVED / PUT_AWAY, some counts,
adjustments, transfers, holds and returns, 1% resent duplicates). Events are pre-encoded as
canonical JSON bytes, as they arrive from `inventory.events.v1`.

Measured, each as the median of `--runs` runs in this one process:
- `apply_events_per_s`: `decode_event` + `TwinShard.apply` (a fresh shard every run);
- `decode_canonical_per_s` and `apply_only_per_s`: the two halves alone (the baseline that
  says where the time goes);
- `decode_api_per_s`, `decode_batch_per_s`, `decode_3pl_per_s`: `Normalizer.normalize` on
  the three raw formats (events out per second; batches and files of 100 records).

Writes bench/results/core_apply.json and prints it as the last line.
Run: `.venv/bin/python bench/core_apply.py [--events 100000] [--runs 5]`.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from twin.events import EventType, InventoryEvent, encode_event
from twin.masterdata import MasterData, MasterIndex
from twin.masterdata_gen import generate_master_data
from twin.normalize import Normalizer
from twin.shard import TwinShard
from twin.validation import decode_event

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
TARGET_EVENTS_PER_S = 250_000
RECORDS_PER_MESSAGE = 100  # batch records per batch, rows per 3PL file

# Weights of the mix of event types (a distributor's day: demand dominates).
MIX: dict[EventType, int] = {
    EventType.RESERVED: 22,
    EventType.PICKED: 18,
    EventType.SHIPPED: 18,
    EventType.RECEIVED: 12,
    EventType.PUT_AWAY: 12,
    EventType.RESERVATION_RELEASED: 3,
    EventType.COUNTED: 3,
    EventType.ADJUSTED: 3,
    EventType.TRANSFER_SHIPPED: 2,
    EventType.TRANSFER_RECEIVED: 2,
    EventType.QUALITY_HOLD: 2,
    EventType.QUALITY_RELEASE: 2,
    EventType.RETURNED: 1,
}


def make_events(md: MasterData, n: int, seed: int) -> list[InventoryEvent]:
    """`n` canonical events over the network, in event-time order with some jitter."""
    rng = random.Random(seed)
    sites = [s.id for s in md.sites]
    skus = [s.id for s in md.skus]
    types = list(MIX)
    weights = list(MIX.values())
    events: list[InventoryEvent] = []
    for i in range(n):
        etype = rng.choices(types, weights)[0]
        site = rng.choice(sites)
        qty = rng.randint(1, 24)
        if etype is EventType.ADJUSTED:
            qty = rng.choice([-1, 1]) * rng.randint(1, 5)
        elif etype is EventType.COUNTED:
            qty = rng.randint(0, 500)
        to_site = transfer_id = None
        if etype in (EventType.TRANSFER_SHIPPED, EventType.TRANSFER_RECEIVED):
            transfer_id = f"T-{i}"
            if etype is EventType.TRANSFER_SHIPPED:
                to_site = rng.choice([s for s in sites if s != site])
        occurred = T0 + timedelta(seconds=i * 0.05 + rng.uniform(-30, 0))
        event_id = f"E-{i}" if rng.random() > 0.01 or i == 0 else f"E-{rng.randrange(i)}"
        events.append(
            InventoryEvent(
                event_id=event_id,
                type=etype,
                sku=rng.choice(skus),
                site=site,
                qty=qty,
                uom="each",
                occurred_at=occurred,
                recorded_at=occurred + timedelta(seconds=rng.uniform(0, 5)),
                source=f"wms-api:{site}",
                to_site=to_site,
                transfer_id=transfer_id,
            )
        )
    return events


def batch_messages(events: list[InventoryEvent]) -> list[bytes]:
    """The events as middleware batches (one site per batch) of RECORDS_PER_MESSAGE records."""
    by_site: dict[str, list[bytes]] = {}
    for event in events:
        by_site.setdefault(event.site, []).append(encode_event(event))
    messages = []
    for site, records in by_site.items():
        for start in range(0, len(records), RECORDS_PER_MESSAGE):
            chunk = records[start : start + RECORDS_PER_MESSAGE]
            head = f'{{"batch_id":"B-{site}-{start}","site":"{site}",'
            head += '"sent_at":"2026-11-26T12:00:00Z","records":['
            messages.append(head.encode() + b",".join(chunk) + b"]}")
    return messages


def threepl_files(index: MasterIndex, events: list[InventoryEvent]) -> list[bytes]:
    """The events re-cast as the 3PL partner's flat files (its codes, cases, local time)."""
    partner = next(iter(index.partners.values()))
    codes = {event_type: code for code, event_type in partner.txn_types.items()}
    item_code = {a.sku: a.code for a in index.md.aliases if a.scope == partner.id}
    whse = {site: code for code, site in partner.warehouses.items()}
    zone = index.zones[partner.site]
    header = b"TXN_ID,WHSE,ITEM,TXN_TYPE,QTY,UOM,TXN_TS,TO_WHSE,XFER_ID\n"
    rows = []
    for n, event in enumerate(events):
        local = event.occurred_at.astimezone(zone).strftime(partner.timestamp_format)
        to_site = event.to_site
        if to_site == partner.site:  # every row happens at the partner's own site
            to_site = next(s for s in whse if s != partner.site)
        to_whse = whse[to_site] if to_site else ""
        rows.append(
            f"{n},{whse[partner.site]},{item_code[event.sku]},{codes[event.type]},"
            f"{event.qty},EA,{local},{to_whse},{event.transfer_id or ''}\n".encode()
        )
    return [
        header + b"".join(rows[i : i + RECORDS_PER_MESSAGE])
        for i in range(0, len(rows), RECORDS_PER_MESSAGE)
    ]


def rate(events: int, seconds: float) -> float:
    return events / seconds if seconds > 0 else float("inf")


def median_rate(runs: int, n_events: int, body: Callable[[], None]) -> float:
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        rates.append(rate(n_events, time.perf_counter() - start))
    return round(statistics.median(rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skus", type=int, default=5_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results/core_apply.json"))
    args = parser.parse_args()

    md = generate_master_data(sites=6, skus=args.skus, seed=1)
    index = MasterIndex(md)
    normalizer = Normalizer(index)
    events = make_events(md, args.events, seed=2)
    canonical = [encode_event(e) for e in events]
    batches = batch_messages(events)
    files = threepl_files(index, events)
    applied_at = T0 + timedelta(hours=6)

    def decode_and_apply() -> None:
        shard = TwinShard(md)
        apply = shard.apply
        for raw in canonical:
            apply(decode_event(raw), applied_at)

    def decode_only() -> None:
        for raw in canonical:
            decode_event(raw)

    def apply_only() -> None:
        shard = TwinShard(md)
        apply = shard.apply
        for event in events:
            apply(event, applied_at)

    def normalize(feed: str, messages: list[bytes]) -> Callable[[], None]:
        def body() -> None:
            for raw in messages:
                normalizer.normalize(feed, raw)  # type: ignore[arg-type]

        return body

    # Every format must turn every event into an event, or the figures would flatter it.
    for feed, messages in (("api", canonical[:500]), ("batch", batches[:5]), ("3pl", files[:5])):
        result = [normalizer.normalize(feed, m) for m in messages]  # type: ignore[arg-type]
        rejected = [r for res in result for r in res.rejections]
        assert not rejected, (feed, rejected[:1])

    n = len(events)
    results = {
        "events": n,
        "skus": args.skus,
        "sites": len(md.sites),
        "runs": args.runs,
        "apply_events_per_s": median_rate(args.runs, n, decode_and_apply),
        "decode_canonical_per_s": median_rate(args.runs, n, decode_only),
        "apply_only_per_s": median_rate(args.runs, n, apply_only),
        "decode_api_per_s": median_rate(args.runs, n, normalize("api", canonical)),
        "decode_batch_per_s": median_rate(args.runs, n, normalize("batch", batches)),
        "decode_3pl_per_s": median_rate(args.runs, n, normalize("3pl", files)),
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "python": platform.python_version(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    results["meets_target"] = results["apply_events_per_s"] >= TARGET_EVENTS_PER_S
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
