"""The twin flow with Bytewax's testing source and sink, on 1 and 2 workers."""

from __future__ import annotations

import random
from datetime import timedelta

import msgspec
import pytest
from bytewax.recovery import RecoveryConfig
from bytewax.testing import TestingSource, run_main

from dataflows.kafka_io import SinkRecord
from dataflows.runner import ensure_recovery_dir
from dataflows.shard_logic import ShardFactory
from dataflows.twin import TwinFlowConfig, TwinSinks, build_twin_flow
from tests.dataflows.flowkit import RecordSink, kafka_messages, latest_positions, run, source
from tests.dataflows.scripted import T0, buckets_of, expected_positions, script_events
from twin.events import EventType, InventoryEvent
from twin.masterdata_gen import generate_master_data
from twin.windows import WindowConfig
from twin.wire import (
    DeadLetter,
    SiteMetric,
    WindowMetric,
    alert_decoder,
    dead_letter_decoder,
    metric_decoder,
)

_enc = msgspec.json.Encoder()


@pytest.fixture(scope="module")
def master():
    return generate_master_data(sites=4, skus=60, seed=3)


class Outputs:
    def __init__(self) -> None:
        self.positions: list[SinkRecord] = []
        self.alerts: list[SinkRecord] = []
        self.metrics: list[SinkRecord] = []

    def sinks(self) -> TwinSinks:
        return TwinSinks(
            RecordSink(self.positions), RecordSink(self.alerts), RecordSink(self.metrics)
        )

    def alert_states(self) -> list[tuple[str, str]]:
        return sorted((a.id, a.state) for a in (alert_decoder.decode(m.value) for m in self.alerts))

    def metrics_of(self, kind: type) -> list:
        return [
            x for x in (metric_decoder.decode(m.value) for m in self.metrics) if isinstance(x, kind)
        ]


def _run_twin(master, items, workers, *, config=None, window=None, **kwargs) -> Outputs:
    out = Outputs()
    flow = build_twin_flow(
        source(items),
        out.sinks(),
        master,
        ShardFactory(master, window=window or WindowConfig(size_s=900, lateness_s=600)),
        config=config or TwinFlowConfig(shards=16),
        **kwargs,
    )
    run(flow, workers)
    return out


