"""Alert cases over REST, through the app factory with a fake feed and producer: listing
with filters, ranking and cursor pages, actions with their roles and 422s, CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from infra.topics import TWIN_ALERT_CASES
from tests.api.conftest import TOKENS, auth, make_settings
from tests.api.fakes import T0, FakeProducer, alert
from twin.alert_cases import case_decoder
from twin.wire import Alert


def discrepancy(alert_id: str, value: float, sku: str = "SKU-1") -> Alert:
    return Alert(
        id=alert_id,
        kind="COUNT_DISCREPANCY",
        severity="warning",
        detected_at=T0,
        explanation="count differs from the book",
        sku=sku,
        site="WH-01",
        details={"value": value},
    )


@pytest.fixture
def client(tmp_path: Path, feed: FakeFeed, producer: FakeProducer) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path), feed=feed, producer=producer)) as c:
        yield c


def act(client: TestClient, alert_id: str, role: str = "operator", **body: object) -> dict:
    response = client.post(f"/v1/alerts/{alert_id}/actions", json=body, headers=auth(role))
    assert response.status_code == 200, response.text
    return response.json()


def ids(client: TestClient, **params: object) -> list[str]:
    response = client.get("/v1/alerts", params=params, headers=auth("viewer"))
    assert response.status_code == 200, response.text
    return [a["id"] for a in response.json()["alerts"]]


def test_an_operator_acts_and_each_action_is_in_the_trail_and_on_the_topic(
    client: TestClient, feed: FakeFeed, producer: FakeProducer
) -> None:
    feed.push(alert("a1"))
    act(client, "a1", action="acknowledge")
    act(client, "a1", action="assign", assignee="Ben Ops")
    act(client, "a1", action="comment", comment="recount booked")
    body = act(client, "a1", action="resolve")
    assert body["case"]["state"] == "resolved" and body["case"]["assignee"] == "Ben Ops"
    trail = client.get("/v1/alerts/a1", headers=auth("viewer")).json()["case"]["trail"]
    assert [e["action"] for e in trail] == ["acknowledge", "assign", "comment", "resolve"]
    assert all(e["who"].startswith("operator-") and e["at"] for e in trail)
    assert TOKENS["operator"] not in str(trail)  # the secret token is never written down
    # every action went to the compacted topic, keyed by the alert id, with the whole trail
    topic, key, value = producer.sent[-1]
    assert (topic, key) == (TWIN_ALERT_CASES, b"a1")
    assert len(case_decoder.decode(value).trail) == 4


def test_viewers_read_but_may_not_act(client: TestClient, feed: FakeFeed) -> None:
    feed.push(alert("a1"))
    response = client.post(
        "/v1/alerts/a1/actions", json={"action": "acknowledge"}, headers=auth("viewer")
    )
    assert response.status_code == 403
    assert client.get("/v1/alerts/a1", headers=auth("viewer")).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "assign"}, "assignee"),
        ({"action": "snooze"}, "until"),
        ({"action": "snooze", "until": (T0 - timedelta(hours=1)).isoformat()}, "until"),
        ({"action": "reopen"}, "action"),
        ({"action": "shout"}, "action"),
    ],
)
def test_invalid_actions_are_422_naming_the_field(
    client: TestClient, feed: FakeFeed, body: dict[str, str], field: str
) -> None:
    feed.push(alert("a1"))
    response = client.post("/v1/alerts/a1/actions", json=body, headers=auth("operator"))
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


def test_an_unknown_alert_is_404(client: TestClient) -> None:
    response = client.post(
        "/v1/alerts/nope/actions", json={"action": "acknowledge"}, headers=auth("operator")
    )
    assert response.status_code == 404


def test_filters_by_case_state_assignee_mine_and_unassigned(
    client: TestClient, feed: FakeFeed
) -> None:
    feed.push(alert("a1"), alert("a2"), alert("a3"), alert("a4", state="cleared"))
    act(client, "a1", action="acknowledge")
    me = act(client, "a2", action="assign", assignee="Ben")["case"]["assignee"]
    you = client.get("/v1/alerts", headers=auth("operator")).json()["you"]
    act(client, "a3", action="assign", assignee=you)
    assert me == "Ben"
    assert ids(client) == ["a2", "a3"]  # open (default); a4 the twin cleared reads resolved
    assert ids(client, state="acknowledged") == ["a1"]
    assert ids(client, state="resolved") == ["a4"]
    assert ids(client, state="cleared") == ["a4"]
    assert ids(client, state="all", unassigned=True) == ["a1", "a4"]
    assert ids(client, state="all", assignee="Ben") == ["a2"]
    mine = client.get("/v1/alerts", params={"mine": True}, headers=auth("operator")).json()
    assert [a["id"] for a in mine["alerts"]] == ["a3"]


def test_count_discrepancies_rank_by_value_at_risk_and_page_without_a_cap(
    client: TestClient, feed: FakeFeed
) -> None:
    values = [float(v * 37 % 1000) for v in range(350)]
    feed.push(*(discrepancy(f"d{i:03}", v) for i, v in enumerate(values)))
    seen: list[dict] = []
    cursor = None
    while True:
        params: dict[str, object] = {"kind": "COUNT_DISCREPANCY", "limit": 100}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/v1/alerts", params=params, headers=auth("viewer")).json()
        assert body["total"] == 350
        seen += body["alerts"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 350 and len({a["id"] for a in seen}) == 350
    assert [a["value_at_risk"] for a in seen] == sorted(values, reverse=True)


def test_a_bad_cursor_is_422(client: TestClient) -> None:
    response = client.get("/v1/alerts", params={"cursor": "%%%"}, headers=auth("viewer"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


def test_csv_lists_the_filtered_alerts_with_their_case(client: TestClient, feed: FakeFeed) -> None:
    feed.push(discrepancy("d1", 1234.5), alert("a1"))
    act(client, "d1", action="assign", assignee="Ana")
    response = client.get(
        "/v1/alerts",
        params={"kind": "COUNT_DISCREPANCY"},
        headers={**auth("viewer"), "Accept": "text/csv"},
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["id"], r["assignee"], r["value_at_risk"], r["case_state"]) for r in rows] == [
        ("d1", "Ana", "1234.50", "open")
    ]


def test_case_changes_stream_to_watchers(client: TestClient, feed: FakeFeed) -> None:
    feed.push(alert("a1"))
    with client.websocket_connect(f"/v1/alerts/stream?token={TOKENS['viewer']}") as ws:
        act(client, "a1", action="snooze", until=(T0 + timedelta(days=3650)).isoformat())
        message = ws.receive_json()
    assert message["type"] == "case"
    assert message["item"]["id"] == "a1"
    assert message["item"]["case"]["state"] == "snoozed"


def test_a_named_token_records_its_holder_in_the_trail(
    tmp_path: Path, feed: FakeFeed, producer: FakeProducer
) -> None:
    tokens = f"Ana Ops={TOKENS['operator']}:operator,{TOKENS['viewer']}:viewer"
    app = create_app(make_settings(tmp_path, api_tokens=tokens), feed=feed, producer=producer)
    with TestClient(app) as named:
        feed.push(alert("a1"))
        act(named, "a1", action="acknowledge")
        trail = named.get("/v1/alerts/a1", headers=auth("viewer")).json()["case"]["trail"]
        assert [e["who"] for e in trail] == ["Ana Ops"]
