"""A scripted, seeded mix of inventory events for the flow tests, and an independent oracle.

`script_events` makes canonical events (receipts, reservations, picks, shipments, holds,
returns, adjustments, counts, transfers) with out-of-order times. `raw_feeds` turns them into
the three raw feed formats of DESIGN.md (API JSON, middleware batches, 3PL CSV files), adds
re-sent duplicates and malformed records. `expected_positions` folds the events with the
bucket table of DESIGN.md directly: written here, independently of `twin/`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec

from twin.events import EventType, InventoryEvent
from twin.masterdata import MasterData

T0 = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
_ENC = msgspec.json.Encoder()

Buckets = dict[str, int]  # on_hand, receiving, reserved, picked, quarantined, in_transit


def script_events(
    master: MasterData, rng: random.Random, n: int, *, skus: int | None = None
) -> list[InventoryEvent]:
    """`n` canonical events over the first `skus` SKUs and every site, in shuffled order."""
    sku_ids = [s.id for s in master.skus][: skus or len(master.skus)]
    site_ids = [s.id for s in master.sites]
    events: list[InventoryEvent] = []
    for i in range(n):
        sku = rng.choice(sku_ids)
        site = rng.choice(site_ids)
        # whole seconds: the 3PL file format carries no fractions
        at = T0 + timedelta(seconds=rng.randrange(0, 4 * 3600))
        kind = rng.choices(list(_WEIGHTS), weights=list(_WEIGHTS.values()), k=1)[0]
        qty = rng.randint(1, 40)
        extra: dict[str, object] = {}
        if kind is EventType.ADJUSTED:
            qty = rng.choice([-1, 1]) * qty
        elif kind is EventType.COUNTED:
            qty = rng.randint(0, 400)
        elif kind in (EventType.TRANSFER_SHIPPED, EventType.TRANSFER_RECEIVED):
            extra["transfer_id"] = f"T{i}"
            if kind is EventType.TRANSFER_SHIPPED:
                extra["to_site"] = rng.choice([s for s in site_ids if s != site])
        events.append(
            InventoryEvent(
                event_id=f"ev-{i:07d}",
                type=kind,
                sku=sku,
                site=site,
                qty=qty,
                uom="each",
                occurred_at=at,
                recorded_at=at + timedelta(seconds=rng.randint(0, 120)),
                source=f"script:{site}",
                **extra,  # type: ignore[arg-type]
            )
        )
    rng.shuffle(events)
    return events


_WEIGHTS = {
    EventType.RECEIVED: 8,
    EventType.PUT_AWAY: 5,
    EventType.RESERVED: 8,
    EventType.RESERVATION_RELEASED: 2,
    EventType.PICKED: 6,
    EventType.SHIPPED: 6,
    EventType.TRANSFER_SHIPPED: 2,
    EventType.TRANSFER_RECEIVED: 2,
    EventType.QUALITY_HOLD: 1,
    EventType.QUALITY_RELEASE: 1,
    EventType.RETURNED: 1,
    EventType.ADJUSTED: 1,
    EventType.COUNTED: 1,
}


def expected_positions(events: list[InventoryEvent]) -> dict[str, dict[str, Buckets]]:
    """DESIGN.md's bucket table, folded per SKU per site; duplicates by event_id ignored."""
    seen: set[str] = set()
    deltas: dict[tuple[str, str], list[tuple[datetime, int]]] = defaultdict(list)
    counts: dict[tuple[str, str], tuple[datetime, str, int]] = {}
    out: dict[str, dict[str, Buckets]] = defaultdict(lambda: defaultdict(_zero))
    for e in events:
        if e.event_id in seen:
            continue
        seen.add(e.event_id)
        q = int(e.qty)
        b = out[e.sku][e.site]
        t = e.type
        on_hand = 0
        if t is EventType.RECEIVED:
            on_hand, b["receiving"] = q, b["receiving"] + q
        elif t is EventType.PUT_AWAY:
            b["receiving"] -= q
        elif t is EventType.RESERVED:
            b["reserved"] += q
        elif t is EventType.RESERVATION_RELEASED:
            b["reserved"] -= q
        elif t is EventType.PICKED:
            b["reserved"] -= q
            b["picked"] += q
        elif t is EventType.SHIPPED:
            on_hand = -q
            b["picked"] -= q
        elif t is EventType.TRANSFER_SHIPPED:
            on_hand = -q
            assert e.to_site is not None
            out[e.sku][e.to_site]["in_transit"] += q
        elif t is EventType.TRANSFER_RECEIVED:
            on_hand = q
            b["receiving"] += q
            b["in_transit"] -= q
        elif t is EventType.QUALITY_HOLD:
            b["quarantined"] += q
        elif t is EventType.QUALITY_RELEASE:
            b["quarantined"] -= q
        elif t is EventType.RETURNED:
            on_hand = q
            b["quarantined"] += q
        elif t is EventType.ADJUSTED:
            on_hand = q
        elif t is EventType.COUNTED:
            key = (e.sku, e.site)
            best = counts.get(key)
            if best is None or (e.occurred_at, e.event_id) > (best[0], best[1]):
                counts[key] = (e.occurred_at, e.event_id, q)
        if on_hand:
            deltas[(e.sku, e.site)].append((e.occurred_at, on_hand))
    for (sku, site), items in deltas.items():
        count = counts.get((sku, site))
        since = count[0] if count else None
        out[sku][site]["on_hand"] = sum(q for t, q in items if since is None or t > since)
    for (sku, site), (_t, _id, q) in counts.items():
        out[sku][site]["on_hand"] += q
    return {sku: {site: dict(b) for site, b in sites.items()} for sku, sites in out.items()}


