"""Alert cases on the real broker: an action taken on one API replica shows on another, and a
replica started afterwards rebuilds the case with its trail from the compacted topic."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from confluent_kafka import Producer
from fastapi.testclient import TestClient

from api.app import create_app
from infra.kafka_clients import producer_config
from infra.topics import TWIN_ALERTS
from tests.api.conftest import auth, make_settings
from tests.api.fakes import alert
from tests.polling import wait_until

pytestmark = pytest.mark.integration


def _case(client: TestClient, alert_id: str) -> dict | None:
    response = client.get(f"/v1/alerts/{alert_id}", headers=auth("viewer"))
    return response.json()["case"] if response.status_code == 200 else None


def test_cases_are_shared_by_replicas_and_survive_a_restart(
    kafka_bootstrap: str, twin_topics: dict[str, str], topic_suffix: str, tmp_path: Path
) -> None:
    producer = Producer(producer_config(kafka_bootstrap))
    producer.produce(twin_topics[TWIN_ALERTS], key=b"SKU-1", value=msgspec.json.encode(alert("a1")))
    producer.flush(10)
    settings = make_settings(
        tmp_path, kafka_bootstrap=kafka_bootstrap, api_topic_suffix=topic_suffix
    )
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        for replica in (one, two):
            wait_until(lambda r=replica: _case(r, "a1") is not None, 30, "the alert on a replica")
        for body in (
            {"action": "acknowledge"},
            {"action": "assign", "assignee": "Ben"},
            {"action": "resolve", "comment": "recounted"},
        ):
            response = one.post("/v1/alerts/a1/actions", json=body, headers=auth("operator"))
            assert response.status_code == 200, response.text
            version = response.json()["case"]["version"]
            wait_until(
                lambda v=version: (_case(two, "a1") or {}).get("version") == v,
                15,
                f"case version {version} on the other replica",
            )
        seen = _case(two, "a1")
        assert seen is not None and (seen["state"], seen["assignee"]) == ("resolved", "Ben")
    with TestClient(create_app(settings)) as restarted:
        wait_until(lambda: (_case(restarted, "a1") or {}).get("version") == 3, 30, "cases reread")
        case = _case(restarted, "a1")
        assert case is not None
        assert [e["action"] for e in case["trail"]] == ["acknowledge", "assign", "resolve"]
        assert case["trail"][-1]["comment"] == "recounted"
