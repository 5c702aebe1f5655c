"""The twin flow: canonical events in, positions, alerts and metrics out.

    inventory.events.v1 ─ decode, check, group by shard(sku)
        ├─ events per shard ───────────────────────────────┐
        ├─ sites seen ─ watch_site_freshness ─ fan out ────┴─ apply_to_twin_shard ─┐
        │               (STALE_FEED alerts)                                         │
        └─ records that break the contract ─ inventory.dlq.v1 ◄─ events not applied ┤
           (or that the step fails on)              (outside_horizon, event_id_conflict, ...)
    inventory.dlq.v1 ─ count per site ─┬─ merge_site_metrics (key = site) ◄─ site partials
                                       │
    twin.metrics.v1 ◄─ SiteMetric, WindowMetric        twin.positions.v1, twin.alerts.v1 ◄─┘

Items are batches: one per consumed Kafka batch, then one `ShardBatch` per shard per batch,
one `ShardEmit` per shard call, lists of records into the sinks (see README, "batches").
Keying: by a stable shard of the SKU, with the per-SKU positions and per-SKU-per-site windows
kept inside the shard state (see `dataflows.shard_logic` for the measurements behind that).
Clocks: events are applied, sites judged and outputs dated on the domain clock (the wall
clock, or a demo's accelerated one, `infra.clock`); timers run on the wall clock.
Dead letters written here are dated on the domain clock too, so that in a demo they sit on
the same timeline as the events, alerts and metrics around them.
No record stops the flow: the decode step dead-letters a record it fails on in any way, and a
shard dead-letters the events it does not apply (`dataflows.shard_logic`), each with the
record's exact bytes and coordinates.
DLQ counts: the twin flow reads `inventory.dlq.v1` itself rather than having the normalize
flow emit metrics, so one flow is the single writer of `SiteMetric`s and dead letters from any
producer (normalize, a replay tool) are counted the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import bytewax.operators as op
import msgspec
from bytewax.connectors.kafka import KafkaError
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.operators import KeyedStream
from bytewax.outputs import FixedPartitionedSink, Sink

from dataflows.dead_letters import DEFAULT_MAX_BYTES, consumer_error_message, dead_letter_message
from dataflows.failure_log import FailureLog
from dataflows.kafka_io import RawRecord, SinkBatch, each_message, value_of
from dataflows.keys import all_shard_keys, shard_key, shard_of
from dataflows.masterdata_source import MasterDataSource, SkuSitesChanged
from dataflows.messages import DlqCount, ShardBatch, ShardEmit, ShardOut, SiteSeen
from dataflows.metrics import TwinMetrics
from dataflows.shard_logic import ShardFactory, ShardLogic, ShardTiming
from dataflows.site_logic import FreshnessLogic, SiteMetricsLogic
from infra.clock import Clock, as_domain_clock, utc_now
from twin.errors import ValidationFailed
from twin.masterdata import MasterData, MasterIndex
from twin.validation import decode_event, whole_qty
from twin.wire import WindowMetric, dead_letter_decoder

_NETWORK_KEY = "network"
# keys no shard uses, for what the decode step emits besides shard batches
_UNREADABLE = "\x00unreadable"
_SEEN = "\x00seen"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TwinFlowConfig:
    """How the twin flow keys, coalesces and reports (defaults: `FlowSettings`). The
    intervals are wall-clock time, whatever the domain clock's speed."""

    shards: int = 64
    coalesce: timedelta = timedelta(milliseconds=250)
    metrics_interval: timedelta = timedelta(seconds=5)
    freshness_check: timedelta = timedelta(seconds=1)
    persist: bool = True  # False: the run has no recovery, so shards skip their snapshots
    dead_letter_max_bytes: int = DEFAULT_MAX_BYTES  # a larger dead letter is cut to fit


@dataclass(frozen=True)
class TwinSinks:
    """Every sink receives lists of `(key, value)` records (`dataflows.kafka_io.SinkBatch`);
    a `FixedPartitionedSink` receives them keyed, `(shard or site key, batch)`."""

    positions: Sink[SinkBatch]
    alerts: Sink[SinkBatch]
    metrics: Sink[SinkBatch]
    # Records on inventory.events.v1 that are not canonical events (a foreign producer, a
    # consumer error) and events a shard did not apply (outside the horizon, an event id
    # conflict) go here; production passes the DLQ topic's sink.
    dlq: Sink[SinkBatch] | None = None


