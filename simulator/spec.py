"""The scenario schema: what an architect writes in a scenario YAML, validated with pydantic.

Every field has a default, so a scenario only says what differs from a quiet day on a small
generated network. Units are in the field names (`_hours`, `_minutes`, `_ms`, `_per_day`).
`simulator/scenarios/README.md` documents the same fields for people.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FeedMode = Literal["api", "batch", "3pl"]
Hours = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    # A typo in a scenario must be an error, never a silently ignored key.
    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerateSpec(_Strict):
    """A generated network (`twin.masterdata_gen`): half the sites on the API, one 3PL
    from three sites on, the rest on middleware batches."""

    sites: int = Field(default=4, ge=1, le=200)
    skus: int = Field(default=100, ge=1, le=200_000)
    seed: int = 1


class NetworkSpec(_Strict):
    """Where the network comes from (a master-data file or a generate spec) and its suppliers."""

    path: str | None = None
    generate: GenerateSpec | None = None
    supplier_lead_time_hours: Hours = 12.0
    supplier_lead_time_sd_hours: Hours = 3.0

    @model_validator(mode="after")
    def _one_source(self) -> NetworkSpec:
        if self.path and self.generate:
            raise ValueError("give either network.path or network.generate, not both")
        return self


class PeakSpec(_Strict):
    """Demand times `multiplier` from `start_hour` for `duration_hours` (all sites or some)."""

    start_hour: Hours
    duration_hours: Annotated[float, Field(gt=0)]
    multiplier: Annotated[float, Field(gt=0)]
    sites: list[str] | None = None


# A distributor's order intake: quiet at night, busy from mid-morning to late afternoon.
RETAIL_DIURNAL = [
    0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 1.0, 1.4, 1.6, 1.7, 1.7,
    1.6, 1.6, 1.6, 1.5, 1.4, 1.3, 1.2, 1.1, 0.9, 0.7, 0.5, 0.3,
]  # fmt: skip


class DemandSpec(_Strict):
    """Customer orders: Poisson per SKU-site, shaped by a 24-hour curve and peaks."""

    orders_per_sku_site_per_day: Annotated[float, Field(ge=0)] = 10.0
    # Spread of SKU popularity (lognormal sigma): 0 = every SKU sells alike.
    popularity_sigma: Annotated[float, Field(ge=0, le=3)] = 1.0
    order_qty_mean: Annotated[float, Field(ge=1)] = 2.0
    diurnal: list[Annotated[float, Field(ge=0)]] | Literal["flat", "retail"] = "retail"
    peaks: list[PeakSpec] = Field(default_factory=list)

    @field_validator("diurnal")
    @classmethod
    def _24_hours(cls, value: list[float] | str) -> list[float] | str:
        if isinstance(value, list) and len(value) != 24:
            raise ValueError(f"diurnal needs 24 hourly multipliers, got {len(value)}")
        return value

    def curve(self) -> list[float]:
        """The 24 hourly multipliers, normalised to a mean of 1 so the daily rate holds."""
        raw = (
            [1.0] * 24
            if self.diurnal == "flat"
            else RETAIL_DIURNAL
            if self.diurnal == "retail"
            else list(self.diurnal)
        )
        mean = sum(raw) / 24 or 1.0
        return [v / mean for v in raw]


class OperationsSpec(_Strict):
    """How the warehouses work: waves, review cycle, holds, returns, counts, shrinkage."""

    pick_wave_minutes: Annotated[float, Field(gt=0)] = 15.0
    ship_wave_minutes: Annotated[float, Field(gt=0)] = 60.0
    putaway_minutes: Annotated[float, Field(gt=0)] = 30.0
    review_minutes: Annotated[float, Field(gt=0)] = 60.0
    transfers: bool = True
    quality_hold_rate: Annotated[float, Field(ge=0, le=1)] = 0.02
    quality_hold_hours: Annotated[float, Field(gt=0)] = 3.0
    return_rate: Annotated[float, Field(ge=0, le=1)] = 0.01
    return_inspection_hours: Annotated[float, Field(gt=0)] = 2.0
    cancel_rate: Annotated[float, Field(ge=0, le=1)] = 0.01
    shrinkage_events_per_site_per_day: Annotated[float, Field(ge=0)] = 0.0
    cycle_count_interval_hours: Annotated[float, Field(ge=0)] = 4.0
    cycle_count_skus: Annotated[int, Field(ge=0)] = 20
    # Counts reach the feed this late (a count keyed in at the end of the shift).
    count_report_delay_hours: Hours = 0.0


class FeedParams(_Strict):
    """Feed behaviour; unset fields take the defaults for the site's mode."""

    latency_ms_median: Annotated[float, Field(gt=0)] | None = None
    latency_ms_p99: Annotated[float, Field(gt=0)] | None = None
    interval_minutes: Annotated[float, Field(gt=0)] | None = None
    delay_probability: Annotated[float, Field(ge=0, le=1)] | None = None
    delay_minutes: Hours | None = None


DEFAULT_FEEDS: dict[str, FeedParams] = {
    "api": FeedParams(latency_ms_median=400, latency_ms_p99=5000),
    "batch": FeedParams(interval_minutes=15, delay_probability=0.02, delay_minutes=20),
    "3pl": FeedParams(interval_minutes=60, delay_probability=0.0, delay_minutes=0),
}


class FeedsSpec(_Strict):
    defaults: dict[FeedMode, FeedParams] = Field(default_factory=dict)
    sites: dict[str, FeedParams] = Field(default_factory=dict)

    def for_site(self, site: str, mode: str) -> FeedParams:
        """Defaults of the mode, overridden by the scenario's mode defaults, then the site's."""
        merged = DEFAULT_FEEDS[mode].model_dump()
        for layer in (self.defaults.get(mode), self.sites.get(site)):  # type: ignore[call-overload]
            if layer is not None:
                merged.update(layer.model_dump(exclude_none=True))
        return FeedParams(**merged)