def _zero() -> Buckets:
    return dict.fromkeys(
        ("on_hand", "receiving", "reserved", "picked", "quarantined", "in_transit"), 0
    )


def buckets_of(position: object) -> dict[str, Buckets]:
    """The buckets of a decoded `twin.wire.Position`, in the oracle's shape."""
    return {
        site: {
            "on_hand": sp.on_hand,
            "receiving": sp.receiving,
            "reserved": sp.reserved,
            "picked": sp.picked,
            "quarantined": sp.quarantined,
            "in_transit": sp.in_transit,
        }
        for site, sp in position.sites.items()  # type: ignore[attr-defined]
    }


# -- raw feeds ---------------------------------------------------------------------------


@dataclass
class RawFeeds:
    """Raw messages per feed, the canonical events they carry, and the malformed records."""

    api: list[bytes] = field(default_factory=list)
    batch: list[bytes] = field(default_factory=list)
    threepl: list[bytes] = field(default_factory=list)
    canonical: list[InventoryEvent] = field(default_factory=list)  # with re-sent duplicates
    malformed: list[bytes] = field(default_factory=list)  # exact rejected record bytes

    def records(self) -> int:
        return len(self.canonical) + len(self.malformed)


def raw_feeds(
    master: MasterData, events: list[InventoryEvent], rng: random.Random, *, dup_rate: float
) -> RawFeeds:
    """Each event in its site's feed format; some re-sent, plus malformed records."""
    modes = {s.id: s.feed_mode for s in master.sites}
    partner = master.partners[0]
    zone = ZoneInfo(partner.timezone)
    whse = {site: code for code, site in partner.warehouses.items()}
    feeds = RawFeeds()
    batches: dict[str, list[bytes]] = defaultdict(list)
    csv_rows: list[str] = []
    resent = [e for e in events if rng.random() < dup_rate]
    for e in [*events, *resent]:
        mode = modes[e.site]
        if mode == "api":
            feeds.api.append(_ENC.encode(e))
            feeds.canonical.append(e)
        elif mode == "batch":
            batches[e.site].append(_ENC.encode(msgspec.structs.replace(e, source=None)))
            feeds.canonical.append(msgspec.structs.replace(e, source=f"batch:{e.site}"))
        else:
            local = e.occurred_at.astimezone(zone).strftime(partner.timestamp_format)
            code = {v: k for k, v in partner.txn_types.items()}[e.type]
            to = whse[e.to_site] if e.to_site else ""
            csv_rows.append(
                f"{e.event_id},{whse[e.site]},{e.sku},{code},{int(e.qty)},EA,{local},"
                f"{to},{e.transfer_id or ''}"
            )
            feeds.canonical.append(
                msgspec.structs.replace(e, event_id=f"3pl:{partner.id}:{e.event_id}")
            )
    # malformed: a non-JSON API message, a batch record with a negative qty, a CSV row with an
    # unknown item code
    bad_api = b'{"event_id": "broken", "type": "RECEIVED", "sku": '
    feeds.api.insert(len(feeds.api) // 2, bad_api)
    feeds.malformed.append(bad_api)
    for site, records in sorted(batches.items()):
        for start in range(0, len(records), 50):
            chunk = records[start : start + 50]
            if start == 0:
                bad = (
                    b'{"event_id":"bad-qty-' + site.encode() + b'","type":"SHIPPED",'
                    b'"sku":"'
                    + master.skus[0].id.encode()
                    + b'","site":"'
                    + site.encode()
                    + b'","qty":-5,"uom":"each","occurred_at":"2026-11-16T12:00:00Z"}'
                )
                chunk = [*chunk, bad]
                feeds.malformed.append(bad)
            body = b",".join(chunk)
            feeds.batch.append(
                b'{"batch_id":"b-'
                + f"{site}-{start}".encode()
                + b'","site":"'
                + site.encode()
                + b'","sent_at":"2026-11-16T16:30:00Z","records":['
                + body
                + b"]}"
            )
    header = "TXN_ID,WHSE,ITEM,TXN_TYPE,QTY,UOM,TXN_TS,TO_WHSE,XFER_ID"
    bad_row = f"bad-row,{whse[partner.site]},NO-SUCH-ITEM,REC,5,EA,11/16/2026 06:00:00,,"
    for start in range(0, len(csv_rows), 40):
        rows = csv_rows[start : start + 40]
        if start == 0:
            rows = [*rows, bad_row]
            feeds.malformed.append(bad_row.encode())
        feeds.threepl.append(("\n".join([header, *rows]) + "\n").encode())
    return feeds