def build_twin_flow(
    events_source: Source,
    sinks: TwinSinks,
    master: MasterData | MasterIndex,
    shards: ShardFactory,
    *,
    config: TwinFlowConfig | None = None,
    dlq_source: Source | None = None,
    tick_source: Source | None = None,
    clock: Clock = utc_now,
    flow_id: str = "twin",
    metrics: TwinMetrics | None = None,
    masterdata: MasterDataSource | None = None,
) -> Dataflow:
    """Wire the twin flow. `shards` builds empty shard state (the composition root decides
    its configuration); `tick_source` is a clock that keeps freshness judged when no event
    arrives (production passes one, bounded tests pass none). `clock` is the domain clock:
    a `infra.clock.DomainClock`, or any callable, which then also paces the timers.
    `masterdata`: the `masterdata.v1` input; the SKU-sites whose policy changed go to their
    shards, which judge them again (`dataflows.masterdata_source`)."""
    config = config or TwinFlowConfig()
    domain = as_domain_clock(clock)
    flow = Dataflow(flow_id)
    encoder = msgspec.json.Encoder()

    raw = op.input("read_canonical_events", flow, events_source)
    # One pass over each consumed batch decodes it, groups its events per shard and sums up
    # the sites seen: Bytewax then moves one item per shard per batch, not one per event
    # (per-item operator overhead was the flow's largest cost after the core, profiled).
    decoded = op.flat_map(
        "decode_and_group_by_shard",
        raw,
        _decode_and_group(config.shards, domain, config.dead_letter_max_bytes, metrics),
    )
    by_shard: Stream[tuple[str, ShardBatch]] = op.filter(
        "shard_batches", decoded, lambda kv: kv[0] != _UNREADABLE and kv[0] != _SEEN
    )

    # Freshness: a single-key watcher fed by a per-batch summary of the sites seen.
    seen: Stream[Any] = op.flat_map("sites_seen", decoded, _value_for(_SEEN, default=()))
    if tick_source is not None:
        seen = op.merge("merge_clock_ticks", seen, op.input("read_clock", flow, tick_source))
    watched = op.stateful_batch(
        "watch_site_freshness",
        op.key_on("key_network", seen, lambda _: _NETWORK_KEY),
        FreshnessLogic.builder(_sites_of(master), config.freshness_check, domain),
    )
    watched_out = op.key_rm("unkey_freshness", watched)
    signals = op.filter_map("freshness_signals", watched_out, _of_kind("freshness"))
    shard_keys = all_shard_keys(config.shards)
    fanned = op.flat_map(
        "fan_out_freshness_to_shards", signals, lambda s: [(k, s) for k in shard_keys]
    )

    shard_inputs = [by_shard, fanned]
    if masterdata is not None:
        changes = op.input("read_masterdata_changes", flow, masterdata)
        shard_inputs.append(
            op.flat_map("policy_changes_per_shard", changes, _changes_per_shard(config.shards))
        )
    shard_in = op.merge("merge_events_and_freshness", *shard_inputs)
    timing = ShardTiming(
        config.coalesce,
        config.metrics_interval,
        persist=config.persist,
        dead_letter_max_bytes=config.dead_letter_max_bytes,
    )
    shard_out: KeyedStream[ShardEmit] = op.stateful_batch(
        "apply_to_twin_shard", shard_in, ShardLogic.builder(shards, timing, domain, metrics)
    )
    emitted: Stream[ShardEmit] = op.key_rm("unkey_shards", shard_out)

    if sinks.dlq is not None:
        # the items are already `(key, batch)` pairs: keyed by the one `_UNREADABLE` key
        unreadable: KeyedStream[SinkBatch] = op.filter(
            "unreadable", decoded, lambda kv: kv[0] == _UNREADABLE
        )
        not_applied = op.filter_map_value("not_applied", shard_out, _dead)
        _write(
            "write_dead_letters",
            op.merge("merge_dead_letters", unreadable, not_applied),
            sinks.dlq,
        )

    # Outputs stay keyed (by shard, site or the network key) up to the sinks: a partitioned
    # sink spreads its partitions over the workers by that key.
    # positions are encoded by the shard, once per coalescing flush
    _write(
        "write_positions",
        op.filter_map_value("positions", shard_out, _positions),
        sinks.positions,
    )

    freshness_alerts = op.filter_map_value("freshness_alerts", watched, _of_kind("alert"))
    alerts = op.merge(
        "merge_alerts",
        op.filter_map_value("shard_alerts", shard_out, _alerts),
        op.map_value("freshness_alert_lists", freshness_alerts, _one),
    )
    _write(
        "write_alerts",
        op.map_value("encode_alerts", alerts, lambda batch: _records(batch, _alert_key, encoder)),
        sinks.alerts,
    )

    site_inputs = [
        op.flat_map("site_partials", emitted, _partials),
        signals,
    ]
    if dlq_source is not None:
        dead = op.input("read_dead_letters", flow, dlq_source)
        site_inputs.append(op.flat_map("count_dead_letters_per_site", dead, _dlq_counts))
    site_metrics = op.stateful_batch(
        "merge_site_metrics",
        op.key_on("key_by_site", op.merge("merge_site_inputs", *site_inputs), _site_of),
        SiteMetricsLogic.builder(config.metrics_interval, domain),
    )
    metrics = op.merge(
        "merge_metrics",
        op.map_value(
            "site_metric_lists",
            op.filter_map_value("site_metrics", site_metrics, _of_kind("site_metric")),
            _one,
        ),
        op.filter_map_value("window_metrics", shard_out, _windows),
    )
    _write(
        "write_metrics",
        op.map_value(
            "encode_metrics", metrics, lambda batch: _records(batch, _metric_key, encoder)
        ),
        sinks.metrics,
    )
    return flow


