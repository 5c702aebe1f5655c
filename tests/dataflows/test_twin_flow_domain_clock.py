"""The twin flow on an accelerated domain clock (what the demo runs): sites are judged and
outputs dated in simulated time, while Bytewax's timers keep running on the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from bytewax.testing import TestingSource

from dataflows.kafka_io import SinkRecord
from dataflows.shard_logic import ShardFactory
from dataflows.twin import TwinFlowConfig, TwinSinks, build_twin_flow
from infra.clock import Clock, DomainClock, utc_now
from tests.dataflows.flowkit import RecordSink, kafka_messages, latest_positions, run, source
from twin.events import EventType, InventoryEvent
from twin.masterdata import MasterData
from twin.masterdata_gen import generate_master_data
from twin.wire import SiteMetric, alert_decoder, metric_decoder, position_decoder

SPEED = 3600.0  # one simulated hour per wall second
_enc = msgspec.json.Encoder()


@pytest.fixture(scope="module")
def master() -> MasterData:
    return generate_master_data(sites=4, skus=20, seed=5)


def accelerated() -> DomainClock:
    # the clocks met ten wall seconds ago: the domain clock is ten hours ahead already
    return DomainClock(utc_now() - timedelta(seconds=10), SPEED)


class Outputs:
    def __init__(self) -> None:
        self.positions: list[SinkRecord] = []
        self.alerts: list[SinkRecord] = []
        self.metrics: list[SinkRecord] = []

    def run(self, master: MasterData, items: list[object], clock: Clock, **config: object) -> None:
        flow = build_twin_flow(
            source(items),
            TwinSinks(
                RecordSink(self.positions), RecordSink(self.alerts), RecordSink(self.metrics)
            ),
            master,
            ShardFactory(master),
            config=TwinFlowConfig(shards=4, **config),  # type: ignore[arg-type]
            clock=clock,
        )
        run(flow, 1)


def _quiet_site_run(master: MasterData, clock: Clock) -> tuple[Outputs, str, str, str]:
    """One event from a site allowed an hour of silence, then two wall seconds of nothing,
    then an event from a site allowed ten days."""
    quiet, busy = master.sites[0].id, master.sites[1].id
    md = _intervals(master, {quiet: 1800.0})
    sku = md.skus[0].id
    occurred = clock() - timedelta(minutes=10)
    items = [
        # one unit on hand: below the reorder point, so low stock there (a sync gap once stale)
        *kafka_messages("inventory.events.v1", [_event("q1", sku, quiet, occurred, "ADJUSTED")]),
        TestingSource.PAUSE(timedelta(seconds=2)),
        *kafka_messages("inventory.events.v1", [_event("b1", sku, busy, occurred)]),
    ]
    out = Outputs()
    out.run(
        md,
        items,
        clock,
        coalesce=timedelta(milliseconds=50),
        freshness_check=timedelta(milliseconds=100),
    )
    return out, quiet, busy, sku


def test_a_site_quiet_for_two_wall_seconds_is_stale_on_a_3600x_clock(master) -> None:
    clock = accelerated()
    started = clock()
    out, quiet, busy, sku = _quiet_site_run(master, clock)

    alerts = [alert_decoder.decode(m.value) for m in out.alerts]
    stale = [a for a in alerts if a.kind == "STALE_FEED" and a.state == "raised"]
    assert [a.site for a in stale] == [quiet]
    # judged in simulated time: more than the allowed hour of silence, at a simulated instant
    assert stale[0].detected_at - started > timedelta(hours=1)
    kinds = {(a.kind, a.site) for a in alerts if a.state == "raised"}
    assert ("SUSPECTED_SYNC_GAP", quiet) in kinds
    final = latest_positions(out.positions)[sku]
    assert final.sites[quiet].fresh is False and final.sites[busy].fresh is True
    # event-to-visible latency in simulated time: at least the ten minutes the event was old,
    # not a negative figure clamped to zero
    metrics = [metric_decoder.decode(m.value) for m in out.metrics]
    latencies = [
        m.visible_latency for m in metrics if isinstance(m, SiteMetric) and m.site == quiet
    ]
    assert max(lat.p50_ms for lat in latencies if lat.count) >= 10 * 60 * 1000


def test_the_same_silence_on_the_wall_clock_is_not_stale(master) -> None:
    out, quiet, _busy, sku = _quiet_site_run(master, utc_now)

    alerts = [alert_decoder.decode(m.value) for m in out.alerts]
    assert not [a for a in alerts if a.kind == "STALE_FEED"]
    assert latest_positions(out.positions)[sku].sites[quiet].fresh is True


def test_positions_are_flushed_on_wall_time_and_dated_in_domain_time(master) -> None:
    """Coalescing waits 150 ms of *wall* time: the first burst is written during a one-second
    pause, not an hour of wall time later (150 ms x 3600 would be nine minutes)."""
    clock = accelerated()
    master = _intervals(master, {})  # no site goes stale here (that would bump versions)
    sku = master.skus[0].id
    occurred = clock() - timedelta(minutes=1)
    burst1 = [_event(f"a{i}", sku, master.sites[0].id, occurred) for i in range(300)]
    burst2 = [_event(f"b{i}", sku, master.sites[0].id, occurred) for i in range(300)]
    items = [
        *kafka_messages("inventory.events.v1", burst1),
        TestingSource.PAUSE(timedelta(seconds=1)),
        *kafka_messages("inventory.events.v1", burst2),
    ]
    out = Outputs()
    out.run(master, items, clock, coalesce=timedelta(milliseconds=150))

    positions = [position_decoder.decode(m.value) for m in out.positions]
    assert [p.version for p in positions if p.sku == sku] == [300, 600]
    # dated on the domain clock, hours ahead of the wall clock
    assert positions[0].as_of - datetime.now(UTC) > timedelta(hours=5)


def _intervals(master: MasterData, expected_s: dict[str, float]) -> MasterData:
    """Master data with these sites' expected feed intervals, ten days for all others."""
    sites = [
        msgspec.structs.replace(s, expected_interval_s=expected_s.get(s.id, 864_000.0))
        for s in master.sites
    ]
    return msgspec.structs.replace(master, sites=sites)


def _event(
    event_id: str, sku: str, site: str, occurred_at: datetime, kind: str = "RECEIVED"
) -> bytes:
    return _enc.encode(
        InventoryEvent(
            event_id=event_id,
            type=EventType(kind),
            sku=sku,
            site=site,
            qty=1,
            uom="each",
            occurred_at=occurred_at,
            source="test",
        )
    )
