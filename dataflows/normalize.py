"""The normalize flow: raw partner feeds in, canonical events and dead letters out.

    feeds.api.v1 ─┐
    feeds.batch.v1 ┼─ normalize (twin.normalize.Normalizer) ─┬─ inventory.events.v1 (key = sku)
    feeds.3pl.v1 ─┘                                          └─ inventory.dlq.v1 (DeadLetter)

Stateless: each Kafka message is turned into zero or more canonical events plus zero or more
rejections, so the flow scales with the feed topics' partitions and needs no state beyond the
Kafka offsets Bytewax recovery keeps. Malformed input never stops the flow: a consumer error,
an unparseable message, a record that breaks the contract and a record the normalizer fails
on in any other way (error code `processing_failed`) all become `DeadLetter` data with the
exact original bytes and the Kafka coordinates they came from; a letter too large for the DLQ
topic is cut to fit (`dataflows.dead_letters`).

Dead letters are dated on the domain clock (`infra.clock`; the wall clock unless a demo
accelerates it), the timeline of the events they sit among.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

import bytewax.operators as op
import msgspec
from bytewax.connectors.kafka import KafkaError
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from dataflows.dead_letters import DEFAULT_MAX_BYTES, consumer_error_message, dead_letter_message
from dataflows.failure_log import FailureLog
from dataflows.kafka_io import RawRecord, SinkBatch, each_message, value_of
from dataflows.masterdata_source import MasterDataSource
from dataflows.metrics import FeedCounters, NormalizeMetrics
from infra.clock import Clock, utc_now
from twin.masterdata import MasterData, MasterIndex
from twin.normalize import Normalizer, NormalizeResult, Rejection

Feed = Literal["api", "batch", "3pl"]

_log = logging.getLogger(__name__)

# Rejections a later master-data change can cure (a record seen before its SKU, site, ...)
MASTER_DATA_CODES = frozenset(
    {"unknown_sku", "unknown_site", "unknown_uom", "unknown_partner", "unknown_txn_type"}
)
# At most one catch-up per this many seconds: a batch full of unknown items asks once
_REFRESH_EVERY_S = 0.05
_REFRESH_TIMEOUT_S = 5.0  # a broker that does not answer: judge with what is loaded


class Normalized(msgspec.Struct, gc=False):
    """What one consumed batch became: canonical event records and dead-letter records."""

    events: SinkBatch
    dead: SinkBatch


def build_normalize_flow(
    feed_sources: Mapping[Feed, Source],
    events_sink: Sink[SinkBatch],
    dlq_sink: Sink[SinkBatch],
    master: MasterData | MasterIndex,
    *,
    clock: Clock = utc_now,
    flow_id: str = "normalize",
    dead_letter_max_bytes: int = DEFAULT_MAX_BYTES,
    metrics: NormalizeMetrics | None = None,
    masterdata: MasterDataSource | None = None,
) -> Dataflow:
    """Wire one input per raw feed through the normalizer into the events and DLQ sinks.

    `feed_sources` maps each feed kind to a source whose items are consumed batches (lists
    of Kafka messages, `dataflows.kafka_io.BatchKafkaSource`) or single messages and
    `KafkaError`s (Bytewax's testing source). Both sinks receive lists of records.
    `masterdata`: the `masterdata.v1` input that keeps `master` (then its feed's index)
    current; a record rejected for missing master data is tried again once the feed has
    caught up with the topic (`dataflows.masterdata_source`).
    """
    flow = Dataflow(flow_id)
    refresh: Callable[[], list[str]] | None = None
    if masterdata is not None:
        master = masterdata.feed.index
        changes = masterdata.feed

        def catch_up_now() -> list[str]:
            return changes.catch_up(timeout_s=_REFRESH_TIMEOUT_S)

        refresh = catch_up_now
        # polled on every worker; applying changes is all it does (it yields nothing)
        op.input("read_masterdata_changes", flow, masterdata)
    normalizer = Normalizer(master)
    if masterdata is not None:
        masterdata.feed.on_change(normalizer.master_changed)
    encoder = msgspec.json.Encoder()
    normalized = []
    for feed, source in feed_sources.items():
        raw = op.input(f"read_{feed}_feed", flow, source)
        counters = metrics.feed(feed) if metrics is not None else None
        step = _normalizer_step(
            normalizer, feed, encoder, clock, dead_letter_max_bytes, counters, refresh
        )
        normalized.append(op.map(f"normalize_{feed}_records", raw, step))
    merged = op.merge("merge_feeds", *normalized) if len(normalized) > 1 else normalized[0]
    op.output("write_canonical_events", op.filter_map("events", merged, _events), events_sink)
    op.output("write_dead_letters", op.filter_map("dead_letters", merged, _dead), dlq_sink)
    return flow


def _events(batch: Normalized) -> SinkBatch | None:
    return batch.events or None


def _dead(batch: Normalized) -> SinkBatch | None:
    return batch.dead or None


def _normalizer_step(
    normalizer: Normalizer,
    feed: Feed,
    encoder: msgspec.json.Encoder,
    clock: Clock,
    max_bytes: int = DEFAULT_MAX_BYTES,
    counters: FeedCounters | None = None,
    refresh: Callable[[], list[str]] | None = None,
) -> Callable[[Any], Normalized]:
    """The per-batch step: a thin adapter around `Normalizer.normalize`. Whatever one
    message makes it raise becomes that message's dead letter: no record stops the flow.
    `counters` are told once per batch (the dead letters' codes are listed only when any).
    `refresh` brings master data up to date (the feed's `catch_up`): called when a record
    is rejected for missing master data (at most every `_REFRESH_EVERY_S`, so a flood of
    unknown items asks the broker once per batch), and if it applied any change the
    record is normalized again, so a SKU published just before its first event
    is not dead-lettered for being unknown."""
    normalize = _with_refresh(normalizer.normalize, refresh, failures=FailureLog(_log))
    encode = encoder.encode
    failures = FailureLog(_log)

    def step(item: Any) -> Normalized:
        events: SinkBatch = []
        dead: SinkBatch = []
        dead_codes: list[str] = []
        msgs = each_message(item)
        for msg in msgs:
            if isinstance(msg, KafkaError):
                dead.append(consumer_error_message(encoder, msg, clock(), max_bytes))
                dead_codes.append("KAFKA_CONSUMER_ERROR")
                continue
            try:
                result = normalize(feed, value_of(msg))
                produced = [(event.sku.encode(), encode(event)) for event in result.events]
                rejected = []
                if result.rejections:
                    now = clock()
                    source = RawRecord.of(msg)
                    rejected = [
                        _dead_letter(rejection, source, now, encoder, max_bytes)
                        for rejection in result.rejections
                    ]
                    dead_codes += [rejection.error_code for rejection in result.rejections]
            except Exception as exc:  # one record's failure, kept as data
                dead.append(_failed(exc, feed, msg, clock(), encoder, max_bytes, failures))
                dead_codes.append("processing_failed")
                continue
            events += produced
            dead += rejected
        if counters is not None:
            counters.batch(len(msgs), len(events), dead_codes)
        return Normalized(events, dead)

    return step


def _with_refresh(
    normalize: Callable[[Feed, bytes], NormalizeResult],
    refresh: Callable[[], list[str]] | None,
    failures: FailureLog,
) -> Callable[[Feed, bytes], NormalizeResult]:
    """`normalize`, trying a record again after `refresh` when master data was missing."""
    if refresh is None:
        return normalize
    refreshed_at = [0.0]

    def normalize_current(feed: Feed, raw: bytes) -> NormalizeResult:
        result = normalize(feed, raw)
        if not any(r.error_code in MASTER_DATA_CODES for r in result.rejections):
            return result
        now = time.monotonic()
        if now - refreshed_at[0] < _REFRESH_EVERY_S:  # a flood of unknowns: one look per batch
            return result
        refreshed_at[0] = now
        try:
            changed = refresh()
        except Exception as exc:  # the broker is away: judge with what is loaded
            failures.failed(exc, "catching up with master-data changes")
            return result
        return normalize(feed, raw) if changed else result

    return normalize_current


def _where(source: RawRecord) -> str:
    return f"{source.topic}:{source.partition}@{source.offset}"


def _failed(
    exc: Exception,
    feed: Feed,
    msg: Any,
    now: datetime,
    encoder: msgspec.json.Encoder,
    max_bytes: int,
    failures: FailureLog,
) -> tuple[bytes | None, bytes]:
    """The dead letter of a record the normalizer raised on: a bug or a limit of ours, not
    the sender's, so the message says so and the log keeps the traceback (`FailureLog`)."""
    source = RawRecord.of(msg)
    failures.failed(exc, f"normalizing a {feed} record", _where(source))
    return dead_letter_message(
        encoder,
        error_code="processing_failed",
        message=(
            f"the normalize flow failed on this {feed} record ({type(exc).__name__}: "
            f"{str(exc)[:300]}); it was not applied. Report it with its coordinates; once "
            "fixed, replay it from here"
        ),
        original=value_of(msg),
        source=source,
        now=now,
        max_bytes=max_bytes,
    )


def _dead_letter(
    rejection: Rejection,
    source: RawRecord,
    now: datetime,
    encoder: msgspec.json.Encoder,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[bytes | None, bytes]:
    return dead_letter_message(
        encoder,
        error_code=rejection.error_code,
        message=rejection.message,
        original=rejection.original,
        source=source,
        now=now,
        errors=list(rejection.errors),
        record_index=rejection.record_index,
        site=rejection.site,
        max_bytes=max_bytes,
    )
