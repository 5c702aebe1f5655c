"""The FastAPI app factory: the composition root of the API service.

`create_app(settings, feed=None, producer=None)` wires everything; the view, the feed, the
producer, the broadcaster and the scenario manager are made in the lifespan and kept on
`app.state.twin`. Tests pass a `FakeFeed` and a fake producer; production gets the Kafka ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api import (
    routes_alerts,
    routes_history,
    routes_ingest,
    routes_me,
    routes_scenarios,
    routes_stream,
    routes_view,
)
from api.alert_cases import CaseBook, CaseReader
from api.allow_header import AllowHeader
from api.auth import TokenBook, TokenConfigError, parse_token_entries
from api.broadcaster import Broadcaster
from api.deps import AppState, State
from api.event_index import EventIdIndex
from api.feed import Feed, KafkaFeed
from api.idempotency_log import IdempotencyLog, KafkaIdempotencyLog, NoLog
from api.ingest import RateLimiter
from api.ingest_validation import IngestChecker
from api.master_data import LiveMasterData, MasterDataReader
from api.problems import install_error_handlers
from api.producer import EventProducer, KafkaEventProducer
from api.scenarios import ScenarioManager
from api.schemas import HealthModel, ReadyModel
from api.settings import ApiSettings
from api.telemetry import ApiMetrics
from api.view import Catalog, SiteInfo, TwinView
from api.ws_limits import ConnectionSlots
from history.settings import HistorySettings
from infra.topics import FEEDS_API, MASTERDATA, TOPIC_SPECS, TWIN_ALERT_CASES
from twin.events import InventoryEvent

if TYPE_CHECKING:
    from twin.masterdata import MasterIndex

log = logging.getLogger("api")
STATIC_DIR = Path(__file__).resolve().parent / "static"

_PLACEHOLDER_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<title>Inventory Twin</title></head><body><h1>Inventory Twin API</h1>
<p>The dashboard is not installed. See <a href="/docs">/docs</a>.</p></body></html>"""


_DESCRIPTION = """
Live per-SKU, per-site inventory positions, alerts and feed analytics; governed ingest;
scenario runs. Authenticate with `Authorization: Bearer <token>` (roles: viewer < operator <
architect; ingest alone; admin all). Errors are `application/problem+json` (`Problem`).

**WebSocket `/v1/stream`** (viewer; token in the header or `?token=`). Refusals come after
`accept`, as close codes: 4401 no or unknown token, 4403 role or Origin not allowed, 1013
server full or this token's share of connections taken (retry later), 1009 a message or a
subscription over the limits (`TWIN_WS_MAX_*`), 4408 too slow a reader. Query `skus`,
`sites` (comma-separated), `channels` (`positions,alerts,metrics`), `since`, `session`; or send
`{"type":"subscribe","skus":[..],"sites":[..],"channels":[..],"since":n}`.
Server frames: `snapshot` (`seq`, `session`, `positions`, `alerts`, `sites`), then `delta`
(`seq`, `positions`, `alerts`, `metrics`, and `coalesced: true` when a slow client got the
latest state instead of a backlog). `seq` is gap-free per connection; `heartbeat` carries the
last seq and consumes none; `{"type":"ping"}` gets `pong`. `since` resumes from the replay
buffer, else `resync` then a fresh snapshot. A client that cannot keep up is closed 4408.

**WebSocket `/v1/scenarios/{id}/stream`** (architect): `progress`, `metrics`, then `report`
(with plot URLs) or `failed`; the same admission and close codes, 4404 for an unknown run.
"""


def load_master_index(path: Path | None) -> MasterIndex | None:
    """Master data indexed once at start-up (None without `TWIN_MASTER_DATA`): a YAML file,
    or a CSV bundle read straight into columns."""
    if path is None:
        return None
    from twin.masterdata import load_master_index as load

    return load(path)


