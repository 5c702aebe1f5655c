"""Response and request models of the REST API, for validation and the OpenAPI document.

The twin's records are msgspec Structs (`twin/wire.py`) and are encoded with msgspec; these
pydantic models mirror them field by field so that `/docs` describes every field (and
schemathesis can check responses against them). Schemas evolve by adding fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class SitePositionModel(BaseModel):
    on_hand: int = Field(description="Physically at the site, base units.")
    receiving: int = Field(description="Received but not yet put away.")
    reserved: int = Field(description="Reserved for orders, not yet picked.")
    picked: int = Field(description="Picked, not yet shipped.")
    quarantined: int = Field(description="On quality hold.")
    in_transit: int = Field(description="Shipped by a transfer towards this site.")
    atp: int = Field(description="Available to promise (may be negative: over-allocation).")
    last_event_at: datetime | None = Field(description="Latest event time seen at the site.")
    fresh: bool = Field(description="False when the site's feed is overdue: figures suspect.")


class NetworkTotalsModel(BaseModel):
    on_hand: int
    atp: int
    in_transit: int


class PositionModel(BaseModel):
    """A SKU's position across the network."""

    sku: str
    version: int = Field(description="Grows by one with every change of this SKU.")
    as_of: datetime = Field(description="When the twin computed this position.")
    sites: dict[str, SitePositionModel] = Field(description="Buckets per site.")
    network: NetworkTotalsModel


class RecommendationModel(BaseModel):
    action: Literal["transfer", "purchase"]
    to_site: str
    qty: int
    value: float
    needs_approval: bool
    from_site: str | None = None
    expected_arrival: datetime | None = None
    reason: str = ""


class AlertModel(BaseModel):
    id: str = Field(description="Stable per (kind, sku, site, episode).")
    kind: Literal[
        "LOW_STOCK",
        "OVER_ALLOCATION",
        "NEGATIVE_ON_HAND",
        "STALE_FEED",
        "SUSPECTED_SYNC_GAP",
        "COUNT_DISCREPANCY",
        "ANOMALY",
    ]
    severity: Literal["info", "warning", "critical"]
    detected_at: datetime
    explanation: str
    state: Literal["raised", "cleared"] = "raised"
    sku: str | None = None
    site: str | None = None
    recommendation: RecommendationModel | None = None
    details: dict[str, float | int | str] = Field(default_factory=dict)


class LatencyStatsModel(BaseModel):
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


class SiteMetricModel(BaseModel):
    """Per-site feed health over the last reporting interval."""

    type: Literal["site"] = "site"
    site: str
    as_of: datetime
    events: int
    duplicates: int
    exceptions: int
    dlq: int
    late_events: int
    posting_latency: LatencyStatsModel = Field(description="recorded_at - occurred_at.")
    visible_latency: LatencyStatsModel = Field(description="applied - occurred_at.")
    transfer_cycle_s_p50: float | None = None
    last_event_at: datetime | None = None
    fresh: bool = True


class SkuListModel(BaseModel):
    """A page of positions in SKU-id order; `next_cursor` fetches the next page."""

    positions: list[PositionModel] = Field(description="The page, ascending by SKU id.")
    skus: list[str] = Field(description="The page's SKU ids, in the same order.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null when the listing is complete."
    )


class AlertListModel(BaseModel):
    alerts: list[AlertModel]


class SiteMetricListModel(BaseModel):
    sites: list[SiteMetricModel]


class TotalsModel(BaseModel):
    on_hand: int
    atp: int
    in_transit: int
    skus: int = Field(description="SKUs with a position.")


class LastFigureModel(BaseModel):
    value: float
    as_of: datetime = Field(description="End of the reporting interval the figure is from.")


class ClockModel(BaseModel):
    simulated: bool = Field(
        description="True when the stack runs an accelerated (simulated) domain clock, as the "
        "demo does: every time on this API is then simulated time."
    )
    speed: float = Field(description="Simulated seconds per wall second (1: the wall clock).")


class NetworkSiteModel(BaseModel):
    site: str
    name: str
    feed_mode: str = Field(description="api, batch or 3pl; 'unknown' without master data.")
    fresh: bool
    last_event_at: datetime | None
    visible_latency_p95_ms: float | None = Field(
        description="p95 event-to-visible latency of the last metrics interval; null when "
        "that interval had no event (never 0 for no data)."
    )
    last_visible_latency_p95: LastFigureModel | None = Field(
        None, description="The newest p95 of an interval that had events, with its time."
    )
    last_transfer_cycle_s_p50: LastFigureModel | None = Field(
        None, description="The newest transfer cycle p50 of an interval with a transfer."
    )
    transfer_cycle_s_p50: float | None = Field(
        None,
        description="Median shipped-to-received time, in event-time seconds, of the transfers "
        "received at this site in the last metrics interval; null when none arrived.",
    )
    skus_at_risk: int


class NetworkModel(BaseModel):
    as_of: datetime
    clock: ClockModel | None = Field(None, description="Which clock `as_of` and all times use.")
    totals: TotalsModel
    sites: list[NetworkSiteModel]
    open_alerts: dict[str, int] = Field(description="Open alert count per kind.")


class SkuAtRiskModel(BaseModel):
    sku: str
    atp: int
    reorder_point: int


class SiteSummaryModel(BaseModel):
    site: str
    name: str
    feed_mode: str
    fresh: bool
    last_event_at: datetime | None
    metrics: SiteMetricModel | None = Field(description="Latest site metric, if any yet.")
    skus_at_risk: list[SkuAtRiskModel]


class AcceptedModel(BaseModel):
    """The events were durably written to the raw API feed topic."""

    accepted: int = Field(description="How many events were accepted.")
    event_ids: list[str] = Field(description="Their canonical event ids, in request order.")


class ScenarioRequest(BaseModel):
    """Start a scenario run: a library scenario by name, or an inline YAML spec."""

    scenario: str | None = Field(default=None, max_length=200, description="Library name.")
    spec: str | None = Field(default=None, max_length=200_000, description="Inline YAML spec.")
    mode: Literal["offline", "live"] = "offline"
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    from_: Literal["scenario", "live"] = Field(
        default="scenario",
        alias="from",
        description="`live`: open from the running twin's positions now, then run offline.",
    )
    replications: int | None = Field(
        default=None, ge=1, le=100, description="Seeds to run (default: the scenario's)."
    )
    compare: list[dict[str, Any]] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="Two variants ({name, faults?, demand?, operations?, feeds?}) run from the"
        " same start and seeds; the report gives their differences with intervals.",
    )

    model_config = ConfigDict(populate_by_name=True)


class ScenarioRunModel(BaseModel):
    id: str
    status: Literal["running", "succeeded", "failed", "cancelled", "interrupted"]
    mode: Literal["offline", "live"]
    seed: int
    scenario: str | None
    name: str | None = Field(default=None, description="The scenario's own name.")
    compare: list[str] | None = Field(default=None, description="The compared variants' names.")
    from_live: bool = False
    replications: int | None = None
    created_at: datetime
    finished_at: datetime | None = None
    progress: dict[str, Any] | None = Field(default=None, description="Latest progress event.")
    metrics: list[dict[str, Any]] = Field(description="Metric series so far.")
    report: dict[str, Any] | None = Field(default=None, description="Final resilience report.")
    plots: list[str] = Field(description="Plot names, served at .../plots/{name}.")
    error: str | None = None


class HealthModel(BaseModel):
    status: Literal["ok"]


class ReadyModel(BaseModel):
    ready: bool
    view: dict[str, int] = Field(description="Counts of what the view holds.")
