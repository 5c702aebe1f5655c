"""How each site's feed reports its movements: the raw formats of DESIGN, on their schedules.

- `ApiFeed` posts one canonical event JSON per message after a lognormal latency
  (`feeds.api.v1`).
- `BatchFeed` sends a middleware batch every interval, sometimes late
  (`feeds.batch.v1`: `{"batch_id", "site", "sent_at", "records": [...]}`).
- `ThreePlFeed` drops a flat file every interval: CSV with the partner's header, type codes,
  warehouse and item codes, unit codes and local time (`feeds.3pl.v1`).

The physical model calls `push(t_avail, record)` when a movement can first be reported;
the delivery clock calls `collect(now, out)` and hands what is due to a sink. Faults (outage,
delay, duplicates, reordering, malformed records) are applied here, asked of the `FaultPlan`.
Each feed draws from its own `random.Random`, so one feed's faults never shift another's.
"""

from __future__ import annotations

import heapq
import math
import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import msgspec
import numpy as np

from simulator.faults import FaultPlan
from simulator.network import Network, SiteInfo
from simulator.spec import FeedParams
from twin.events import InventoryEvent

# A record the model reports: (t occurred s, event_id, type, sku index, qty, uom, to_site
# index or -1, transfer_id or "", ref or "").
Record = tuple[float, str, str, int, int, str, int, str, str]
# A message due for delivery: (at s, order, feed kind, key, value, site index, records).
Delivery = tuple[float, int, str, bytes, bytes, int, int]


class Batch(msgspec.Struct, kw_only=True):
    """The middleware batch envelope of `feeds.batch.v1`."""

    batch_id: str
    site: str
    sent_at: datetime
    records: list[InventoryEvent]


_encoder = msgspec.json.Encoder()
_fromtimestamp = datetime.fromtimestamp
REQUIRED_3PL_COLUMNS = ("TXN_ID", "WHSE", "ITEM", "TXN_TYPE", "QTY", "UOM", "TXN_TS")
# p99 of a lognormal is median * exp(2.326 sigma)
_Z99 = 2.3263


class Feed:
    """Common state of a site's feed: the site, its RNG, its faults, its outgoing messages."""

    kind = ""

    def __init__(
        self,
        network: Network,
        site: SiteInfo,
        params: FeedParams,
        faults: FaultPlan,
        rng: random.Random,
        start: datetime,
    ) -> None:
        self.network = network
        self.site = site
        self.params = params
        self.faults = faults
        self.rng = rng
        self.start = start
        self._start_ts = start.timestamp()
        self._out: list[tuple[float, int, bytes, bytes, int]] = []  # heap by delivery time
        self._seq = 0
        self.source = ""
        # Most feeds of most scenarios never misbehave: skip the fault queries for them.
        self.faulty = faults.touches(site.id)

    def push(self, t_avail: float, record: Record) -> None:
        raise NotImplementedError

    def collect(self, now: float, out: list[Delivery]) -> None:
        """Append every message due at or before `now` to `out`."""
        self._flush(now)
        heap = self._out
        while heap and heap[0][0] <= now:
            at, seq, key, value, records = heapq.heappop(heap)
            out.append((at, seq, self.kind, key, value, self.site.index, records))

    def pending(self) -> int:
        """Messages and records not delivered yet (the feed is drained at 0)."""
        return len(self._out)

    def next_due(self) -> float:
        return self._out[0][0] if self._out else math.inf

    def _flush(self, now: float) -> None:
        """Turn buffered records into messages up to `now` (batching feeds)."""

    def _send(self, at: float, key: bytes, value: bytes, records: int) -> None:
        # A message that would arrive while the feed is down waits for the recovery.
        if self.faulty:
            end = self.faults.outage_end(self.site.id, at)
            if end is not None:
                at = end + self.rng.random() * 60.0
        self._seq += 1
        heapq.heappush(self._out, (at, self._seq, key, value, records))

    def _time(self, t: float) -> datetime:
        # One C call (half the cost of start + timedelta); exact to the microsecond here.
        return _fromtimestamp(self._start_ts + t, UTC)

    def _event(self, record: Record, recorded_at: datetime | None) -> InventoryEvent:
        t, event_id, etype, k, qty, uom, to_s, transfer_id, ref = record
        net = self.network
        return InventoryEvent(
            event_id=event_id,
            type=etype,  # type: ignore[arg-type]
            sku=net.item_code[self.site.index][k],
            site=self.site.id,
            qty=qty,
            uom=uom,
            occurred_at=self._time(t),
            source=self.source,
            recorded_at=recorded_at,
            to_site=net.sites[to_s].id if to_s >= 0 else None,
            transfer_id=transfer_id or None,
            ref=ref or None,
        )


