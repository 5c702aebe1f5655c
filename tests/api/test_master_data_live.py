"""The API applies `masterdata.v1` live, on the real broker: a SKU published a second ago is
accepted by ingest, a changed reorder point moves the SKU's at-risk standing, no restart."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from confluent_kafka import Producer
from fastapi.testclient import TestClient

from api.app import create_app
from infra.topics import MASTERDATA
from tests.api.conftest import auth, make_settings
from tests.api.fakes import event_json
from tests.polling import wait_until

pytestmark = pytest.mark.integration

BUNDLE = Path(__file__).parents[2] / "examples" / "network-bundle"


def _publish(bootstrap: str, topic: str, *changes: tuple[str, dict | None]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, row in changes:
        value = None if row is None else msgspec.json.encode(row)
        producer.produce(topic, key=key.encode(), value=value)
    assert producer.flush(30) == 0


def test_a_sku_published_live_is_accepted_and_its_policy_shown(
    kafka_bootstrap: str, twin_topics: dict[str, str], tmp_path: Path
) -> None:
    topic = twin_topics[MASTERDATA]
    # already on the topic before the replica starts: read while catching up
    _publish(
        kafka_bootstrap,
        topic,
        ("items:OLD-NEW", {"sku": "OLD-NEW", "base_uom": "each", "unit_value": 1}),
    )
    settings = make_settings(
        tmp_path,
        kafka_bootstrap=kafka_bootstrap,
        api_topic_suffix=twin_topics[MASTERDATA].removeprefix(MASTERDATA),
        master_data=BUNDLE,
    )
    event = {**event_json("live-1", sku="SKU-LIVE"), "uom": "each"}
    with TestClient(create_app(settings)) as api:
        wait_until(lambda: api.get("/readyz").status_code == 200, 30, "the API to be ready")
        state = api.app.state.twin  # type: ignore[attr-defined]
        assert state.ingest_checker.index.get_sku("OLD-NEW") is not None

        refused = api.post("/v1/events", json=event, headers=auth("ingest"))
        assert refused.status_code == 422, refused.text
        assert "unknown_sku" in refused.text

        _publish(
            kafka_bootstrap,
            topic,
            ("items:SKU-LIVE", {"sku": "SKU-LIVE", "base_uom": "each", "unit_value": "2.5"}),
            (
                "item_sites:SKU-LIVE@WH-01",
                {"sku": "SKU-LIVE", "site": "WH-01", "reorder_point": 40, "target": 80},
            ),
            ("aliases:WH-01@LOC-LIVE", {"scope": "WH-01", "code": "LOC-LIVE", "sku": "SKU-LIVE"}),
        )
        points = state.view.catalog.reorder_points
        wait_until(lambda: points.get(("SKU-LIVE", "WH-01")) == 40, 15, "the policy to arrive")
        accepted = api.post("/v1/events", json=event, headers=auth("ingest"))
        assert accepted.status_code == 202, accepted.text
        by_alias = {**event_json("live-2", sku="LOC-LIVE"), "uom": "each"}
        assert api.post("/v1/events", json=by_alias, headers=auth("ingest")).status_code == 202

        # a reorder point changed, and a policy deleted, follow in the view's catalogue
        sku = "SKU-00001"
        _publish(
            kafka_bootstrap,
            topic,
            (f"item_sites:{sku}@WH-01", {"sku": sku, "site": "WH-01", "reorder_point": 7}),
            (f"item_sites:{sku}@WH-02", None),
        )
        wait_until(lambda: points.get((sku, "WH-01")) == 7, 15, "the changed reorder point")
        wait_until(lambda: (sku, "WH-02") not in points, 15, "the deleted policy")
        assert state.master_data.changes_refused == 0
