"""A 405 names every method of the path in `Allow` (RFC 9110), not only its first route's."""

from __future__ import annotations

import re
from collections import defaultdict

from fastapi import routing
from fastapi.testclient import TestClient

UNUSED = ("PATCH", "PUT", "DELETE", "POST", "GET")


def _methods_by_path(client: TestClient) -> dict[str, set[str]]:
    """Each concrete path (parameters filled in) and the methods of every route it matches."""
    by_path: dict[str, set[str]] = defaultdict(set)
    for route in routing.iter_route_contexts(client.app.router.routes):  # type: ignore[attr-defined]
        if route.path and route.methods and route.path.startswith("/v1/"):
            by_path[re.sub(r"\{[^}]+\}", "x", route.path)] |= set(route.methods)
    return by_path


def test_a_path_with_two_routes_lists_both_methods(client: TestClient) -> None:
    answer = client.put("/v1/scenarios")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"


def test_every_405_lists_exactly_the_methods_the_path_serves(client: TestClient) -> None:
    by_path = _methods_by_path(client)
    assert "/v1/scenarios" in by_path
    for path, declared in by_path.items():
        method = next(m for m in UNUSED if m not in declared)
        answer = client.request(method, path)
        assert answer.status_code == 405, (method, path)
        assert set(answer.headers["allow"].split(", ")) == declared, path


def test_static_files_keep_their_own_allow(client: TestClient) -> None:
    answer = client.post("/static/js/app.js")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"
