"""REST routes over the materialized view (viewer role)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import State, Viewer
from api.msgspec_response import MsgspecResponse
from api.problems import NotFound, problem_responses
from api.schemas import (
    AlertListModel,
    NetworkModel,
    PositionModel,
    SiteMetricListModel,
    SiteSummaryModel,
    SkuListModel,
)

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


@router.get("/skus", response_model=SkuListModel, summary="Search SKU ids by prefix")
def list_skus(
    _: Viewer,
    state: State,
    prefix: Annotated[str, Query(max_length=128)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> MsgspecResponse:
    return MsgspecResponse({"skus": state.view.sku_ids(prefix, limit)})


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
                "visible_latency_p95_ms": metric.visible_latency.p95_ms if metric else None,
                "transfer_cycle_s_p50": metric.transfer_cycle_s_p50 if metric else None,
                "skus_at_risk": len(view.skus_at_risk(site)),
            }
        )
    return MsgspecResponse(
        {
            "as_of": state.clock(),
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


@router.get("/alerts", response_model=AlertListModel, summary="Alerts, filtered")
def list_alerts(
    _: Viewer,
    state: State,
    site: str | None = None,
    sku: str | None = None,
    kind: AlertKindParam | None = None,
    alert_state: Annotated[Literal["open", "cleared", "all"], Query(alias="state")] = "open",
) -> MsgspecResponse:
    alerts = state.view.alerts(site=site, sku=sku, kind=kind, state=alert_state)
    return MsgspecResponse({"alerts": alerts})


@router.get("/metrics/sites", response_model=SiteMetricListModel, summary="Per-site analytics")
def site_metrics(_: Viewer, state: State) -> MsgspecResponse:
    metrics = sorted(state.view.site_metrics.values(), key=lambda m: m.site)
    return MsgspecResponse({"sites": metrics})
