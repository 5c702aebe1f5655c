"""POST /v1/events refuses what the twin would not apply: master data, horizon, limits.

The API runs with the example master data (examples/network.yaml) and a fake producer; the
view is fed by hand, so the horizon's reference (the newest event of a SKU) is known.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from tests.api.conftest import auth, make_settings
from tests.api.fakes import T0, FakeProducer, position

NETWORK = Path(__file__).resolve().parents[2] / "examples" / "network.yaml"


def event(event_id: str = "md-1", **fields: Any) -> dict[str, Any]:
    """A RECEIVED of 5 each of SKU-00001 at WH-01 (valid against examples/network.yaml)."""
    return {
        "event_id": event_id,
        "type": "RECEIVED",
        "sku": "SKU-00001",
        "site": "WH-01",
        "qty": 5,
        "uom": "each",
        "occurred_at": T0.isoformat(),
        "source": "wms-api:WH-01",
        **fields,
    }


@pytest.fixture
def md_client(tmp_path: Path, feed: FakeFeed, producer: FakeProducer) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, master_data=NETWORK, ingest_max_events=3)
    with TestClient(create_app(settings, feed=feed, producer=producer)) as client:
        yield client


def post(client: TestClient, body: object) -> Any:
    return client.post("/v1/events", content=json.dumps(body), headers=auth("ingest"))


def errors_of(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {e["field"]: e["code"] for e in response.json()["errors"]}


def test_a_valid_event_is_accepted(md_client: TestClient, producer: FakeProducer) -> None:
    assert post(md_client, event()).status_code == 202
    assert len(producer.sent) == 1


def test_an_unknown_sku_is_422_naming_sku(md_client: TestClient, producer: FakeProducer) -> None:
    response = post(md_client, event(sku="SKU-99999"))
    assert errors_of(response) == {"sku": "unknown_sku"}
    [error] = response.json()["errors"]
    assert error["value"] == "SKU-99999" and error["message"]
    assert producer.sent == []


def test_an_unknown_site_is_422_naming_site(md_client: TestClient) -> None:
    assert errors_of(post(md_client, event(site="WH-99"))) == {"site": "unknown_site"}


def test_a_unit_the_sku_does_not_have_is_422_naming_uom(md_client: TestClient) -> None:
    assert errors_of(post(md_client, event(uom="crate"))) == {"uom": "unknown_uom"}


def test_a_fractional_base_quantity_is_422_naming_qty(md_client: TestClient) -> None:
    assert errors_of(post(md_client, event(qty=1.5))) == {"qty": "fractional_qty"}


def test_a_fraction_of_a_case_that_is_whole_in_base_units_is_accepted(
    md_client: TestClient,
) -> None:
    # SKU-00001: a case is 12 each, so half a case is 6 each.
    assert post(md_client, event(qty=0.5, uom="case")).status_code == 202


def test_a_site_local_item_code_is_accepted_at_its_own_site_only(md_client: TestClient) -> None:
    alias = {"sku": "L02-00003", "site": "WH-02", "source": "wms-api:WH-02"}
    assert post(md_client, event("alias-ok", **alias)).status_code == 202
    elsewhere = post(md_client, event("alias-bad", **{**alias, "site": "WH-01"}))
    assert errors_of(elsewhere) == {"sku": "unknown_sku"}


def test_every_error_of_every_record_is_listed_with_its_index(md_client: TestClient) -> None:
    body = [event("a"), event("b", sku="NOPE", uom="crate"), event("c", site="X", qty=2.5)]
    assert errors_of(post(md_client, body)) == {
        "[1].sku": "unknown_sku",
        "[2].site": "unknown_site",
        "[2].qty": "fractional_qty",
    }


def test_an_event_beyond_the_horizon_of_its_sku_is_422_naming_occurred_at(
    md_client: TestClient, feed: FakeFeed
) -> None:
    feed.push(position("SKU-00001", 1, site="WH-02"))  # its newest event: T0, at WH-02
    too_old = (T0 - timedelta(days=7, seconds=1)).isoformat()
    assert errors_of(post(md_client, event(occurred_at=too_old))) == {
        "occurred_at": "outside_horizon"
    }
    just_in = (T0 - timedelta(days=6, hours=23)).isoformat()
    assert post(md_client, event(occurred_at=just_in)).status_code == 202
    # Another SKU has no newest event yet: the twin would apply it, so is it accepted.
    assert post(md_client, event("other", sku="SKU-00002", occurred_at=too_old)).status_code == 202


def test_a_far_future_newest_event_does_not_make_every_later_event_refused(
    md_client: TestClient, feed: FakeFeed
) -> None:
    # The twin keeps its horizon where it was for an event this far ahead of its clock.
    future = position("SKU-00003", 1)
    future.sites["WH-01"].last_event_at = datetime(2099, 1, 1, tzinfo=UTC)
    feed.push(future)
    a_week_ago = (T0 - timedelta(days=8)).isoformat()
    response = post(md_client, event("after-future", sku="SKU-00003", occurred_at=a_week_ago))
    assert response.status_code == 202, response.text


def test_more_events_than_the_limit_in_one_request_is_413(md_client: TestClient) -> None:
    assert post(md_client, [event(f"n{i}") for i in range(4)]).status_code == 413


def test_without_master_data_only_the_contract_and_horizon_are_checked(
    client: TestClient, producer: FakeProducer
) -> None:
    # The flows decide alone then (an unknown SKU is dead-lettered there), as before.
    assert post(client, event(sku="ANYTHING", uom="crate")).status_code == 202
    assert len(producer.sent) == 1