class _Window(_Strict):
    start_hour: Hours = 0.0
    duration_hours: Annotated[float, Field(gt=0)] = 1e9
    sites: list[str] | None = None

    def covers(self, site: str, hour: float) -> bool:
        in_time = self.start_hour <= hour < self.start_hour + self.duration_hours
        return in_time and (self.sites is None or site in self.sites)


class OutageFault(_Window):
    """The site's feed delivers nothing in the window; its backlog arrives at recovery."""

    kind: Literal["outage"]


class BatchDelayFault(_Window):
    """Batches/files sent in the window arrive `delay_minutes` late."""

    kind: Literal["batch_delay"]
    delay_minutes: Annotated[float, Field(gt=0)]


class DuplicateFault(_Window):
    """Each record is sent again with probability `rate` (a retry that was not needed)."""

    kind: Literal["duplicates"]
    rate: Annotated[float, Field(gt=0, le=1)]


class ReorderFault(_Window):
    """With probability `rate` a message is held back up to `max_minutes` (out of order)."""

    kind: Literal["reorder"]
    rate: Annotated[float, Field(gt=0, le=1)]
    max_minutes: Annotated[float, Field(gt=0)] = 10.0


class MalformedFault(_Window):
    """With probability `rate` per message, an extra broken record is sent (goes to the DLQ)."""

    kind: Literal["malformed"]
    rate: Annotated[float, Field(gt=0, le=1)]


class RestartFault(_Strict):
    """Live only: restart the broker or a dataflow at `at_hour` of simulated time."""

    kind: Literal["restart"]
    target: Literal["broker", "normalize", "twin"]
    at_hour: Hours
    down_seconds: Annotated[float, Field(ge=0)] = 5.0


Fault = Annotated[
    OutageFault | BatchDelayFault | DuplicateFault | ReorderFault | MalformedFault | RestartFault,
    Field(discriminator="kind"),
]


class ReportSpec(_Strict):
    sample_minutes: Annotated[float, Field(gt=0)] = 15.0
    # Accuracy must be at least this to count a fault as recovered from (live runs, which
    # have no control run to be judged against).
    recovered_accuracy: Annotated[float, Field(gt=0, le=1)] = 0.99
    # Offline: judge each fault against a control run of the same seed without it.
    controls: bool = True
    # A fault run is "within the control's band" at accuracy >= the control's lowest
    # accuracy over the neighbouring samples minus this.
    control_tolerance: Annotated[float, Field(ge=0, le=1)] = 0.005


class LiveSpec(_Strict):
    speed: Annotated[float, Field(gt=0)] = 600.0  # simulated seconds per wall second
    quiescence_timeout_s: Annotated[float, Field(gt=0)] = 120.0


class VariantSpec(_Strict):
    """One side of a comparison: the scenario with these parts replaced (unset = as is)."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    faults: list[Fault] | None = None
    demand: DemandSpec | None = None
    operations: OperationsSpec | None = None
    feeds: FeedsSpec | None = None


class LiveOpening(_Strict):
    """The running twin's positions at recorded offsets (`simulator.fork`), a run's opening.

    Filled by the fork, never written by hand: `positions[sku][site]` holds the buckets in
    `simulator.truth.BUCKETS` order; `offsets` are the positions topic's end offsets per
    partition the snapshot was read up to.
    """

    topic: str
    offsets: dict[int, int]
    newest_event_at: datetime | None = None
    positions: dict[str, dict[str, list[int]]] = Field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """What the report records of the fork (not the positions themselves)."""
        return {
            "topic": self.topic,
            "offsets": {str(p): o for p, o in sorted(self.offsets.items())},
            "newest_event_at": self.newest_event_at.isoformat() if self.newest_event_at else None,
            "skus": len(self.positions),
            "sku_sites": sum(len(sites) for sites in self.positions.values()),
        }


class Scenario(_Strict):
    """One what-if run: network, duration, demand, operations, feeds, faults, seed."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    # `live`: open from the running twin's positions and master data (`simulator.fork`),
    # then run forward offline; `scenario`: open with generated stock on the spec's network.
    from_: Literal["scenario", "live"] = Field(default="scenario", alias="from")
    opening: LiveOpening | None = None
    # Two variants run from the same start with the same seeds; the report gives both and
    # their differences with intervals (`simulator.compare`).
    compare: Annotated[list[VariantSpec], Field(min_length=2, max_length=2)] | None = None
    description: str = ""
    seed: int = 7
    # Offline: run this many seeds (seed, seed + 1, ...) and report mean, 95% interval, worst.
    replications: Annotated[int, Field(ge=1, le=1000)] = 1
    start: datetime = datetime(2026, 11, 26, tzinfo=UTC)
    duration_hours: Annotated[float, Field(gt=0, le=24 * 60)] = 24.0
    modes: list[Literal["offline", "live"]] = Field(default_factory=lambda: ["offline", "live"])
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    demand: DemandSpec = Field(default_factory=DemandSpec)
    operations: OperationsSpec = Field(default_factory=OperationsSpec)
    feeds: FeedsSpec = Field(default_factory=FeedsSpec)
    faults: list[Fault] = Field(default_factory=list)
    report: ReportSpec = Field(default_factory=ReportSpec)
    live: LiveSpec = Field(default_factory=LiveSpec)

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start needs a time zone, e.g. 2026-11-26T00:00:00Z")
        return value.astimezone(UTC)
