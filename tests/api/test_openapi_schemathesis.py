"""Schemathesis over the OpenAPI document: no 5xx, responses match the documented schemas.

Runs in-process against the app factory with a fake feed (seeded with a few records) and a
fake producer. Starting scenario runs is left out: it spawns worker processes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.feed import FakeFeed
from tests.api.conftest import TOKENS, make_settings
from tests.api.fakes import FakeProducer, alert, position, site_metric


class _SeededFeed(FakeFeed):
    def start(self, view, loop) -> None:  # type: ignore[no-untyped-def]
        super().start(view, loop)
        for record in (position("SKU-1", 1), alert("a1"), site_metric("WH-01")):
            view.apply(record)


def _schema():  # type: ignore[no-untyped-def]
    # Built at collection (schemathesis parametrizes from it); scenario runs are excluded,
    # so the scenario directory is never written.
    app = create_app(
        make_settings(Path(tempfile.gettempdir()), ingest_rate_per_s=10_000, ingest_burst=10_000),
        feed=_SeededFeed(),
        producer=FakeProducer(),
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app).exclude(
        method="POST", path="/v1/scenarios"
    )


schema = _schema()


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_its_schema(case) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKENS['admin']}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
