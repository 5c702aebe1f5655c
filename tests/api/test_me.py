"""GET /v1/me: the page learns the caller's role, so it never asks what would be refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import auth


def test_each_role_learns_what_it_includes_and_never_its_token(client: TestClient) -> None:
    viewer = client.get("/v1/me", headers=auth("viewer")).json()
    assert viewer == {"role": "viewer", "may": ["viewer"]}
    architect = client.get("/v1/me", headers=auth("architect")).json()
    assert architect == {"role": "architect", "may": ["viewer", "operator", "architect"]}
    assert client.get("/v1/me").status_code == 401