def _scripted(master, n=3000, seed=9):
    rng = random.Random(seed)
    events = script_events(master, rng, n, skus=30)
    resent = rng.sample(events, n // 10)  # re-sent duplicates, anywhere in the stream
    stream = [*events, *resent]
    rng.shuffle(stream)
    return events, stream


@pytest.mark.parametrize("workers", [1, 2])
def test_final_positions_equal_the_independent_expectation(master, workers):
    events, stream = _scripted(master)
    out = _run_twin(
        master, kafka_messages("inventory.events.v1", map(_enc.encode, stream)), workers
    )

    latest = latest_positions(out.positions)
    expected = expected_positions(events)
    assert {sku: buckets_of(p) for sku, p in latest.items()} == expected
    for pos in latest.values():
        for sp in pos.sites.values():
            assert sp.atp == (sp.on_hand - sp.receiving - sp.reserved - sp.picked - sp.quarantined)


def test_one_and_two_workers_give_identical_output(master):
    _, stream = _scripted(master, n=2000, seed=21)
    items = kafka_messages("inventory.events.v1", map(_enc.encode, stream))
    one = _run_twin(master, items, 1)
    two = _run_twin(master, items, 2)

    def final(out):
        return {
            sku: msgspec.structs.replace(p, as_of=T0)
            for sku, p in latest_positions(out.positions).items()
        }

    assert final(one) == final(two)
    assert one.alert_states() == two.alert_states()
    assert one.alert_states(), "the scripted mix should raise some alerts"
    windows = sorted(_enc.encode(w) for w in one.metrics_of(WindowMetric))
    assert windows == sorted(_enc.encode(w) for w in two.metrics_of(WindowMetric))

    def counts(out):
        totals: dict[str, list[int]] = {}
        for m in out.metrics_of(SiteMetric):
            t = totals.setdefault(m.site, [0, 0])
            t[0] += m.events
            t[1] += m.duplicates
        return totals

    assert counts(one) == counts(two)
    assert sum(d for _, d in counts(one).values()) == 200  # every re-sent event counted


def test_accounting_and_window_metrics_cover_every_event(master):
    events, stream = _scripted(master, n=1500, seed=4)
    out = _run_twin(master, kafka_messages("inventory.events.v1", map(_enc.encode, stream)), 1)

    site_metrics = out.metrics_of(SiteMetric)
    assert sum(m.events for m in site_metrics) == len(stream)
    assert sum(m.duplicates for m in site_metrics) == len(stream) - len(events)
    windows = out.metrics_of(WindowMetric)
    # every applied event is in exactly one window (movements) or counted late
    assert sum(w.movements for w in windows) + sum(w.late_events for w in windows) == len(events)
    shipped = sum(int(e.qty) for e in events if e.type is EventType.SHIPPED)
    assert sum(w.demand for w in windows) <= shipped


def test_a_sku_changed_many_times_is_written_once_per_coalescing_interval(master):
    sku = master.skus[0].id
    burst1 = [_event(f"a{i}", sku, "RECEIVED", 1) for i in range(300)]
    burst2 = [_event(f"b{i}", sku, "RECEIVED", 1) for i in range(300)]
    items = [
        *kafka_messages("inventory.events.v1", map(_enc.encode, burst1)),
        TestingSource.PAUSE(timedelta(milliseconds=800)),
        *kafka_messages("inventory.events.v1", map(_enc.encode, burst2)),
    ]
    config = TwinFlowConfig(shards=4, coalesce=timedelta(milliseconds=150))
    out = _run_twin(master, items, 1, config=config)

    versions = [p.version for p in (latest_positions([m]).get(sku) for m in out.positions) if p]
    # the first burst is written during the pause (not held until the end), the second at EOF
    assert versions == [300, 600]


def test_a_quiet_site_goes_stale_and_low_stock_there_becomes_a_suspected_sync_gap(master):
    quiet, busy = master.sites[0].id, master.sites[1].id
    sites = [
        msgspec.structs.replace(s, expected_interval_s=0.2 if s.id == quiet else 3600.0)
        for s in master.sites
    ]
    md = msgspec.structs.replace(master, sites=sites)
    sku = md.skus[0].id
    # one unit on hand at the quiet site: below its reorder point, so LOW_STOCK while fresh
    items = [
        *kafka_messages(
            "inventory.events.v1", [_enc.encode(_event("q1", sku, "ADJUSTED", 1, site=quiet))]
        ),
        TestingSource.PAUSE(timedelta(milliseconds=1500)),
        *kafka_messages(
            "inventory.events.v1", [_enc.encode(_event("b1", sku, "RECEIVED", 5, site=busy))]
        ),
    ]
    config = TwinFlowConfig(
        shards=4, coalesce=timedelta(milliseconds=50), freshness_check=timedelta(milliseconds=100)
    )
    out = _run_twin(md, items, 1, config=config)

    alerts = [alert_decoder.decode(m.value) for m in out.alerts]
    kinds = [(a.kind, a.site, a.state) for a in alerts]
    assert ("LOW_STOCK", quiet, "raised") in kinds
    assert ("STALE_FEED", quiet, "raised") in kinds
    assert ("SUSPECTED_SYNC_GAP", quiet, "raised") in kinds
    assert ("STALE_FEED", busy, "raised") not in kinds
    final = latest_positions(out.positions)[sku]
    assert final.sites[quiet].fresh is False
    assert final.sites[busy].fresh is True
    stale_metrics = [m for m in out.metrics_of(SiteMetric) if m.site == quiet and not m.fresh]
    assert stale_metrics, "a SiteMetric must report the quiet site as not fresh"


def _event(event_id, sku, kind, qty, *, site="WH-01", minutes=0) -> InventoryEvent:
    return InventoryEvent(
        event_id=event_id,
        type=EventType(kind),
        sku=sku,
        site=site,
        qty=qty,
        uom="each",
        occurred_at=T0 + timedelta(minutes=minutes),
        source="test",
    )


def test_a_resumed_run_absorbs_the_replay_and_ends_on_the_same_positions(master, tmp_path):
    events, stream = _scripted(master, n=2000, seed=8)
    msgs = kafka_messages("inventory.events.v1", map(_enc.encode, stream))
    third = len(msgs) // 3
    # a snapshot is taken during the pause; the abort then loses what came after it
    items = [
        *msgs[:third],
        TestingSource.PAUSE(timedelta(milliseconds=400)),
        *msgs[third : 2 * third],
        TestingSource.ABORT(),
        *msgs[2 * third :],
    ]
    recovery = RecoveryConfig(ensure_recovery_dir(tmp_path / "recovery", 1))
    out = Outputs()
    flow = build_twin_flow(
        source(items),
        out.sinks(),
        master,
        ShardFactory(master, window=WindowConfig(size_s=900, lateness_s=600)),
        config=TwinFlowConfig(shards=8),
    )
    run_main(flow, epoch_interval=timedelta(milliseconds=100), recovery_config=recovery)
    before_resume = len(out.positions)
    assert before_resume > 0
    run_main(flow, epoch_interval=timedelta(milliseconds=100), recovery_config=recovery)

    latest = latest_positions(out.positions)
    assert {sku: buckets_of(p) for sku, p in latest.items()} == expected_positions(events)
    site_metrics = out.metrics_of(SiteMetric)
    # the resumed run re-applies only what came after the snapshot, so nothing counts twice
    applied = sum(m.events - m.duplicates for m in site_metrics)
    assert applied >= len(events)


def test_a_record_that_is_not_a_canonical_event_is_dead_lettered_not_dropped(master):
    sku = master.skus[0].id
    good = _enc.encode(_event("g1", sku, "RECEIVED", 4))
    no_destination = _enc.encode(_event("t1", sku, "TRANSFER_SHIPPED", 2))  # needs to_site
    fractional = _enc.encode(_event("f1", sku, "RECEIVED", 2.5))  # base units are whole
    items = kafka_messages(
        "inventory.events.v1",
        [b"{not json", good, b'{"event_id": 1}', no_destination, fractional],
    )
    out = Outputs()
    dlq: list[SinkRecord] = []
    sinks = TwinSinks(
        RecordSink(out.positions),
        RecordSink(out.alerts),
        RecordSink(out.metrics),
        dlq=RecordSink(dlq),
    )
    flow = build_twin_flow(
        source(items), sinks, master, ShardFactory(master), config=TwinFlowConfig(shards=4)
    )
    run(flow, 1)

    letters = [dead_letter_decoder.decode(m.value) for m in dlq]
    assert [(x.original, x.offset, x.error_code) for x in letters] == [
        (b"{not json", 0, "INVALID_CANONICAL_EVENT"),
        (b'{"event_id": 1}', 2, "INVALID_CANONICAL_EVENT"),
        (no_destination, 3, "INVALID_CANONICAL_EVENT"),
        (fractional, 4, "INVALID_CANONICAL_EVENT"),
    ]
    # the contract breakers say which field and why
    assert {e.field for e in letters[2].errors} >= {"to_site", "transfer_id"}
    assert [(e.field, e.code) for e in letters[3].errors] == [("qty", "not_whole")]
    assert latest_positions(out.positions)[sku].sites["WH-01"].on_hand == 4


def test_dead_letters_are_counted_per_site_in_the_site_metrics(master):
    _, stream = _scripted(master, n=300, seed=4)
    site = master.sites[0].id
    letters = [
        DeadLetter(
            error_code="unknown_sku",
            message="sku: no such SKU",
            original=b"{}",
            source_topic="feeds.api.v1",
            partition=0,
            offset=i,
            rejected_at=T0,
            site=site,
        )
        for i in range(3)
    ]
    out = _run_twin(
        master,
        kafka_messages("inventory.events.v1", map(_enc.encode, stream)),
        1,
        dlq_source=source(kafka_messages("inventory.dlq.v1", map(_enc.encode, letters))),
    )
    per_site: dict[str, int] = {}
    for metric in out.metrics_of(SiteMetric):
        per_site[metric.site] = per_site.get(metric.site, 0) + metric.dlq
    assert per_site[site] == 3
    assert sum(per_site.values()) == 3


def test_transfer_cycle_time_is_reported_at_the_receiving_site(master):
    sku = master.skus[0].id
    src, dst = master.sites[0].id, master.sites[1].id

    def leg(kind, minutes, site, **extra):
        return InventoryEvent(
            event_id=f"{kind}-{minutes}",
            type=EventType(kind),
            sku=sku,
            site=site,
            qty=3,
            uom="each",
            occurred_at=T0 + timedelta(minutes=minutes),
            source="test",
            transfer_id="TR-1",
            **extra,
        )

    # the receipt is read before the shipment (feeds arrive out of order)
    stream = [leg("TRANSFER_RECEIVED", 90, dst), leg("TRANSFER_SHIPPED", 0, src, to_site=dst)]
    out = _run_twin(master, kafka_messages("inventory.events.v1", map(_enc.encode, stream)), 1)
    cycles = {m.site: m.transfer_cycle_s_p50 for m in out.metrics_of(SiteMetric)}
    assert cycles[dst] is not None and abs(cycles[dst] - 5400.0) <= 5400.0 * 0.02
    assert cycles.get(src) is None
