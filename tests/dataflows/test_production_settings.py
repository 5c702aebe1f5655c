"""The production wiring hands the shards what the settings say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from dataflows.production import shard_factory
from dataflows.settings import FlowSettings
from twin.events import EventType, InventoryEvent
from twin.masterdata import load_master_data
from twin.shard import APPLIED, EXPIRED

EXAMPLE_MASTER = Path(__file__).resolve().parents[2] / "examples" / "network.yaml"


def _received(event_id: str, at: datetime) -> InventoryEvent:
    return InventoryEvent(
        event_id=event_id,
        type=EventType.RECEIVED,
        sku="SKU-00001",
        site="WH-01",
        qty=1,
        uom="each",
        occurred_at=at,
        source="test",
    )


def test_the_exactness_horizon_comes_from_the_flow_settings() -> None:
    master = load_master_data(EXAMPLE_MASTER)
    shard = shard_factory(FlowSettings(flow_horizon_s=3600), master).new().shard
    newest = datetime(2026, 11, 26, 12, tzinfo=UTC)
    now = newest + timedelta(minutes=1)
    inside = newest - timedelta(minutes=59)
    outside = newest - timedelta(minutes=61)
    result = shard.apply_batch(
        [_received("new", newest), _received("in", inside), _received("out", outside)], now
    )
    assert list(result.codes) == [APPLIED, APPLIED, EXPIRED]
