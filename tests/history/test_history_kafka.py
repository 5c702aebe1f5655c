"""The history store fed from the real broker: the ledger adds up to the published position,
a restart neither loses nor doubles a record, retention drops old rows, and the API answers
the ledger and the history (JSON and CSV) from the store."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from confluent_kafka import Producer
from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from history.consumer import HistoryConsumer
from history.ledger import BUCKETS
from history.settings import HistorySettings
from history.store import HistoryStore
from infra.kafka_clients import producer_config
from infra.topics import INVENTORY_EVENTS, TWIN_POSITIONS
from tests.api.conftest import auth, make_settings
from tests.api.fakes import FakeProducer
from tests.polling import wait_until
from twin.events import InventoryEvent, encode_event
from twin.position import SkuTwin, to_us
from twin.wire import NetworkTotals, Position, SitePosition

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SKU = "SKU-LEDGER"


def ev(n: int, type_: str, site: str, qty: int, minutes: float, **extra: str) -> InventoryEvent:
    return InventoryEvent(
        event_id=extra.pop("event_id", f"e{n}"),
        type=type_,  # type: ignore[arg-type]
        sku=SKU,
        site=site,
        qty=qty,
        uom="each",
        occurred_at=T0 + timedelta(minutes=minutes),
        recorded_at=T0 + timedelta(minutes=minutes, seconds=5),
        source=f"wms-api:{site}",
        **extra,  # type: ignore[arg-type]
    )


def story() -> list[InventoryEvent]:
    """Receipts, a reservation partly picked, a count, a late adjustment from before the
    count (inside it: no on-hand effect), a transfer on its way, a duplicate, a hold."""
    return [
        ev(1, "RECEIVED", "WH-01", 100, 0),
        ev(2, "PUT_AWAY", "WH-01", 100, 1),
        ev(3, "RESERVED", "WH-01", 30, 3),
        ev(4, "COUNTED", "WH-01", 90, 5),
        ev(5, "PICKED", "WH-01", 10, 6),
        ev(6, "SHIPPED", "WH-01", 10, 7),
        ev(7, "ADJUSTED", "WH-01", -5, 2),
        ev(8, "TRANSFER_SHIPPED", "WH-02", 20, 8, to_site="WH-01", transfer_id="T-1"),
        ev(3, "RESERVED", "WH-01", 30, 3),
        ev(9, "QUALITY_HOLD", "WH-01", 5, 9),
    ]


def produce(bootstrap: str, topic: str, records: list[tuple[str, bytes]]) -> None:
    producer = Producer(producer_config(bootstrap))
    for key, value in records:
        producer.produce(topic, key=key.encode(), value=value)
    assert producer.flush(10) == 0


def published(events: list[InventoryEvent]) -> bytes:
    """The position the twin publishes after `events` (the core's own fold)."""
    twin = SkuTwin(SKU)
    for e in events:
        twin.apply_code(e)
    return msgspec.json.encode(twin.position(T0 + timedelta(hours=1), lambda _site: True))


@pytest.fixture
def settings(kafka_bootstrap: str, twin_topics: dict[str, str], tmp_path: Path) -> HistorySettings:
    suffix = twin_topics[INVENTORY_EVENTS].removeprefix(INVENTORY_EVENTS)
    return HistorySettings(
        kafka_bootstrap=kafka_bootstrap,
        state_dir=tmp_path,
        history_topic_suffix=suffix,
        history_batch=4,
        history_prune_every_s=3600,
    )


@pytest.fixture
def store(settings: HistorySettings) -> Iterator[HistoryStore]:
    store = HistoryStore(settings.db_path())
    yield store
    store.close()


def consume_until(
    consumer: HistoryConsumer, store: HistoryStore, events: int, positions: int
) -> None:
    def stored() -> bool:
        consumer.run_once(timeout_s=0.2)
        return store.counts() == (events, positions)

    wait_until(stored, 20, f"{events} events and {positions} positions stored")


def test_restart_neither_loses_nor_doubles_and_the_ledger_adds_up(
    settings: HistorySettings, store: HistoryStore
) -> None:
    events = story()
    produce(
        settings.kafka_bootstrap,
        settings.topic(INVENTORY_EVENTS),
        [(SKU, encode_event(e)) for e in events],
    )
    first = HistoryConsumer(settings, store)
    first.open()
    wait_until(lambda: first.run_once(timeout_s=0.2) > 0, 20, "a first batch")
    stored_before_restart = store.counts()[0]
    first.close()  # a stop between two transactions, as a crash would leave it
    assert 0 < stored_before_restart < len(events)  # batches of 4: the restart is mid-stream

    produce(settings.kafka_bootstrap, settings.topic(TWIN_POSITIONS), [(SKU, published(events))])
    late = ev(10, "RESERVED", "WH-01", 4, 10)  # logged, not yet in a published position
    produce(settings.kafka_bootstrap, settings.topic(INVENTORY_EVENTS), [(SKU, encode_event(late))])
    second = HistoryConsumer(settings, store)
    second.open()
    consume_until(second, store, len(events) + 1, 2)  # one position, two sites
    second.close()
    offsets = [off for (topic, _part), off in store.offsets().items() if "events" in topic]
    assert sum(offsets) == len(events) + 1  # one partition holds the SKU: offsets 0..n

    client = api_client(settings)
    with client:
        body = client.get(f"/v1/skus/{SKU}/sites/WH-01/ledger", headers=auth("viewer")).json()
    position = msgspec.json.decode(published(events))["sites"]["WH-01"]
    assert body["explained"] is True
    assert body["totals"] == {b: position[b] for b in BUCKETS} == body["position"]
    assert body["count"]["event_id"] == "e4"
    assert body["opening"]["on_hand"] == 100  # the count found 90 where the book said 100
    assert body["count"]["effect"]["on_hand"] == -10
    summed = dict(body["opening"])
    for entry in [body["count"], *body["entries"]]:
        for bucket in BUCKETS:
            summed[bucket] += entry["effect"][bucket]
    assert summed == body["totals"]
    by_id = {e["event_id"]: e for e in body["entries"]}
    assert by_id["e7"]["effect"]["on_hand"] == 0  # occurred before the count: inside it
    assert [e["status"] for e in body["entries"] if e["event_id"] == "e3"] == ["duplicate"]
    assert by_id["e8"]["effect"]["in_transit"] == 20
    assert by_id["e8"]["feed"] == "wms-api"
    assert body["open_reservations"]["balance"] == 20
    assert sum(e["effect"]["reserved"] for e in body["open_reservations"]["entries"]) == 20
    assert [e["event_id"] for e in body["in_transit"]["entries"]] == ["e8"]
    assert [e["event_id"] for e in body["pending"]] == ["e10"]


def test_retention_drops_rows_older_than_the_window(
    settings: HistorySettings, store: HistoryStore
) -> None:
    old = ev(1, "RECEIVED", "WH-01", 5, -10 * 24 * 60)
    recent = [ev(2, "RECEIVED", "WH-01", 5, 0), ev(3, "PUT_AWAY", "WH-01", 5, 1)]
    produce(
        settings.kafka_bootstrap,
        settings.topic(INVENTORY_EVENTS),
        [(SKU, encode_event(e)) for e in (old, *recent)],
    )
    # positions: WH-01 ten days ago and now, WH-02 only ten days ago (its figures still hold)
    ten_days_ago = T0 - timedelta(days=10)
    positions = [
        position_at(1, ten_days_ago, {"WH-01": 5, "WH-02": 7}),
        position_at(2, T0, {"WH-01": 10, "WH-02": 7}),
    ]
    produce(settings.kafka_bootstrap, settings.topic(TWIN_POSITIONS), positions)
    consumer = HistoryConsumer(settings, store)
    consumer.open()
    consume_until(consumer, store, 3, 3)  # WH-02 unchanged in the second position: no row
    assert consumer.prune() == (1, 1)  # 7 days kept behind the newest event and position
    consumer.close()
    assert [e for _, e in store.sku_events(SKU)] == [encode_event(e) for e in recent]
    assert store.events_pruned_before_us() is not None
    rows = store.site_positions(SKU, None, 0, to_us(T0 + timedelta(days=1)))
    assert [(r[1], r[4]) for r in rows] == [("WH-02", 7), ("WH-01", 10)]


def position_at(version: int, at: datetime, on_hand: dict[str, int]) -> tuple[str, bytes]:
    sites = {site: SitePosition(on_hand=q, atp=q) for site, q in on_hand.items()}
    position = Position(sku=SKU, version=version, as_of=at, sites=sites, network=NetworkTotals())
    return SKU, msgspec.json.encode(position)


def test_history_and_ledger_as_csv(settings: HistorySettings, store: HistoryStore) -> None:
    events = story()[:4]
    produce(
        settings.kafka_bootstrap,
        settings.topic(INVENTORY_EVENTS),
        [(SKU, encode_event(e)) for e in events],
    )
    produce(
        settings.kafka_bootstrap,
        settings.topic(TWIN_POSITIONS),
        [(SKU, published(events[:2])), (SKU, published(events))],
    )
    consumer = HistoryConsumer(settings, store)
    consumer.open()
    consume_until(consumer, store, 4, 2)
    consumer.close()
    csv_headers = {**auth("viewer"), "Accept": "text/csv"}
    with api_client(settings) as client:
        history = client.get(f"/v1/skus/{SKU}/history?site=WH-01", headers=auth("viewer")).json()
        rows = list(
            csv.DictReader(
                io.StringIO(
                    client.get(
                        f"/v1/skus/{SKU}/history", params={"site": "WH-01"}, headers=csv_headers
                    ).text
                )
            )
        )
        ledger_rows = list(
            csv.DictReader(
                io.StringIO(
                    client.get(f"/v1/skus/{SKU}/sites/WH-01/ledger", headers=csv_headers).text
                )
            )
        )
        missing = client.get("/v1/skus/NOPE/sites/WH-01/ledger", headers=auth("viewer"))
        anonymous = client.get(f"/v1/skus/{SKU}/history")
    assert [p["version"] for p in history["points"]] == [2, 4]
    assert [int(r["on_hand"]) for r in rows] == [p["on_hand"] for p in history["points"]]
    kinds = [r["row"] for r in ledger_rows]
    assert kinds == ["opening", "count", "carried", "total", "position"]
    total = next(r for r in ledger_rows if r["row"] == "total")
    assert total["atp"] == next(r for r in ledger_rows if r["row"] == "position")["atp"]
    assert missing.status_code == 404
    assert anonymous.status_code == 401


def api_client(settings: HistorySettings) -> TestClient:
    app = create_app(make_settings(settings.state_dir), feed=FakeFeed(), producer=FakeProducer())
    app.state.history_settings = settings
    return TestClient(app)