def _write(step_id: str, records: KeyedStream[SinkBatch], sink: Sink[Any]) -> None:
    """Output keyed record batches: a partitioned sink (production's `EpochKafkaSink`) routes
    them by key; any other sink (Bytewax's testing sink, `BatchKafkaSink`) takes the batches."""
    if isinstance(sink, FixedPartitionedSink):
        op.output(step_id, records, sink)
    else:
        op.output(step_id, op.key_rm(f"{step_id}_batches", records), sink)


def _decode_and_group(
    shards: int,
    clock: Clock,
    max_bytes: int = DEFAULT_MAX_BYTES,
    metrics: TwinMetrics | None = None,
) -> Callable[[Any], list[tuple[str, Any]]]:
    encoder = msgspec.json.Encoder()
    keys: dict[str, str] = {}  # sku -> shard key: hashed once per SKU, not once per event
    failures = FailureLog(_log)

    def step(item: Any) -> list[tuple[str, Any]]:
        groups: dict[str, ShardBatch] = {}
        unreadable: SinkBatch = []
        reasons: list[str] = []  # of the unreadable records, for the metrics
        msgs = each_message(item)
        for msg in msgs:
            if isinstance(msg, KafkaError):
                unreadable.append(consumer_error_message(encoder, msg, clock(), max_bytes))
                reasons.append("KAFKA_CONSUMER_ERROR")
                continue
            value = value_of(msg)
            try:
                # the contract is checked here, at the edge, so that a record breaking it is
                # dead-lettered with its exact bytes and coordinates, never seen by a shard
                event = decode_event(value)
                if event.qty.__class__ is not int:
                    whole_qty(event.qty)  # the core's own rule, checked here for the bytes
                key = keys.get(event.sku)
                if key is None:
                    key = keys[event.sku] = shard_key(shard_of(event.sku, shards))
            except ValidationFailed as exc:
                # only the normalize flow should write here; anything else is dead-lettered
                unreadable.append(
                    dead_letter_message(
                        encoder,
                        error_code="INVALID_CANONICAL_EVENT",
                        message=f"not a canonical event on the events topic: {exc}",
                        original=value,
                        source=RawRecord.of(msg),
                        now=clock(),
                        errors=exc.errors,
                        max_bytes=max_bytes,
                    )
                )
                reasons.append("INVALID_CANONICAL_EVENT")
                continue
            except Exception as exc:  # one record's failure, kept as data
                unreadable.append(_failed(exc, msg, value, clock(), encoder, max_bytes, failures))
                reasons.append("processing_failed")
                continue
            group = groups.get(key)
            if group is None:
                group = groups[key] = ShardBatch()
            group.events.append(event)
            group.records.append(msg)
        out: list[tuple[str, Any]] = list(groups.items())
        if groups:
            now = clock()
            sites = {e.site for group in groups.values() for e in group.events}
            out.append((_SEEN, [SiteSeen(site, now) for site in sites]))
        if unreadable:
            out.append((_UNREADABLE, unreadable))
        if metrics is not None:
            metrics.records_in.inc(len(msgs))
            if reasons:
                metrics.unreadable(reasons)
        return out

    return step