class ApiFeed(Feed):
    """One message per event, each after its own latency (median and p99 from the params)."""

    kind = "api"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        median = (self.params.latency_ms_median or 400.0) / 1000.0
        p99 = max((self.params.latency_ms_p99 or 5000.0) / 1000.0, median * 1.01)
        self._mu = math.log(median)
        self._sigma = math.log(p99 / median) / _Z99
        self.source = f"wms-api:{self.site.id}"
        self._keys = [sku.encode() for sku in self.network.sku_ids]
        self._lat: list[float] = []
        self._lat_i = 0

    def push(self, t_avail: float, record: Record) -> None:
        rng = self.rng
        i = self._lat_i
        if i == len(self._lat):
            # Latencies drawn in blocks (numpy, seeded from this feed's RNG): one draw each.
            block = np.random.Generator(np.random.PCG64(rng.getrandbits(64)))
            self._lat = block.lognormal(self._mu, self._sigma, 4096).tolist()
            i = 0
        self._lat_i = i + 1
        at = t_avail + self._lat[i]
        if not self.faulty:
            value = _encoder.encode(self._event(record, self._time(at)))
            self._seq += 1
            heapq.heappush(self._out, (at, self._seq, self._keys[record[3]], value, 1))
            return
        site = self.site.id
        p_hold, max_hold = self.faults.reorder(site, at)
        if p_hold and rng.random() < p_hold:
            at += rng.random() * max_hold
        value = _encoder.encode(self._event(record, self._time(at)))
        key = self._keys[record[3]]
        self._send(at, key, value, 1)
        p_dup = self.faults.duplicate_rate(site, at)
        if p_dup and rng.random() < p_dup:
            self.faults.count_duplicate(site, 1)
            self._send(at + 1.0 + rng.random() * 300.0, key, value, 1)
        p_bad = self.faults.malformed_rate(site, at)
        if p_bad and rng.random() < p_bad:
            self.faults.count_malformed(site, 1)
            self._send(at, key, _malformed_json(rng, value), 1)


