"""REST routes over the materialized view (viewer role)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from api.deps import State, Viewer
from api.msgspec_response import MsgspecResponse
from api.positions_csv import positions_csv
from api.problems import ApiError, NotFound, problem_responses
from api.schemas import (
    NetworkModel,
    PositionModel,
    SiteMetricListModel,
    SiteSummaryModel,
    SkuListModel,
)
from api.view import InvalidCursor, PositionFilter

DEFAULT_PAGE, MAX_PAGE = 100, 1000


class InvalidQuery(ApiError):
    status, title = 422, "Invalid query"


router = APIRouter(prefix="/v1", tags=["twin"], responses=problem_responses(401, 403, 422))

AlertKindParam = Literal[
    "LOW_STOCK",
    "OVER_ALLOCATION",
    "NEGATIVE_ON_HAND",
    "STALE_FEED",
    "SUSPECTED_SYNC_GAP",
    "COUNT_DISCREPANCY",
    "ANOMALY",
]


_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": (
            "A page of positions. With `Accept: text/csv`, one row per SKU-site; the next "
            "page's cursor is in the `X-Next-Cursor` header and a `Link: rel=next` header."
        ),
        "headers": {
            "X-Next-Cursor": {
                "description": "The cursor of the next page; absent on the last page.",
                "schema": {"type": "string"},
            }
        },
    }
}


@router.get(
    "/skus",
    response_model=SkuListModel,
    summary="List positions: filtered, a page at a time, in SKU-id order",
    responses=_CSV_RESPONSE,
)
async def list_skus(
    request: Request,
    _: Viewer,
    state: State,
    prefix: Annotated[str, Query(max_length=128, description="SKU ids starting with this.")] = "",
    site: Annotated[
        str | None,
        Query(
            max_length=128,
            description="Only SKUs stocked at this site (the other filters "
            "then apply at this site, and CSV rows are this site's).",
        ),
    ] = None,
    at_risk: Annotated[
        bool | None,
        Query(
            description="true: ATP at or below the reorder point (0 without one) at some "
            "site; false: at none."
        ),
    ] = None,
    stale: Annotated[
        bool | None,
        Query(description="true: some site's figures are not fresh; false: all are."),
    ] = None,
    alert_kind: Annotated[
        AlertKindParam | None, Query(description="Only SKUs with an open alert of this kind.")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(max_length=1024, description="`next_cursor` of the previous page (opaque)."),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description=f"Page size, at most {MAX_PAGE}.")
    ] = DEFAULT_PAGE,
) -> Response:
    # On the event loop, like the feed that updates the view: a page never sees a
    # half-applied batch, and its cost is bounded by the page (see TwinView.list_positions).
    where = PositionFilter(
        prefix=prefix, site=site, at_risk=at_risk, stale=stale, alert_kind=alert_kind
    )
    try:
        page = state.view.list_positions(where, limit=limit, cursor=cursor)
    except InvalidCursor as exc:
        raise InvalidQuery(str(exc)) from exc
    if "text/csv" in request.headers.get("accept", ""):
        headers = {}
        if page.next_cursor is not None:
            next_url = request.url.include_query_params(cursor=page.next_cursor)
            headers = {"X-Next-Cursor": page.next_cursor, "Link": f'<{next_url}>; rel="next"'}
        return Response(positions_csv(page.positions, site), media_type="text/csv", headers=headers)
    return MsgspecResponse(
        {
            "positions": page.positions,
            "skus": [position.sku for position in page.positions],
            "next_cursor": page.next_cursor,
        }
    )


@router.get(
    "/skus/{sku}",
    response_model=PositionModel,
    summary="A SKU's position",
    responses=problem_responses(404),
)
def get_sku(sku: str, _: Viewer, state: State) -> MsgspecResponse:
    position = state.view.positions.get(sku)
    if position is None:
        raise NotFound(f"no position for SKU {sku!r}")
    return MsgspecResponse(position)


@router.get("/network", response_model=NetworkModel, summary="Network totals and site freshness")
def get_network(_: Viewer, state: State) -> MsgspecResponse:
    view = state.view
    on_hand = atp = in_transit = 0
    for pos in view.positions.values():
        on_hand += pos.network.on_hand
        atp += pos.network.atp
        in_transit += pos.network.in_transit
    sites = []
    for site in view.known_sites():
        info = view.catalog.sites.get(site)
        metric = view.site_metrics.get(site)
        sites.append(
            {
                "site": site,
                "name": info.name if info else site,
                "feed_mode": info.feed_mode if info else "unknown",
                "fresh": view.site_fresh(site),
                "last_event_at": view.site_last_event_at(site),
                # null, never 0, for an interval without events: no figure is not a figure
                "visible_latency_p95_ms": (
                    metric.visible_latency.p95_ms
                    if metric is not None and metric.visible_latency.count
                    else None
                ),
                "transfer_cycle_s_p50": metric.transfer_cycle_s_p50 if metric else None,
                "last_visible_latency_p95": view.last_visible_p95.get(site),
                "last_transfer_cycle_s_p50": view.last_transfer_cycle.get(site),
                "skus_at_risk": len(view.skus_at_risk(site)),
            }
        )
    clock = state.clock
    return MsgspecResponse(
        {
            "as_of": clock(),
            "clock": {"simulated": clock.accelerated, "speed": clock.speed},
            "totals": {
                "on_hand": on_hand,
                "atp": atp,
                "in_transit": in_transit,
                "skus": len(view.positions),
            },
            "sites": sites,
            "open_alerts": view.open_alert_counts(),
        }
    )


@router.get(
    "/sites/{site}",
    response_model=SiteSummaryModel,
    summary="A site's freshness, latency and SKUs at risk",
    responses=problem_responses(404),
)
def get_site(site: str, _: Viewer, state: State) -> MsgspecResponse:
    view = state.view
    if site not in view.known_sites():
        raise NotFound(f"unknown site {site!r}")
    info = view.catalog.sites.get(site)
    return MsgspecResponse(
        {
            "site": site,
            "name": info.name if info else site,
            "feed_mode": info.feed_mode if info else "unknown",
            "fresh": view.site_fresh(site),
            "last_event_at": view.site_last_event_at(site),
            "metrics": view.site_metrics.get(site),
            "skus_at_risk": [
                {"sku": sku, "atp": atp, "reorder_point": reorder}
                for sku, atp, reorder in view.skus_at_risk(site)
            ],
        }
    )


@router.get("/metrics/sites", response_model=SiteMetricListModel, summary="Per-site analytics")
def site_metrics(_: Viewer, state: State) -> MsgspecResponse:
    metrics = sorted(state.view.site_metrics.values(), key=lambda m: m.site)
    return MsgspecResponse({"sites": metrics})
