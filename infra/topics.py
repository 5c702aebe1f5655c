"""The one place that names the Kafka topics of DESIGN.md and says how each is configured."""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.broker_config import min_insync_replicas_for, replication_factor_for

FEEDS_API = "feeds.api.v1"
FEEDS_BATCH = "feeds.batch.v1"
FEEDS_3PL = "feeds.3pl.v1"
INVENTORY_EVENTS = "inventory.events.v1"
INVENTORY_DLQ = "inventory.dlq.v1"
TWIN_POSITIONS = "twin.positions.v1"
TWIN_ALERTS = "twin.alerts.v1"
TWIN_METRICS = "twin.metrics.v1"
MASTERDATA = "masterdata.v1"
TWIN_ALERT_CASES = "twin.alert-cases.v1"

RAW_FEEDS = (FEEDS_API, FEEDS_BATCH, FEEDS_3PL)

_WEEK_MS = 7 * 24 * 3600 * 1000
# The largest dead letter the DLQ topic takes: librdkafka's default `message.max.bytes`, so a
# producer with default settings can write whatever the topic accepts. Flows cut dead letters
# to fit (`FlowSettings.flow_dead_letter_max_bytes`, below this for the record's overhead).
DLQ_MAX_MESSAGE_BYTES = 1_000_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)

    def replication_factor_on(self, broker_count: int) -> int:
        """Three copies on a cluster of three brokers or more, else one per broker."""
        return replication_factor_for(broker_count)

    def config_on(self, broker_count: int) -> dict[str, str]:
        """The topic's config on a cluster of `broker_count` brokers: with three copies,
        `acks=all` writes need two in sync, so one broker may fail without losing any."""
        min_isr = min_insync_replicas_for(self.replication_factor_on(broker_count))
        placed = {"min.insync.replicas": str(min_isr)} if min_isr > 1 else {}
        return {**placed, **self.config}


# Six partitions lets up to six workers/processes share a flow; keys (SKU) keep per-SKU order.
TOPIC_SPECS: tuple[TopicSpec, ...] = (
    TopicSpec(FEEDS_API, 6, {"retention.ms": str(_WEEK_MS)}),
    TopicSpec(FEEDS_BATCH, 6, {"retention.ms": str(_WEEK_MS)}),
    TopicSpec(FEEDS_3PL, 6, {"retention.ms": str(_WEEK_MS)}),
    TopicSpec(INVENTORY_EVENTS, 6, {"retention.ms": str(_WEEK_MS)}),
    # Rejected records are kept for replay after master data is fixed: retain for 90 days.
    TopicSpec(
        INVENTORY_DLQ,
        3,
        {
            "retention.ms": str(90 * 24 * 3600 * 1000),
            "max.message.bytes": str(DLQ_MAX_MESSAGE_BYTES),
        },
    ),
    # Latest position per SKU: compacted, so a new API replica rebuilds its view from it.
    TopicSpec(
        TWIN_POSITIONS,
        6,
        {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1", "segment.ms": "600000"},
    ),
    TopicSpec(TWIN_ALERTS, 3, {"retention.ms": str(_WEEK_MS)}),
    TopicSpec(TWIN_METRICS, 3, {"retention.ms": str(_WEEK_MS)}),
    # The latest case per alert id (its whole audit trail in the record): compacted, so every
    # API replica rebuilds the cases from it and they survive restarts.
    TopicSpec(
        TWIN_ALERT_CASES,
        3,
        {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1", "segment.ms": "600000"},
    ),
    # Master-data rows by `entity:id` (`twin.masterdata_changes`): compacted, so the topic is
    # the catalogue; one partition, so every reader applies the changes in the order published.
    TopicSpec(
        MASTERDATA,
        1,
        {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1", "segment.ms": "600000"},
    ),
)


def topic_names(suffix: str = "") -> dict[str, str]:
    """Map each contract topic name to the name actually used (tests add a unique suffix)."""
    return {spec.name: spec.name + suffix for spec in TOPIC_SPECS}
