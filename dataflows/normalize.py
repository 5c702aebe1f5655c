"""The normalize flow: raw partner feeds in, canonical events and dead letters out.

    feeds.api.v1 ─┐
    feeds.batch.v1 ┼─ normalize (twin.normalize.Normalizer) ─┬─ inventory.events.v1 (key = sku)
    feeds.3pl.v1 ─┘                                          └─ inventory.dlq.v1 (DeadLetter)

Stateless: each Kafka message is turned into zero or more canonical events plus zero or more
rejections, so the flow scales with the feed topics' partitions and needs no state beyond the
Kafka offsets Bytewax recovery keeps. Malformed input never stops the flow: a consumer error,
an unparseable message and a record that breaks the contract all become `DeadLetter` data
with the exact original bytes and the Kafka coordinates they came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Literal

import bytewax.operators as op
import msgspec
from bytewax.connectors.kafka import KafkaError, KafkaSourceMessage
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from dataflows.dead_letters import consumer_error_message, dead_letter_message
from dataflows.kafka_io import RawRecord, SinkMessage, SinkRecord
from twin.masterdata import MasterData
from twin.normalize import Normalizer, Rejection

Feed = Literal["api", "batch", "3pl"]
Clock = Callable[[], datetime]
# What the normalize step emits: ("event", msg) for inventory.events.v1, ("dlq", msg) else.
Routed = tuple[Literal["event", "dlq"], SinkMessage]


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_normalize_flow(
    feed_sources: Mapping[Feed, Source],
    events_sink: Sink[SinkMessage],
    dlq_sink: Sink[SinkMessage],
    master: MasterData,
    *,
    clock: Clock = utc_now,
    flow_id: str = "normalize",
) -> Dataflow:
    """Wire one input per raw feed through the normalizer into the events and DLQ sinks.

    `feed_sources` maps each feed kind to a source of Kafka messages (`KafkaSourceMessage`
    or `KafkaError` items): production passes `KafkaSource`s, tests `TestingSource`s.
    """
    flow = Dataflow(flow_id)
    normalizer = Normalizer(master)
    encoder = msgspec.json.Encoder()
    routed = []
    for feed, source in feed_sources.items():
        raw = op.input(f"read_{feed}_feed", flow, source)
        routed.append(
            op.flat_map(
                f"normalize_{feed}_records",
                raw,
                _normalizer_step(normalizer, feed, encoder, clock),
            )
        )
    merged = op.merge("merge_feeds", *routed) if len(routed) > 1 else routed[0]
    split = op.branch("split_events_from_rejections", merged, lambda r: r[0] == "event")
    op.output("write_canonical_events", op.map("event_message", split.trues, _msg), events_sink)
    op.output("write_dead_letters", op.map("dlq_message", split.falses, _msg), dlq_sink)
    return flow


def _msg(routed: Routed) -> SinkMessage:
    return routed[1]


def _normalizer_step(
    normalizer: Normalizer, feed: Feed, encoder: msgspec.json.Encoder, clock: Clock
) -> Callable[[object], Iterable[Routed]]:
    """The per-message step: a thin adapter around `Normalizer.normalize`."""

    def step(item: object) -> Iterable[Routed]:
        if isinstance(item, KafkaError):
            yield "dlq", consumer_error_message(encoder, item, clock())
            return
        # a RawRecord (lean Kafka source) or a KafkaSourceMessage (Bytewax's, tests)
        assert isinstance(item, RawRecord | KafkaSourceMessage)
        result = normalizer.normalize(feed, item.value or b"")
        for event in result.events:
            yield "event", SinkRecord(event.sku.encode(), encoder.encode(event))
        if result.rejections:
            now = clock()
            for rejection in result.rejections:
                yield "dlq", _dead_letter(rejection, item, now, encoder)

    return step


def _dead_letter(
    rejection: Rejection,
    msg: RawRecord | KafkaSourceMessage,
    now: datetime,
    encoder: msgspec.json.Encoder,
) -> SinkMessage:
    return dead_letter_message(
        encoder,
        error_code=rejection.error_code,
        message=rejection.message,
        original=rejection.original,
        source=msg,
        now=now,
        errors=list(rejection.errors),
        record_index=rejection.record_index,
        site=rejection.site,
    )
