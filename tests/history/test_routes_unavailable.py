"""The history routes when there is no history to read: a missing database is "no history"
(404, naming the process to run), a database without the store's tables a 503, never a 500."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.feed import FakeFeed
from history.settings import HistorySettings
from tests.api.conftest import auth, make_settings
from tests.api.fakes import FakeProducer


def client_on(tmp_path: Path, db: Path) -> TestClient:
    app = create_app(make_settings(tmp_path), feed=FakeFeed(), producer=FakeProducer())
    app.state.history_settings = HistorySettings(history_db=db)
    return TestClient(app)


def test_no_database_is_no_history(tmp_path: Path) -> None:
    with client_on(tmp_path, tmp_path / "absent.sqlite") as client:
        ledger = client.get("/v1/skus/A/sites/WH-01/ledger", headers=auth("viewer"))
        history = client.get("/v1/skus/A/history", headers=auth("viewer"))
    assert ledger.status_code == history.status_code == 404
    assert "invtwin history" in ledger.json()["detail"]


def test_a_database_without_the_store_is_unavailable_not_a_server_error(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE unrelated (a)")
    with client_on(tmp_path, db) as client:
        response = client.get("/v1/skus/A/sites/WH-01/ledger", headers=auth("viewer"))
        bad_range = client.get(
            "/v1/skus/A/history?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            headers=auth("viewer"),
        )
    assert response.status_code == 503
    assert bad_range.status_code == 422
