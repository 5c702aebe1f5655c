"""The canonical event v1: its JSON, its JSON Schema, and round trips through the decoders."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from twin.events import EventType, InventoryEvent, encode_event, event_json_schema
from twin.validation import decode_event

EVENT = InventoryEvent(
    event_id="E-1",
    type=EventType.TRANSFER_SHIPPED,
    sku="SKU-1",
    site="WH-01",
    qty=24,
    uom="each",
    occurred_at=datetime(2026, 11, 26, 10, 2, tzinfo=UTC),
    source="wms-api:WH-01",
    to_site="WH-02",
    transfer_id="T-7",
)


def test_event_json_has_the_field_names_of_the_design_and_omits_absent_options() -> None:
    assert json.loads(encode_event(EVENT)) == {
        "event_id": "E-1",
        "type": "TRANSFER_SHIPPED",
        "sku": "SKU-1",
        "site": "WH-01",
        "qty": 24,
        "uom": "each",
        "occurred_at": "2026-11-26T10:02:00Z",
        "source": "wms-api:WH-01",
        "to_site": "WH-02",
        "transfer_id": "T-7",
    }


def test_an_encoded_event_decodes_to_an_equal_event() -> None:
    assert decode_event(encode_event(EVENT)) == EVENT


def test_schema_lists_every_field_and_requires_the_mandatory_ones() -> None:
    schema = event_json_schema()
    body = schema["$defs"]["InventoryEvent"]
    assert set(body["properties"]) == {
        "event_id", "type", "sku", "site", "qty", "uom", "occurred_at",
        "recorded_at", "source", "to_site", "transfer_id", "ref",
    }  # fmt: skip
    assert set(body["required"]) == {
        "event_id", "type", "sku", "site", "qty", "uom", "occurred_at", "source",
    }  # fmt: skip
    assert body["properties"]["event_id"]["maxLength"] == 128
    assert set(schema["$defs"]["EventType"]["enum"]) == {t.value for t in EventType}
    assert schema["$schema"].endswith("2020-12/schema")
    assert "TRANSFER_SHIPPED needs to_site" in schema["description"]
    json.dumps(schema)  # JSON-able as it is


def test_event_types_are_the_thirteen_of_the_design() -> None:
    assert len(EventType) == 13


def test_the_shipped_schema_file_is_the_current_schema() -> None:
    shipped = Path(__file__).parents[2] / "examples" / "inventory-event-v1.schema.json"
    assert json.loads(shipped.read_text()) == event_json_schema()
