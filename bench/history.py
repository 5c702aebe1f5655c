"""Benchmark: the history store (ledgers, positions over time) for 100,000 SKUs x 20 sites.

What it measures, each in this one run:

* `history_ingest_events_per_s`: the history consumer (`history.consumer.HistoryConsumer`,
  the code `invtwin history` runs) on the real broker: `--consumer-events` canonical events
  and one 20-site position per `--events-per-position` events are pre-loaded on fresh topics,
  then the rate is events / (time from its first stored batch to the last one). Each batch is
  one SQLite transaction with its offsets, as in production.
* `e2e_events_per_s`: both flows on the same broker, as `bench.e2e_throughput` measures them
  (`--e2e-events` raw events to the last position), so the two rates come from the same
  machine at the same time. `history_keeps_up` = ingest >= e2e.
* The store at scale, SQLite: `--events` events over 7 days of event time (`--days`) for
  `--skus` SKUs at `--sites` sites, generated straight into the store in transactions of 5,000
  (`store_write_events_per_s`), with a site row per event (an upper bound: the twin publishes
  a SKU once per epoch, however many of its events the epoch held), the latest position of
  every SKU, and one busy SKU with `--busy-events` events. Then `ledger_p99_ms` and
  `history_p99_ms`: the API's own query functions (`history.queries`, no HTTP) for the busy
  SKU at its busiest site, on a read-only connection as the API opens it, `--queries` times
  each, p99; `history_disk_mb_per_million_events`: the database's size per million events.
* SQLite against DuckDB (`engines`): the same `--compare-events` rows written into each with
  the same schema, batch by batch (what a consumer does), then the same busy-SKU queries:
  write rate, query p99, disk per million events. DuckDB is optional
  (`pip install -e ".[bench]"`); without it `engines.duckdb` says so.

    .venv/bin/python -m bench.history [--events 5000000] [--busy-events 5000]

Writes bench/results/history.json and prints it as the last line of stdout.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from confluent_kafka import Producer

import twin.position
from bench.publish import publish
from history.consumer import HistoryConsumer
from history.queries import history, ledger
from history.settings import HistorySettings
from history.store import Batch, EventRow, HistoryStore, LatestRow, SiteRow
from infra.broker import LocalBroker
from infra.kafka_clients import delete_topics, ensure_topics, producer_config
from infra.probe import metadata_ready
from infra.settings import BrokerSettings
from infra.topics import INVENTORY_EVENTS, TOPIC_SPECS, TWIN_POSITIONS, topic_names
from twin._compiled import running_compiled
from twin.events import InventoryEvent, encode_event
from twin.position import SkuTwin, to_us
from twin.wire import NetworkTotals, Position, SitePosition

T0 = datetime(2026, 11, 20, tzinfo=UTC)
# a mix where every bucket moves, as a day of business does
_TYPES = ("RECEIVED", "PUT_AWAY", "RESERVED", "PICKED", "SHIPPED", "ADJUSTED", "COUNTED")
BUSY_SKU = "SKU-BUSY"
WRITE_BATCH = 5_000


def _event(i: int, sku: str, site: str, at: datetime) -> InventoryEvent:
    kind = _TYPES[i % len(_TYPES)]
    qty = -(i % 5 + 1) if kind == "ADJUSTED" else (i % 7 + 1) * (40 if kind == "COUNTED" else 1)
    return InventoryEvent(
        event_id=f"e{i}",
        type=kind,  # type: ignore[arg-type]
        sku=sku,
        site=site,
        qty=qty,
        uom="each",
        occurred_at=at,
        recorded_at=at + timedelta(seconds=30),
        source=f"wms-api:{site}",
    )


def _position(sku: str, version: int, at: datetime, sites: list[str], seed: int) -> Position:
    figures = {
        s: SitePosition(on_hand=seed % 90 + 10, reserved=seed % 7, atp=seed % 90 + 3) for s in sites
    }
    return Position(sku=sku, version=version, as_of=at, sites=figures, network=NetworkTotals())


def generate(
    n: int, skus: int, sites: int, days: float, busy: int, seed: int
) -> Iterator[tuple[InventoryEvent, int]]:
    """`n` events over `days` of event time (the busy SKU's `busy` among them), with their
    log offsets; in event-time order, as a live feed logs them."""
    rng = random.Random(seed)
    site_ids = [f"WH-{s:02d}" for s in range(1, sites + 1)]
    span_ms = days * 86_400_000
    busy_every = max(1, n // busy) if busy else 0
    for i in range(n):
        at = T0 + timedelta(milliseconds=i * span_ms / n)
        if busy_every and i % busy_every == 0:
            yield _event(i, BUSY_SKU, site_ids[rng.randrange(4)], at), i
        else:
            yield _event(i, f"SKU-{rng.randrange(skus):06d}", rng.choice(site_ids), at), i


def _site_row(e: InventoryEvent, version: int, i: int) -> SiteRow:
    at = to_us(e.occurred_at)
    return (e.sku, e.site, at, version, i % 90, 0, i % 7, 0, 0, 0, i % 90 - i % 7, 1)


# -- the store at scale (SQLite) -------------------------------------------------------------


def fill_sqlite(store: HistoryStore, args: argparse.Namespace) -> dict[str, Any]:
    twin = SkuTwin(BUSY_SKU)
    versions: dict[str, int] = {}
    events: list[EventRow] = []
    rows: list[SiteRow] = []
    seconds = 0.0

    def flush() -> None:
        nonlocal seconds
        start = time.perf_counter()
        store.write(Batch(events, rows, [], {}))
        seconds += time.perf_counter() - start
        events.clear()
        rows.clear()

    gen = generate(args.events, args.skus, args.sites, args.days, args.busy_events, seed=7)
    for e, i in gen:
        version = versions[e.sku] = versions.get(e.sku, 0) + 1
        if e.sku == BUSY_SKU:
            twin.apply_code(e)
        at = to_us(e.occurred_at)
        events.append(EventRow(e.sku, e.site, None, i % 6, i, at, at + 500_000, encode_event(e)))
        rows.append(_site_row(e, version, i))
        if len(events) >= WRITE_BATCH:
            flush()
    flush()
    end = T0 + timedelta(days=args.days)
    sites = [f"WH-{s:02d}" for s in range(1, args.sites + 1)]
    latest = [
        LatestRow(sku, v, to_us(end), msgspec.json.encode(_position(sku, v, end, sites, v)))
        for sku, v in versions.items()
        if sku != BUSY_SKU
    ]
    busy = twin.position(end, lambda _s: True)
    latest.append(LatestRow(BUSY_SKU, busy.version, to_us(end), msgspec.json.encode(busy)))
    store.write(Batch([], [], latest, {}))
    return {"store_write_events_per_s": round(args.events / seconds)}


def p99_ms(call: Callable[[], object], times: int) -> float:
    took = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    return round(took[min(len(took) - 1, int(len(took) * 0.99))], 2)


def query_sqlite(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    store = HistoryStore(path, readonly=True)
    try:
        site = "WH-01"
        busy_rows = len(store.sku_events(BUSY_SKU))
        result = ledger(store, BUSY_SKU, site, 7 * 86_400.0)
        assert result is not None and result.explained, "the busy SKU's ledger must add up"
        start, end = T0, T0 + timedelta(days=args.days + 1)
        return {
            "busy_sku_events": busy_rows,
            "busy_ledger_entries": len(result.entries),
            "ledger_p99_ms": p99_ms(lambda: ledger(store, BUSY_SKU, site, 604_800.0), args.queries),
            "history_p99_ms": p99_ms(
                lambda: history(store, BUSY_SKU, site, start, end), args.queries
            ),
            "history_points": len(history(store, BUSY_SKU, site, start, end)),
        }
    finally:
        store.close()


# -- SQLite against DuckDB on the same rows ---------------------------------------------------

_DUCK_SCHEMA = """
CREATE TABLE events (sku TEXT, site TEXT, to_site TEXT, part INTEGER, off BIGINT,
    occurred_us BIGINT, applied_us BIGINT, body BLOB);
CREATE TABLE site_positions (sku TEXT, site TEXT, as_of_us BIGINT, version INTEGER,
    on_hand INTEGER, receiving INTEGER, reserved INTEGER, picked INTEGER, quarantined INTEGER,
    in_transit INTEGER, atp INTEGER, fresh INTEGER);
CREATE INDEX events_by_sku ON events (sku);
CREATE INDEX site_positions_by_sku ON site_positions (sku, site);
"""


def compare_engines(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    rows = list(
        generate(args.compare_events, args.skus, args.sites, args.days, args.busy_events // 5, 9)
    )
    batches = [rows[i : i + WRITE_BATCH] for i in range(0, len(rows), WRITE_BATCH)]
    per_million = 1_000_000 / len(rows)

    def event_rows(batch: list[tuple[InventoryEvent, int]]) -> list[EventRow]:
        out = []
        for e, i in batch:
            at = to_us(e.occurred_at)
            out.append(EventRow(e.sku, e.site, None, i % 6, i, at, at + 1, encode_event(e)))
        return out

    results: dict[str, Any] = {}
    path = tmp / "compare.sqlite"
    store = HistoryStore(path)
    start = time.perf_counter()
    for batch in batches:
        store.write(Batch(event_rows(batch), [_site_row(e, 1, i) for e, i in batch], [], {}))
    write_s = time.perf_counter() - start
    store.close()
    reader = HistoryStore(path, readonly=True)
    t_end = to_us(T0 + timedelta(days=args.days + 1))
    results["sqlite"] = {
        "write_events_per_s": round(len(rows) / write_s),
        "busy_events_read_p99_ms": p99_ms(lambda: reader.sku_events(BUSY_SKU), args.queries),
        "busy_history_read_p99_ms": p99_ms(
            lambda: reader.site_positions(BUSY_SKU, "WH-01", 0, t_end), args.queries
        ),
        "disk_mb_per_million_events": round(_disk_mb(path) * per_million, 1),
    }
    reader.close()
    try:
        import duckdb
    except ImportError:
        results["duckdb"] = {"skipped": "duckdb not installed: pip install -e '.[bench]'"}
        return results
    dpath = tmp / "compare.duckdb"
    db = duckdb.connect(str(dpath), config={"threads": 1})  # one core, as SQLite has
    for statement in filter(str.strip, _DUCK_SCHEMA.split(";")):
        db.execute(statement)
    # DuckDB's row-at-a-time path (executemany) writes ~100 rows/s here: measured on a sample
    # below, and each batch goes in through its bulk path instead, a JSON-lines file read by
    # read_json in one INSERT (no pandas or Arrow needed)
    sample = [_site_row(e, 1, i) for e, i in rows[:500]]
    start = time.perf_counter()
    db.execute("BEGIN")
    db.executemany("INSERT INTO site_positions VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", sample)
    db.execute("ROLLBACK")
    executemany_rows_per_s = round(len(sample) / (time.perf_counter() - start))
    start = time.perf_counter()
    for batch in batches:
        _duck_insert(db, tmp / "batch.jsonl", "events", _EVENT_COLUMNS, [
            (r.sku, r.site, r.to_site, r.part, r.off, r.occurred_us, r.applied_us,
             r.body.decode())
            for r in event_rows(batch)
        ])  # fmt: skip
        _duck_insert(
            db, tmp / "batch.jsonl", "site_positions", _SITE_COLUMNS,
            [_site_row(e, 1, i) for e, i in batch],
        )  # fmt: skip
    write_s = time.perf_counter() - start
    db.execute("CHECKPOINT")

    def busy_events() -> object:
        return db.execute(
            "SELECT applied_us, body FROM events WHERE sku = ? ORDER BY part, off", [BUSY_SKU]
        ).fetchall()

    def busy_history() -> object:
        return db.execute(
            "SELECT * FROM site_positions WHERE sku = ? AND site = ? AND as_of_us < ? "
            "ORDER BY as_of_us",
            [BUSY_SKU, "WH-01", t_end],
        ).fetchall()

    results["duckdb"] = {
        "version": duckdb.__version__,
        "write_events_per_s": round(len(rows) / write_s),
        "executemany_rows_per_s": executemany_rows_per_s,
        "busy_events_read_p99_ms": p99_ms(busy_events, args.queries),
        "busy_history_read_p99_ms": p99_ms(busy_history, args.queries),
        "disk_mb_per_million_events": round(_disk_mb(dpath) * per_million, 1),
    }
    db.close()
    return results


_EVENT_COLUMNS = {
    "sku": "VARCHAR", "site": "VARCHAR", "to_site": "VARCHAR", "part": "INTEGER",
    "off": "BIGINT", "occurred_us": "BIGINT", "applied_us": "BIGINT", "body": "VARCHAR",
}  # fmt: skip
_SITE_COLUMNS = {
    name: "VARCHAR" if name in ("sku", "site") else "BIGINT"
    for name in ("sku", "site", "as_of_us", "version", "on_hand", "receiving", "reserved",
                 "picked", "quarantined", "in_transit", "atp", "fresh")
}  # fmt: skip


def _duck_insert(
    db: Any, scratch: Path, table: str, columns: dict[str, str], rows: list[tuple[Any, ...]]
) -> None:
    """One transaction: the rows as JSON lines, read back by DuckDB's read_json."""
    names = list(columns)
    scratch.write_bytes(
        b"\n".join(msgspec.json.encode(dict(zip(names, r, strict=True))) for r in rows)
    )
    spec = "{" + ", ".join(f"{n}: '{t}'" for n, t in columns.items()) + "}"
    select = ", ".join(f"{n}::BLOB" if n == "body" else n for n in names)
    db.execute("BEGIN")
    db.execute(f"INSERT INTO {table} SELECT {select} FROM read_json('{scratch}', columns={spec})")
    db.execute("COMMIT")


def _disk_mb(path: Path) -> float:
    files = [path, *path.parent.glob(path.name + "-*"), *path.parent.glob(path.name + ".wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / 1e6


# -- the consumer on the real broker, and the flows' rate beside it ---------------------------


def consumer_rate(bootstrap: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    suffix = f".bench{uuid.uuid4().hex[:8]}"
    topics = topic_names(suffix)
    ensure_topics(bootstrap, TOPIC_SPECS, suffix=suffix)
    sites = [f"WH-{s:02d}" for s in range(1, args.sites + 1)]
    try:
        producer = Producer(producer_config(bootstrap, **{"linger.ms": 50}))
        n = args.consumer_events
        gen = generate(n, args.skus, args.sites, 1.0, 0, seed=11)
        for k, (e, i) in enumerate(gen):
            _produce(producer, topics[INVENTORY_EVENTS], e.sku, encode_event(e))
            if k % args.events_per_position == 0:
                body = msgspec.json.encode(_position(e.sku, i, e.occurred_at, sites, i))
                _produce(producer, topics[TWIN_POSITIONS], e.sku, body)
        assert producer.flush(120) == 0
        settings = HistorySettings(
            kafka_bootstrap=bootstrap, history_db=tmp / "consumer.sqlite",
            history_topic_suffix=suffix, history_prune_every_s=3600,
        )  # fmt: skip
        store = HistoryStore(settings.db_path())
        consumer = HistoryConsumer(settings, store)
        consumer.open()
        first = None
        deadline = time.monotonic() + args.timeout
        while store.counts()[0] < n and time.monotonic() < deadline:
            if consumer.run_once(timeout_s=0.5) and first is None:
                first = time.perf_counter()
        elapsed = time.perf_counter() - (first or time.perf_counter())
        stored = store.counts()[0]
        consumer.close()
        store.close()
        if stored < n:
            raise RuntimeError(f"timed out: {stored} of {n} events stored")
        return {
            "history_ingest_events_per_s": round(n / elapsed),
            "consumer_events": n,
            "consumer_positions": n // args.events_per_position + 1,
        }
    finally:
        delete_topics(bootstrap, list(topics.values()))


def _produce(producer: Producer, topic: str, key: str, value: bytes) -> None:
    while True:
        try:
            producer.produce(topic, key=key.encode(), value=value)
            return
        except BufferError:
            producer.poll(0.05)


def e2e_rate(bootstrap: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    from bench.e2e_throughput import Run, bench_master, throughput
    from twin.masterdata import dump_master_data

    master = bench_master(5000)
    master_path = tmp / "master.yaml"
    master_path.write_text(dump_master_data(master))
    run = Run(bootstrap, master_path, tmp / "state", tmp / "flows.log")
    result = throughput(run, master, args.e2e_events, [], 0, args.timeout)
    return {"e2e_events_per_s": result["events_per_s"], "e2e_events": args.e2e_events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--busy-events", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--compare-events", type=int, default=200_000)
    parser.add_argument("--consumer-events", type=int, default=300_000)
    parser.add_argument("--events-per-position", type=int, default=5)
    parser.add_argument("--e2e-events", type=int, default=300_000)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()

    settings = BrokerSettings()
    bootstrap = settings.kafka_bootstrap
    broker: LocalBroker | None = None
    if not metadata_ready(bootstrap, timeout=5):
        broker = LocalBroker(settings)
        bootstrap = broker.up().bootstrap
    tmp = Path(tempfile.mkdtemp(prefix="history-bench-"))
    load_before = os.getloadavg()[0]
    try:
        e2e = e2e_rate(bootstrap, tmp, args)
        consumer = consumer_rate(bootstrap, tmp, args)
        engines = compare_engines(tmp, args)
        path = tmp / "history.sqlite"
        store = HistoryStore(path)
        scale = fill_sqlite(store, args)
        store.close()
        queries = query_sqlite(path, args)
        disk = round(_disk_mb(path) * 1_000_000 / args.events, 1)
    finally:
        if broker is not None:
            broker.down()
    publish(
        "history",
        {
            **consumer,
            **e2e,
            "history_keeps_up": consumer["history_ingest_events_per_s"] >= e2e["e2e_events_per_s"],
            "ledger_p99_ms": queries["ledger_p99_ms"],
            "history_p99_ms": queries["history_p99_ms"],
            "history_disk_mb_per_million_events": disk,
            "meets_query_target": max(queries["ledger_p99_ms"], queries["history_p99_ms"]) <= 100,
            **scale,
            **{k: v for k, v in queries.items() if not k.endswith("p99_ms")},
            "events": args.events,
            "skus": args.skus,
            "sites": args.sites,
            "days_retained": args.days,
            "engines": engines,
            "engine_chosen": "sqlite",
            "compiled_core": running_compiled(twin.position),
            "load_avg_1m_before": round(load_before, 2),
        },
    )
    for leftover in tmp.glob("*"):
        if leftover.is_file():
            leftover.unlink()


if __name__ == "__main__":
    main()