class _IntervalFeed(Feed):
    """A feed that sends what it gathered every `interval_minutes` (batch and 3PL)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.interval_s = (self.params.interval_minutes or 15.0) * 60.0
        # Sites do not all send on the same second: a fixed phase per site.
        self._next = self.interval_s * (0.25 + 0.5 * ((self.site.index * 0.618) % 1.0))
        self._buffer: list[tuple[float, int, Record]] = []
        self._buf_seq = 0
        self._batches = 0

    def push(self, t_avail: float, record: Record) -> None:
        self._buf_seq += 1
        heapq.heappush(self._buffer, (t_avail, self._buf_seq, record))

    def pending(self) -> int:
        return len(self._out) + len(self._buffer)

    def next_due(self) -> float:
        due = super().next_due()
        return min(due, self._next) if self._buffer else due

    def _flush(self, now: float) -> None:
        while self._next <= now:
            sent = self._next
            self._next += self.interval_s
            records: list[Record] = []
            buf = self._buffer
            while buf and buf[0][0] <= sent:
                records.append(heapq.heappop(buf)[2])
            if records:
                self._dispatch(sent, records)

    def _dispatch(self, sent: float, records: list[Record]) -> None:
        rng = self.rng
        site = self.site.id
        self._batches += 1
        at = sent + 0.5 + rng.random() * 2.0
        p_late = self.params.delay_probability or 0.0
        if p_late and rng.random() < p_late:
            at += (self.params.delay_minutes or 0.0) * 60.0 * (0.5 + rng.random())
        if not self.faulty:
            self._send(at, site.encode(), self._encode(sent, records, 0), len(records))
            return
        at += self.faults.batch_delay_s(site, sent)
        p_hold, max_hold = self.faults.reorder(site, sent)
        if p_hold:
            rng.shuffle(records)
            if rng.random() < p_hold:
                at += rng.random() * max_hold
        bad = self.faults.malformed_rate(site, sent)
        n_bad = sum(1 for _ in records if rng.random() < bad) if bad else 0
        self.faults.count_malformed(site, n_bad) if n_bad else None
        key = site.encode()
        value = self._encode(sent, records, n_bad)
        self._send(at, key, value, len(records) + n_bad)
        p_dup = self.faults.duplicate_rate(site, sent)
        if p_dup and rng.random() < p_dup:
            # A retry of the whole message: every record in it arrives twice, the broken
            # ones too (each arrival of a broken record is one more for the DLQ).
            self.faults.count_duplicate(site, len(records))
            if n_bad:
                self.faults.count_malformed(site, n_bad)
            self._send(at + 5.0 + rng.random() * 120.0, key, value, len(records) + n_bad)

    def _encode(self, sent: float, records: list[Record], n_bad: int) -> bytes:
        raise NotImplementedError


class BatchFeed(_IntervalFeed):
    kind = "batch"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.source = f"mw-batch:{self.site.id}"

    def _encode(self, sent: float, records: list[Record], n_bad: int) -> bytes:
        sent_at = self._time(sent)
        events = [self._event(r, sent_at) for r in records]
        batch = Batch(
            batch_id=f"{self.site.id}-B{self._batches:06d}",
            site=self.site.id,
            sent_at=sent_at,
            records=events,
        )
        value = _encoder.encode(batch)
        if not n_bad:
            return value
        # Broken records are spliced in as raw JSON so the rest of the batch stays valid.
        extra = b",".join(_malformed_record(self.rng, self.site.id, i) for i in range(n_bad))
        head, _, tail = value.rpartition(b"]")
        joiner = b"," if events else b""
        return head + joiner + extra + b"]" + tail


class ThreePlFeed(_IntervalFeed):
    kind = "3pl"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        partner = self.network.partners[self.site.index]
        self.partner = partner
        self.zone = ZoneInfo(partner.timezone)
        self.header = ",".join(
            [*REQUIRED_3PL_COLUMNS, partner.to_site_column, partner.transfer_id_column, "REF"]
        )
        self.source = f"3pl:{partner.id}"

    def _encode(self, sent: float, records: list[Record], n_bad: int) -> bytes:
        p = self.partner
        codes = self.network.item_code[self.site.index]
        whse = p.warehouse[self.site.id]
        lines = [self.header]
        for t, event_id, etype, k, qty, uom, to_s, transfer_id, ref in records:
            local = self._time(t).astimezone(self.zone).strftime(p.timestamp_format)
            to_whse = p.warehouse[self.network.sites[to_s].id] if to_s >= 0 else ""
            lines.append(
                f"{event_id},{whse},{codes[k]},{p.txn_code[etype]},{qty},"
                f"{p.uom_code.get(uom, uom)},{local},{to_whse},{transfer_id},{ref}"
            )
        for i in range(n_bad):
            lines.append(_malformed_line(self.rng, whse, i))
        return ("\n".join(lines) + "\n").encode()


def make_feed(
    network: Network,
    site: SiteInfo,
    params: FeedParams,
    faults: FaultPlan,
    rng: random.Random,
    start: datetime,
) -> Feed:
    kinds: dict[str, type[Feed]] = {"api": ApiFeed, "batch": BatchFeed, "3pl": ThreePlFeed}
    return kinds[site.feed_mode](network, site, params, faults, rng, start)


# Broken records: each is something a real partner sends now and then, and each must end in
# the DLQ with a reason (never in the twin, never dropped silently).
def _malformed_json(rng: random.Random, good: bytes) -> bytes:
    choice = rng.randrange(3)
    if choice == 0:
        return good[: max(1, len(good) // 2)]  # truncated message
    if choice == 1:
        return good.replace(b'"type":"', b'"type":"X_', 1)  # a type the contract lacks
    return good.replace(b'"sku":"', b'"sku":"NOPE-', 1)  # unknown item code


def _malformed_record(rng: random.Random, site: str, i: int) -> bytes:
    stamp = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    kind = rng.randrange(2)
    if kind == 0:
        return (
            b'{"event_id":"BAD-' + f"{site}-{rng.getrandbits(40):x}-{i}".encode() + b'",'
            b'"type":"TELEPORTED","sku":"SKU-00001","site":"' + site.encode() + b'",'
            b'"qty":1,"uom":"each","occurred_at":"' + stamp.encode() + b'","source":"x"}'
        )
    return b'{"event_id":"","qty":"many"}'


def _malformed_line(rng: random.Random, whse: str, i: int) -> str:
    txn = f"BAD-{rng.getrandbits(40):x}-{i}"
    if rng.randrange(2):
        return f"{txn},{whse},UNKNOWN-ITEM,SHP,3,EA,13/45/2026 99:99:99,,,"
    return f"{txn},{whse},XX,ZZZ,not-a-number,EA,,,,"
