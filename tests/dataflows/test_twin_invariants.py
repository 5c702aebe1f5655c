"""The twin flow's invariant checks, as its /metrics shows them: stock shipped on transfers is
either in transit or received (`invtwin_twin_invariant_violations` stays 0), and the SKU-sites
with a negative bucket are counted. Checked against an independent fold of the same events,
and shown to notice a twin that lost units in transit.
"""

from __future__ import annotations

import random

import msgspec
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dataflows.metrics import BUCKETS, TwinMetrics
from dataflows.shard_logic import ShardFactory, ShardState
from dataflows.twin import TwinFlowConfig, build_twin_flow
from tests.dataflows.flowkit import kafka_messages, run, source
from tests.dataflows.scripted import T0, expected_positions, script_events
from tests.dataflows.test_twin_flow import Outputs
from twin.events import EventType, InventoryEvent
from twin.masterdata_gen import generate_master_data
from twin.windows import WindowConfig


def _gauges(metrics: TwinMetrics) -> dict[tuple[str, str], float]:
    """The invariant families as a scrape reads them: (name, label value) -> value."""
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, next(iter(s.labels.values()), "")): s.value
        for family in text_string_to_metric_families(text)
        if family.name
        in (
            "invtwin_twin_transfer_units",
            "invtwin_twin_invariant_violations",
            "invtwin_twin_negative_buckets",
        )
        for s in family.samples
    }


def _run(events: list[InventoryEvent], workers: int = 1) -> TwinMetrics:
    master = generate_master_data(sites=4, skus=60, seed=3)
    metrics = TwinMetrics()
    flow = build_twin_flow(
        source(kafka_messages("inventory.events.v1", map(msgspec.json.encode, events))),
        Outputs().sinks(),
        master,
        ShardFactory(master, window=WindowConfig(size_s=900, lateness_s=600)),
        config=TwinFlowConfig(shards=16),
        metrics=metrics,
    )
    run(flow, workers)
    return metrics


@pytest.mark.parametrize("workers", [1, 2])
def test_transfer_stock_is_conserved_and_negative_buckets_counted(workers: int) -> None:
    master = generate_master_data(sites=4, skus=60, seed=3)
    rng = random.Random(11)
    events = script_events(master, rng, 3000, skus=30)
    stream = [*events, *rng.sample(events, 300)]  # re-sent: never counted twice
    rng.shuffle(stream)

    gauges = _gauges(_run(stream, workers))

    shipped = sum(int(e.qty) for e in events if e.type is EventType.TRANSFER_SHIPPED)
    received = sum(int(e.qty) for e in events if e.type is EventType.TRANSFER_RECEIVED)
    assert shipped > 0 and received > 0
    assert gauges[("invtwin_twin_transfer_units", "shipped")] == shipped
    assert gauges[("invtwin_twin_transfer_units", "received")] == received
    assert gauges[("invtwin_twin_transfer_units", "in_transit")] == shipped - received
    assert gauges[("invtwin_twin_invariant_violations", "transfer_stock_conserved")] == 0
    oracle = expected_positions(events)
    for bucket in BUCKETS:
        negative = sum(
            1 for sites in oracle.values() for b in sites.values() if b.get(bucket, 0) < 0
        )
        assert gauges[("invtwin_twin_negative_buckets", bucket)] == negative, bucket


def test_a_twin_that_loses_units_in_transit_fails_the_check() -> None:
    master = generate_master_data(sites=4, skus=60, seed=3)
    sku, (site, dest) = master.skus[0].id, [s.id for s in master.sites[:2]]
    factory = ShardFactory(master)
    state = factory.new()
    shipped = InventoryEvent(
        event_id="ship-1",
        type=EventType.TRANSFER_SHIPPED,
        sku=sku,
        site=site,
        qty=40,
        uom="each",
        occurred_at=T0,
        source="test",
        to_site=dest,
        transfer_id="T-1",
    )
    state.shard.apply_batch([shipped], T0)
    state.shipped += 40  # what the shard logic counts for an applied shipment
    metrics = TwinMetrics()
    slot = metrics.invariants.slot()
    metrics.invariants.report(slot, state.invariants())
    assert _gauges(metrics)[("invtwin_twin_invariant_violations", "transfer_stock_conserved")] == 0

    state.shard.twins[sku].sites[dest].in_transit -= 15  # units vanish on the way
    metrics.invariants.report(slot, state.invariants())
    gauges = _gauges(metrics)
    assert gauges[("invtwin_twin_invariant_violations", "transfer_stock_conserved")] == 15
    assert gauges[("invtwin_twin_transfer_units", "in_transit")] == 25


def test_a_snapshot_from_before_the_transfer_ledger_starts_the_check_balanced() -> None:
    master = generate_master_data(sites=4, skus=60, seed=3)
    sku, (site, dest) = master.skus[0].id, [s.id for s in master.sites[:2]]
    factory = ShardFactory(master)
    state = factory.new()
    shipped = InventoryEvent(
        event_id="ship-1",
        type=EventType.TRANSFER_SHIPPED,
        sku=sku,
        site=site,
        qty=40,
        uom="each",
        occurred_at=T0,
        source="test",
        to_site=dest,
        transfer_id="T-1",
    )
    state.shard.apply_batch([shipped], T0)
    del state.shipped, state.received  # as a snapshot written before they existed
    resumed = ShardState.loads(state.dumps(), factory.rules())
    figures = resumed.invariants()
    assert (figures.shipped, figures.received, figures.in_transit) == (40, 0, 40)
