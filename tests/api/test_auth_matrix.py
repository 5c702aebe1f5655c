"""Every route and every role: 401 without or with an unknown token, 403 for a wrong role.

The grants are written out here (DESIGN "Roles": viewer < operator < architect; ingest on
its own; admin has all), not derived from the code under test. WebSockets are accepted,
then closed with 4401 / 4403, so a client (the dashboard) can tell an auth refusal apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.auth import Principal, Role
from api.feed import FakeFeed
from tests.api.conftest import TOKENS
from tests.api.fakes import event_json, position


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    role: Role
    json: Any = None


ROUTES = [
    Route("GET", "/v1/skus", Role.VIEWER),
    Route("GET", "/v1/skus/SKU-1", Role.VIEWER),
    Route("GET", "/v1/network", Role.VIEWER),
    Route("GET", "/v1/sites/WH-01", Role.VIEWER),
    Route("GET", "/v1/alerts", Role.VIEWER),
    Route("GET", "/v1/metrics/sites", Role.VIEWER),
    Route("POST", "/v1/events", Role.INGEST, event_json()),
    Route("GET", "/v1/scenarios", Role.ARCHITECT),
    # Both name and spec: a 422 once authorised, so no worker process is started here.
    Route("POST", "/v1/scenarios", Role.ARCHITECT, {"scenario": "x", "spec": "y"}),
    Route("GET", "/v1/scenarios/nope", Role.ARCHITECT),
    Route("GET", "/v1/scenarios/nope/plots/accuracy", Role.ARCHITECT),
]
WS_ROUTES = [("/v1/stream", Role.VIEWER), ("/v1/scenarios/nope/stream", Role.ARCHITECT)]
CALLERS = [None, "bogus", *TOKENS]


def _headers(caller: str | None) -> dict[str, str]:
    if caller is None:
        return {}
    token = TOKENS.get(caller, "not-a-token")
    return {"Authorization": f"Bearer {token}"}


# What each role may do, by the roles it includes.
GRANTS: dict[str, set[Role]] = {
    "viewer": {Role.VIEWER},
    "operator": {Role.VIEWER, Role.OPERATOR},
    "architect": {Role.VIEWER, Role.OPERATOR, Role.ARCHITECT},
    "ingest": {Role.INGEST},
    "admin": set(Role),
}


def _allowed(caller: str | None, role: Role) -> bool | None:
    if caller not in TOKENS:
        return None  # unauthenticated
    return role in GRANTS[caller]


def test_every_role_has_a_test_token_and_the_code_grants_what_design_says() -> None:
    assert set(TOKENS) == {r.value for r in Role} == set(GRANTS)
    for caller, granted in GRANTS.items():
        principal = Principal(TOKENS[caller], Role(caller))
        assert {role for role in Role if principal.may(role)} == granted, caller


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_rest_route_auth(client: TestClient, feed: FakeFeed, route: Route, caller: str | None):
    feed.push(position("SKU-1", 1))
    response = client.request(route.method, route.path, json=route.json, headers=_headers(caller))
    allowed = _allowed(caller, route.role)
    if allowed is None:
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
    elif not allowed:
        assert response.status_code == 403
    else:
        assert response.status_code in (200, 202, 404, 422), response.text
        if route.method == "POST" and route.path == "/v1/scenarios":
            assert response.status_code == 422


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("path", "role"), WS_ROUTES)
def test_websocket_auth_closes_after_accept_with_the_contract_codes(
    client: TestClient, path: str, role: Role, caller: str | None
):
    allowed = _allowed(caller, role)
    token = TOKENS.get(caller or "", "not-a-token")
    url = path if caller is None else f"{path}?token={token}"
    with client.websocket_connect(url) as ws:  # accepted in every case
        if allowed and path == "/v1/stream":
            assert ws.receive_json()["type"] == "snapshot"
            return
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    if allowed:  # authorised, but the run does not exist
        assert closed.value.code == 4404
    else:
        assert closed.value.code == (4401 if allowed is None else 4403)


def test_websocket_accepts_the_bearer_header(client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {TOKENS['viewer']}"}
    with client.websocket_connect("/v1/stream", headers=headers) as ws:
        assert ws.receive_json()["type"] == "snapshot"


def test_websocket_from_a_foreign_origin_is_forbidden(client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {TOKENS['viewer']}", "Origin": "https://evil.example"}
    with (
        client.websocket_connect("/v1/stream", headers=headers) as ws,
        pytest.raises(WebSocketDisconnect) as refused,
    ):
        ws.receive_json()
    assert (refused.value.code, refused.value.reason) == (4403, "origin not allowed")


def test_health_and_metrics_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