def load_catalog(master: MasterIndex | None) -> Catalog:
    """Site names and reorder points from master data (an empty catalog without it), read
    from the index's columns: a catalogue never becomes a struct per SKU here."""
    if master is None:
        return Catalog()
    from api.reorder_points import ColumnReorderPoints

    cols = master.columns
    return Catalog(
        sites={s.id: SiteInfo(name=s.name or s.id, feed_mode=s.feed_mode) for s in cols.sites},
        reorder_points=ColumnReorderPoints(cols),
    )


def create_app(
    settings: ApiSettings | None = None,
    feed: Feed | None = None,
    producer: EventProducer | None = None,
    idempotency_log: IdempotencyLog | None = None,
) -> FastAPI:
    """Build the app; it refuses to be built without tokens (see `invtwin api --dev`).

    Without `idempotency_log`, ingested event ids are read back from Kafka when the producer
    is the real one, and not at all with a fake producer (`NoLog`).
    """
    settings = settings or ApiSettings()
    try:
        tokens = parse_token_entries(settings.api_tokens)
    except TokenConfigError as exc:
        raise SystemExit(f"TWIN_API_TOKENS: {exc}") from exc
    if not tokens:
        raise SystemExit(
            "no API tokens: set TWIN_API_TOKENS='[name=]token:role,...' or run `invtwin api --dev`"
        )

    clock = settings.domain_clock()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics = ApiMetrics()
        master = load_master_index(settings.master_data)
        view = TwinView(load_catalog(master))
        topics = {spec.name: settings.topic(spec.name) for spec in TOPIC_SPECS}
        the_feed = feed or KafkaFeed(
            settings.kafka_bootstrap,
            topics,
            metrics_tail=settings.view_metrics_tail,
            on_records=lambda kind, n: metrics.view_records.labels(kind).inc(n),
        )
        the_producer = producer or KafkaEventProducer(
            settings.kafka_bootstrap, settings.ingest_delivery_timeout_s
        )
        the_log = idempotency_log or (
            NoLog()
            if producer is not None
            else KafkaIdempotencyLog(
                settings.kafka_bootstrap,
                settings.topic(FEEDS_API),
                window_s=settings.idempotency_ttl_s,
                max_ids=settings.idempotency_max_keys,
            )
        )
        event_ids = EventIdIndex(settings.idempotency_ttl_s, settings.idempotency_max_keys)
        checker = IngestChecker(master, view, settings.ingest_horizon_s, clock)
        # masterdata.v1 applied live; a test's fake feed comes without Kafka, so without it
        live_master = LiveMasterData(
            master,
            view,
            checker,
            MasterDataReader(settings.kafka_bootstrap, settings.topic(MASTERDATA))
            if feed is None
            else None,
        )
        broadcaster = Broadcaster(
            view,
            metrics,
            tick_s=settings.ws_tick_s,
            heartbeat_s=settings.ws_heartbeat_s,
            session_ttl_s=settings.ws_session_ttl_s,
            max_queue=settings.ws_queue_frames,
            replay_size=settings.ws_replay_frames,
            max_coalesced=settings.ws_max_coalesced,
            max_lag_s=settings.ws_max_lag_s,
            detached_per_owner=settings.ws_max_connections_per_token,
            clock=clock,
        )
        _export_ws_limits(metrics, settings)
        scenarios = ScenarioManager(
            runner=settings.scenario_runner,
            root=settings.scenario_root(),
            max_running=settings.scenario_max_running,
            metrics=metrics,
            bootstrap=settings.kafka_bootstrap,
            topics=topics if settings.api_topic_suffix else None,
            master_data=settings.master_data,
        )
        app.state.twin = AppState(
            settings=settings,
            tokens=TokenBook.from_entries(tokens),
            metrics=metrics,
            view=view,
            feed=the_feed,
            producer=the_producer,
            broadcaster=broadcaster,
            event_ids=event_ids,
            idempotency_log=the_log,
            ingest_checker=checker,
            master_data=live_master,
            rate_limiter=RateLimiter(settings.ingest_rate_per_s, settings.ingest_burst),
            event_rate_limiter=RateLimiter(
                settings.ingest_event_rate_per_s, settings.ingest_event_burst
            ),
            scenarios=scenarios,
            clock=clock,
            ws_slots=ConnectionSlots(
                settings.ws_max_connections, settings.ws_max_connections_per_token
            ),
        )
        # alert cases: every alert the view applies, and the cases from their compacted topic
        case_book = CaseBook(clock)
        view.alert_listeners.append(case_book.apply_alert)
        case_reader = (
            CaseReader(settings.kafka_bootstrap, settings.topic(TWIN_ALERT_CASES))
            if feed is None
            else None
        )
        app.state.alert_cases = routes_alerts.AlertCases(
            case_book, settings.topic(TWIN_ALERT_CASES)
        )
        if case_reader is not None:
            case_reader.start(case_book, asyncio.get_running_loop())
        the_feed.start(view, asyncio.get_running_loop())
        the_log.start(event_ids, asyncio.get_running_loop())
        live_master.start(asyncio.get_running_loop())
        ticker = asyncio.create_task(broadcaster.run(), name="stream-tick")
        log.info("api started", extra={"kafka": settings.kafka_bootstrap})
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await broadcaster.close_all()
            scenarios.shutdown()
            the_feed.stop()
            if case_reader is not None:
                case_reader.stop()
            the_log.stop()
            live_master.stop()
            the_producer.close()

    app = FastAPI(
        title="Inventory Twin API",
        version="1.0.0",
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(AllowHeader)
    app.include_router(routes_view.router)
    app.include_router(routes_alerts.router)
    app.include_router(routes_ingest.router)
    app.include_router(routes_scenarios.router)
    app.include_router(routes_me.router)
    app.include_router(routes_stream.router)
    app.include_router(routes_history.router)
    # the history store this replica reads (written by `invtwin history`); tests replace it
    app.state.history_settings = HistorySettings(
        kafka_bootstrap=settings.kafka_bootstrap, state_dir=settings.state_dir
    )
    _add_ops_routes(app)
    _add_dashboard(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _export_ws_limits(metrics: ApiMetrics, settings: ApiSettings) -> None:
    """The WebSocket limits as gauges, next to the gauges of what they bound."""
    for name, value in (
        ("connections", settings.ws_max_connections),
        ("connections_per_token", settings.ws_max_connections_per_token),
        ("skus_per_subscription", settings.ws_max_skus_per_subscription),
        ("sites_per_subscription", settings.ws_max_sites_per_subscription),
        ("message_bytes", settings.ws_max_message_bytes),
    ):
        metrics.ws_limit.labels(name).set(value)


def _add_ops_routes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=HealthModel, tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=ReadyModel,
        tags=["ops"],
        summary=(
            "Ready once the view caught up with the twin topics and the ingested event ids "
            "with the ingest topic (503 before)"
        ),
        responses={503: {"model": ReadyModel, "description": "Still catching up."}},
    )
    def readyz(state: State) -> Any:
        ready = state.feed.ready() and state.idempotency_log.ready() and state.master_data.ready()
        state.metrics.view_ready.set(1 if ready else 0)
        body = {
            "ready": ready,
            "view": {
                "positions": len(state.view.positions),
                "open_alerts": len(state.view.open_alerts),
                "sites": len(state.view.site_metrics),
                "stale_versions_ignored": state.view.stale_versions_ignored,
            },
        }
        if ready:
            return body
        from fastapi.responses import JSONResponse

        return JSONResponse(body, status_code=503)

    @app.get(
        "/metrics",
        tags=["ops"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    def prometheus(state: State) -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _add_dashboard(app: FastAPI) -> None:
    """`/` serves the dashboard page (a static shell: it holds no data, so no auth)."""

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        page = STATIC_DIR / "index.html"
        if page.is_file():
            return FileResponse(page, media_type="text/html")
        return HTMLResponse(_PLACEHOLDER_PAGE)

    # check_dir=False: the app must start even before the dashboard is installed.
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        _, components = msgspec.json.schema_components(
            [InventoryEvent], ref_template="#/components/schemas/{name}"
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
        app.openapi_schema = schema
    return app.openapi_schema


def create_app_from_env() -> FastAPI:
    """Uvicorn factory entry point (`uvicorn --factory api.app:create_app_from_env`)."""
    return create_app(ApiSettings())
