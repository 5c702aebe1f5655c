"""What the twin flow does with events it cannot apply, on 1 and 2 workers: each becomes a
dead letter with its exact bytes and coordinates, is counted, and the flow goes on.

* older than the SKU's event-time horizon -> `outside_horizon`;
* an event id seen before with other business content -> `event_id_conflict`;
* an event the core raises on (a bug of ours, simulated by a shard that raises on one
  event id) -> `processing_failed`, and every other event of its batch is applied once.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from dataflows.shard_logic import ShardFactory, ShardState
from dataflows.twin import TwinFlowConfig, TwinSinks, build_twin_flow
from tests.dataflows.flowkit import RecordSink, kafka_messages, latest_positions, run, source
from tests.dataflows.scripted import T0
from twin.events import EventType, InventoryEvent
from twin.masterdata_gen import generate_master_data
from twin.shard import TwinShard
from twin.windows import TumblingWindows, WindowConfig
from twin.wire import SiteMetric, dead_letter_decoder, metric_decoder

TOPIC = "inventory.events.v1"
_enc = msgspec.json.Encoder()


@pytest.fixture(scope="module")
def master():
    return generate_master_data(sites=4, skus=20, seed=3)


def received(event_id: str, qty: int, *, hours: float = 0.0, sku: str = "SKU-00001"):
    return InventoryEvent(
        event_id=event_id,
        type=EventType.RECEIVED,
        sku=sku,
        site="WH-01",
        qty=qty,
        uom="each",
        occurred_at=T0 + timedelta(hours=hours),
        source="test",
    )


class Collected:
    def __init__(self) -> None:
        self.positions: list = []
        self.alerts: list = []
        self.metrics: list = []
        self.dlq: list = []

    def sinks(self) -> TwinSinks:
        return TwinSinks(
            RecordSink(self.positions),
            RecordSink(self.alerts),
            RecordSink(self.metrics),
            RecordSink(self.dlq),
        )

    def letters(self):
        return [dead_letter_decoder.decode(m.value) for m in self.dlq]

    def site_metrics(self) -> list[SiteMetric]:
        decoded = (metric_decoder.decode(m.value) for m in self.metrics)
        return [m for m in decoded if isinstance(m, SiteMetric)]


def run_twin(master, events: list[InventoryEvent], workers: int, factory=None) -> Collected:
    out = Collected()
    records = [_enc.encode(e) for e in events]
    flow = build_twin_flow(
        source(kafka_messages(TOPIC, records), batch_size=len(records)),
        out.sinks(),
        master,
        factory or ShardFactory(master, window=WindowConfig(size_s=900, lateness_s=600)),
        config=TwinFlowConfig(shards=4, coalesce=timedelta(0)),
    )
    run(flow, workers)
    return out


def assert_letters_carry_the_exact_records(letters, events) -> None:
    for letter in letters:
        assert bytes(letter.original) == _enc.encode(events[letter.offset])  # the exact bytes
        assert letter.source_topic == TOPIC
        assert letter.partition == 0
        assert letter.site == "WH-01"
        assert letter.message


@pytest.mark.parametrize("workers", [1, 2])
def test_an_event_outside_the_horizon_is_dead_lettered_and_counted(master, workers):
    events = [
        received("e-new", 5, hours=24 * 10),
        received("e-old", 7),  # ten days before the newest: outside the 7-day horizon
        received("e-new", 5, hours=24 * 10),  # the same id and content: a duplicate
        received("e-later", 2, hours=24 * 10 + 1),
    ]
    out = run_twin(master, events, workers)

    assert latest_positions(out.positions)["SKU-00001"].sites["WH-01"].on_hand == 7
    letters = out.letters()
    assert [(x.error_code, x.offset) for x in letters] == [("outside_horizon", 1)]
    assert "7 days" in letters[0].message
    assert_letters_carry_the_exact_records(letters, events)
    figures = out.site_metrics()
    assert sum(m.events for m in figures) == 4
    assert sum(m.duplicates for m in figures) == 1
    assert sum(m.exceptions for m in figures) == 1  # 4 = 2 applied + 1 duplicate + 1 letter


@pytest.mark.parametrize("workers", [1, 2])
def test_an_event_id_seen_with_other_content_is_dead_lettered_as_a_conflict(master, workers):
    events = [
        received("e-1", 5),
        received("e-1", 9),  # the same id, another quantity: a conflict, not a duplicate
        received("e-1", 5),  # the same id and content: a duplicate
        received("e-2", 2),
    ]
    out = run_twin(master, events, workers)

    assert latest_positions(out.positions)["SKU-00001"].sites["WH-01"].on_hand == 7
    letters = out.letters()
    assert [(x.error_code, x.offset) for x in letters] == [("event_id_conflict", 1)]
    assert_letters_carry_the_exact_records(letters, events)
    figures = out.site_metrics()
    assert (sum(m.duplicates for m in figures), sum(m.exceptions for m in figures)) == (1, 1)


class ShardThatFailsOn(TwinShard):
    """A core with a bug: raises in the middle of a batch on one event id."""

    poison = "e-poison"

    def apply_batch(self, events, applied_at):
        if any(e.event_id == self.poison for e in events):
            if len(events) > 1:  # the failed batch call applies the events before it
                head = events[: [e.event_id for e in events].index(self.poison)]
                super().apply_batch(head, applied_at)
            raise OverflowError("date value out of range")
        return super().apply_batch(events, applied_at)


class FailingFactory(ShardFactory):
    def new(self) -> ShardState:
        shard = ShardThatFailsOn(None, self.config)
        shard.rules = self.rules()
        return ShardState(shard, TumblingWindows(self.window))


@pytest.mark.parametrize("workers", [1, 2])
def test_an_event_the_core_raises_on_is_dead_lettered_and_the_rest_of_its_batch_applied_once(
    master, workers
):
    events = [
        received("e-1", 1),
        received("e-2", 2),
        received("e-poison", 100),
        received("e-3", 4),
    ]
    out = run_twin(master, events, workers, factory=FailingFactory(master))

    assert latest_positions(out.positions)["SKU-00001"].sites["WH-01"].on_hand == 7
    (letter,) = out.letters()
    assert letter.error_code == "processing_failed"
    assert "OverflowError" in letter.message
    assert bytes(letter.original) == _enc.encode(events[2])
    assert (letter.source_topic, letter.partition, letter.offset) == (TOPIC, 0, 2)