def _failed(
    exc: Exception,
    msg: Any,
    value: bytes,
    now: Any,
    encoder: msgspec.json.Encoder,
    max_bytes: int,
    failures: FailureLog,
) -> tuple[bytes | None, bytes]:
    """The dead letter of a record the decode step raised on (a bug or limit of ours)."""
    source = RawRecord.of(msg)
    failures.failed(exc, "reading an event", f"{source.topic}:{source.partition}@{source.offset}")
    return dead_letter_message(
        encoder,
        error_code="processing_failed",
        message=(
            f"the twin flow failed on this record ({type(exc).__name__}: {str(exc)[:300]}); it "
            "was not applied. Report it with its coordinates; once fixed, replay it from here"
        ),
        original=value,
        source=source,
        now=now,
        max_bytes=max_bytes,
    )


def _changes_per_shard(shards: int) -> Callable[[SkuSitesChanged], list[tuple[str, Any]]]:
    def per_shard(change: SkuSitesChanged) -> list[tuple[str, Any]]:
        grouped: dict[str, list[tuple[str, str]]] = {}
        for sku, site in change.sku_sites:
            grouped.setdefault(shard_key(shard_of(sku, shards)), []).append((sku, site))
        return [(key, SkuSitesChanged(group, change.through)) for key, group in grouped.items()]

    return per_shard


def _sites_of(master: MasterData | MasterIndex) -> MasterData:
    """The sites alone, what freshness needs (never the catalogue as a struct per SKU)."""
    if isinstance(master, MasterData):
        return master
    return MasterData(sites=list(master.columns.sites), skus=[])


def _value_for(key: str, default: Any = None) -> Callable[[tuple[str, Any]], Any]:
    def pick(kv: tuple[str, Any]) -> Any:
        return kv[1] if kv[0] == key else default

    return pick


def _positions(emit: ShardEmit) -> SinkBatch | None:
    return emit.positions or None


def _alerts(emit: ShardEmit) -> list[Any] | None:
    return emit.alerts or None


def _windows(emit: ShardEmit) -> list[Any] | None:
    return emit.windows or None


def _dead(emit: ShardEmit) -> SinkBatch | None:
    return emit.dead or None


def _partials(emit: ShardEmit) -> list[Any]:
    return emit.partials


def _one(item: Any) -> list[Any]:
    return [item]


def _of_kind(kind: str) -> Callable[[ShardOut], Any]:
    def pick(item: ShardOut) -> Any:
        return item[1] if item[0] == kind else None

    return pick


def _site_of(item: Any) -> str:
    return item.site


def _dlq_counts(item: Any) -> Iterable[DlqCount]:
    counts: dict[str, int] = {}
    for msg in each_message(item):
        if isinstance(msg, KafkaError):
            continue
        try:
            letter = dead_letter_decoder.decode(value_of(msg))
        except Exception:  # not a dead letter of ours (any producer may write the topic)
            continue
        site = getattr(letter, "site", None)
        if site:
            counts[site] = counts.get(site, 0) + 1
    return [DlqCount(site, n) for site, n in counts.items()]


def _metric_key(metric: Any) -> str:
    # site metrics are keyed by site (the contract); window metrics by SKU, like positions
    return metric.sku if isinstance(metric, WindowMetric) else metric.site


def _alert_key(alert: Any) -> str:
    return alert.sku or alert.site or ""


def _records(
    items: list[Any], key: Callable[[Any], str], encoder: msgspec.json.Encoder
) -> SinkBatch:
    return [(key(item).encode(), encoder.encode(item)) for item in items]
