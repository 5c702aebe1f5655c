"""Composition root of the deployed flows: Kafka sources and sinks, master data, the clock.

The clock is the domain clock of `FlowSettings` (`TWIN_CLOCK_ORIGIN`, `TWIN_CLOCK_SPEED`):
the wall clock unless the stack runs an accelerated one (the demo).

`build_flow("normalize" | "twin", settings)` is what `invtwin flow ...` runs, and it is a
plain function so `python -m bytewax.run "dataflows.production:build_flow('twin')"` works too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from bytewax.dataflow import Dataflow
from bytewax.inputs import SimplePollingSource

from dataflows.kafka_io import (
    EpochKafkaSink,
    FlushTimer,
    epoch_kafka_sink,
    kafka_sink,
    kafka_source,
)
from dataflows.masterdata_source import (
    MasterDataFeed,
    MasterDataSource,
    masterdata_feed,
    start_feed,
)
from dataflows.messages import Tick
from dataflows.metrics import FlowMetrics, NormalizeMetrics, TwinMetrics
from dataflows.normalize import build_normalize_flow
from dataflows.settings import FlowSettings
from dataflows.shard_logic import ShardFactory
from dataflows.twin import TwinFlowConfig, TwinSinks, build_twin_flow
from infra import topics
from infra.kafka_clients import ClientLogLimiter
from twin.masterdata import MasterData, MasterIndex, load_master_index
from twin.position import PositionConfig
from twin.shard import TwinConfig
from twin.windows import WindowConfig


class ClockTicks(SimplePollingSource[Tick, None]):
    """One `Tick` per interval, so time-driven steps run even when no event arrives (a wake-up
    on the wall clock; the steps read their domain time themselves)."""

    def __init__(self, interval: timedelta) -> None:
        super().__init__(interval=interval)

    def next_item(self) -> Tick:
        return Tick(datetime.now(UTC))


def build_flow(
    name: Literal["normalize", "twin"],
    settings: FlowSettings | None = None,
    metrics: FlowMetrics | None = None,
) -> Dataflow:
    """`metrics`: the process's (`dataflows.health.observe`), counted into by the steps."""
    settings = settings or FlowSettings()
    if name not in ("normalize", "twin"):
        raise ValueError(f"unknown flow {name!r}")
    master = load_master_index(settings.master_data)  # columns: catalogue-sized
    # the changes masterdata.v1 holds applied before the flow runs, the later ones live
    feed = start_feed(masterdata_feed(settings, master, name, client_logs(settings)))
    if name == "normalize":
        assert metrics is None or isinstance(metrics, NormalizeMetrics)
        return normalize_flow(settings, master, metrics, feed)
    assert metrics is None or isinstance(metrics, TwinMetrics)
    return twin_flow(settings, master, metrics, feed)


def client_logs(settings: FlowSettings) -> ClientLogLimiter:
    """One limit on the Kafka client logs of every client of a flow (see `ClientLogLimiter`)."""
    return ClientLogLimiter(reminder_s=settings.flow_kafka_log_reminder_s)


def flush_timer(metrics: FlowMetrics | None, topic: str) -> FlushTimer | None:
    return metrics.flush_timer(topic) if metrics is not None else None


def normalize_flow(
    settings: FlowSettings,
    master: MasterData | MasterIndex,
    metrics: NormalizeMetrics | None = None,
    masterdata: MasterDataFeed | None = None,
) -> Dataflow:
    """`masterdata`: the process's feed of master-data changes (its index is `master`)."""
    t = settings.topic
    logs = client_logs(settings)
    lag = metrics.lag if metrics is not None else None
    return build_normalize_flow(
        {
            "api": kafka_source(settings, [t(topics.FEEDS_API)], logs, lag),
            "batch": kafka_source(settings, [t(topics.FEEDS_BATCH)], logs, lag),
            "3pl": kafka_source(settings, [t(topics.FEEDS_3PL)], logs, lag),
        },
        events_sink=kafka_sink(
            settings,
            t(topics.INVENTORY_EVENTS),
            logs,
            flush_timer(metrics, t(topics.INVENTORY_EVENTS)),
        ),
        dlq_sink=kafka_sink(
            settings, t(topics.INVENTORY_DLQ), logs, flush_timer(metrics, t(topics.INVENTORY_DLQ))
        ),
        master=master,
        clock=settings.domain_clock(),
        dead_letter_max_bytes=settings.flow_dead_letter_max_bytes,
        metrics=metrics,
        masterdata=MasterDataSource(masterdata, tail=not settings.flow_stop_at_end)
        if masterdata is not None
        else None,
    )


def shard_factory(settings: FlowSettings, master: MasterData | MasterIndex) -> ShardFactory:
    """Empty shard state as the settings say: the exactness horizon and the windows."""
    windows = WindowConfig(
        size_s=float(settings.flow_window_s), lateness_s=float(settings.flow_window_lateness_s)
    )
    horizon = PositionConfig(horizon_s=settings.flow_horizon_s)
    return ShardFactory(master, TwinConfig(position=horizon), window=windows)


def twin_flow(
    settings: FlowSettings,
    master: MasterData | MasterIndex,
    metrics: TwinMetrics | None = None,
    masterdata: MasterDataFeed | None = None,
) -> Dataflow:
    """`masterdata`: the process's feed of master-data changes (its index is `master`):
    its changes refresh the shards' shared rule book, and the SKU-sites whose policy
    changed are judged again by their shards."""
    t = settings.topic
    shards = shard_factory(settings, master)
    source: MasterDataSource | None = None
    if masterdata is not None:
        shards.catch_up_master = masterdata.catch_up_to
        masterdata.on_change(lambda _keys: shards.rules().master_changed())
        source = MasterDataSource(
            masterdata, emit_sku_sites=True, tail=not settings.flow_stop_at_end
        )
    config = TwinFlowConfig(
        shards=settings.flow_shards,
        coalesce=settings.coalesce(),
        metrics_interval=timedelta(seconds=settings.flow_metrics_interval_s),
        freshness_check=timedelta(seconds=settings.flow_freshness_check_s),
        persist=settings.flow_recovery,
        dead_letter_max_bytes=settings.flow_dead_letter_max_bytes,
    )
    # one sink partition per shard key: the output spreads over the workers like the shards
    parts = settings.flow_shards
    logs = client_logs(settings)
    lag = metrics.lag if metrics is not None else None

    def sink(topic: str) -> EpochKafkaSink:
        return epoch_kafka_sink(settings, t(topic), parts, logs, flush_timer(metrics, t(topic)))

    return build_twin_flow(
        kafka_source(settings, [t(topics.INVENTORY_EVENTS)], logs, lag),
        TwinSinks(
            positions=sink(topics.TWIN_POSITIONS),
            alerts=sink(topics.TWIN_ALERTS),
            metrics=sink(topics.TWIN_METRICS),
            dlq=sink(topics.INVENTORY_DLQ),
        ),
        master,
        shards,
        config=config,
        dlq_source=kafka_source(settings, [t(topics.INVENTORY_DLQ)], logs, lag),
        clock=settings.domain_clock(),
        # A bounded run must end when its input ends: no endless clock then.
        tick_source=None
        if settings.flow_stop_at_end
        else ClockTicks(timedelta(seconds=settings.flow_freshness_check_s)),
        metrics=metrics,
        masterdata=source,
    )
