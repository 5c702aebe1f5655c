"""Fixtures of the API tests: an app built by the factory with a fake feed and producer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from api.settings import ApiSettings
from tests.api.fakes import FakeProducer

TOKENS = {
    "viewer": "tok-viewer",
    "operator": "tok-operator",
    "architect": "tok-architect",
    "ingest": "tok-ingest",
    "admin": "tok-admin",
}


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def make_settings(tmp_path: Path, **overrides: object) -> ApiSettings:
    values: dict[str, object] = {
        "api_tokens": ",".join(f"{tok}:{role}" for role, tok in TOKENS.items()),
        "scenario_dir": tmp_path / "scenarios",
        "scenario_runner": "tests.api.fakes:fake_runner",
        "ws_tick_s": 0.02,
        "ws_subscribe_wait_s": 0.0,
        "ws_heartbeat_s": 3600.0,
    }
    values.update(overrides)
    return ApiSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def feed() -> FakeFeed:
    return FakeFeed()


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


@pytest.fixture
def settings(tmp_path: Path) -> ApiSettings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: ApiSettings, feed: FakeFeed, producer: FakeProducer) -> Iterator[TestClient]:
    app = create_app(settings, feed=feed, producer=producer)
    with TestClient(app) as test_client:
        yield test_client
