"""Each feed writes DESIGN's raw format, which the real normalizer turns back into the event."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from simulator.faults import FaultPlan
from simulator.feeds import make_feed
from simulator.network import network_from_master
from simulator.spec import DEFAULT_FEEDS, DuplicateFault, MalformedFault, OutageFault
from twin.masterdata_gen import generate_master_data
from twin.normalize import Normalizer

START = datetime(2026, 11, 26, tzinfo=UTC)


@pytest.fixture(scope="module")
def network():
    return network_from_master(generate_master_data(sites=4, skus=10, seed=1))


def _feed(network, site_id, faults=None, seed=1):
    site = network.sites[network.site_index(site_id)]
    return make_feed(
        network, site, DEFAULT_FEEDS[site.feed_mode], faults or FaultPlan(), random.Random(seed),
        START,
    )  # fmt: skip


def _drain(feed, until=10 * 3600.0):
    out = []
    feed.collect(until, out)
    return out


def _normalize(network, deliveries):
    normalizer = Normalizer(network.master)
    events, rejections = [], []
    for _at, _seq, kind, _key, value, _s, _n in deliveries:
        result = normalizer.normalize(kind, value)
        events += result.events
        rejections += result.rejections
    return events, rejections


def _record(network, site_id, etype="RECEIVED", k=3, qty=5, t=100.0, **extra):
    to_s = extra.get("to_s", -1)
    return (t, f"{site_id}-00000001", etype, k, qty, "each", to_s, extra.get("xfer", ""), "PO-1")


@pytest.mark.parametrize("site_id", ["WH-01", "WH-03", "TPL-01"])
def test_a_record_comes_out_of_the_normalizer_as_the_same_movement(network, site_id):
    feed = _feed(network, site_id)
    feed.push(100.0, _record(network, site_id))
    events, rejections = _normalize(network, _drain(feed))
    assert rejections == []
    (event,) = events
    assert (event.type, event.sku, event.site, event.qty) == (
        "RECEIVED", network.sku_ids[3], site_id, 5,
    )  # fmt: skip
    assert event.occurred_at == datetime(2026, 11, 26, 0, 1, 40, tzinfo=UTC)


def test_a_3pl_file_speaks_the_partners_language(network):
    feed = _feed(network, "TPL-01")
    feed.push(100.0, _record(network, "TPL-01", "TRANSFER_SHIPPED", to_s=0, xfer="TR-1"))
    (delivery,) = _drain(feed)
    header, line = delivery[4].decode().strip().split("\n")
    assert header.startswith("TXN_ID,WHSE,ITEM,TXN_TYPE,QTY,UOM,TXN_TS")
    cells = dict(zip(header.split(","), line.split(","), strict=True))
    assert cells["TXN_TYPE"] == "TRO"
    assert cells["UOM"] == "EA"
    assert cells["ITEM"] != network.sku_ids[3]  # the partner's own item number
    assert cells["TXN_TS"] == "11/25/2026 17:01:40"  # Denver local time, partner format
    (event,), _ = _normalize(network, [delivery])
    assert (event.type, event.to_site, event.transfer_id) == ("TRANSFER_SHIPPED", "WH-01", "TR-1")


def test_a_batch_waits_for_its_interval_and_carries_every_record(network):
    feed = _feed(network, "WH-03")
    for i in range(3):
        feed.push(10.0 + i, (10.0 + i, f"WH-03-{i}", "RESERVED", i, 1, "each", -1, "", ""))
    assert _drain(feed, until=5.0) == []
    (delivery,) = _drain(feed)
    assert delivery[2] == "batch" and delivery[0] >= 15 * 60 * 0.25
    events, rejections = _normalize(network, [delivery])
    assert len(events) == 3 and rejections == []


def test_during_an_outage_nothing_arrives_and_the_backlog_comes_at_recovery(network):
    faults = FaultPlan(outages=[OutageFault(kind="outage", sites=["WH-01"], start_hour=0,
                                            duration_hours=2)])  # fmt: skip
    feed = _feed(network, "WH-01", faults)
    for i in range(20):
        feed.push(60.0 * i, (60.0 * i, f"WH-01-{i}", "RESERVED", 1, 1, "each", -1, "", ""))
    assert _drain(feed, until=2 * 3600.0 - 1) == []
    backlog = _drain(feed, until=2 * 3600.0 + 61)
    assert len(backlog) == 20
    assert all(d[0] >= 2 * 3600.0 for d in backlog)


def test_injected_duplicates_are_counted_and_carry_the_same_event_id(network):
    faults = FaultPlan(duplicates=[DuplicateFault(kind="duplicates", rate=1.0)])
    feed = _feed(network, "WH-01", faults)
    feed.push(0.0, _record(network, "WH-01"))
    deliveries = _drain(feed)
    events, _ = _normalize(network, deliveries)
    assert faults.injected_duplicates == {"WH-01": 1}
    assert [e.event_id for e in events] == ["WH-01-00000001"] * 2


@pytest.mark.parametrize("site_id", ["WH-01", "WH-03", "TPL-01"])
def test_every_malformed_record_is_rejected_and_the_good_ones_pass(network, site_id):
    faults = FaultPlan(malformed=[MalformedFault(kind="malformed", rate=0.5)])
    feed = _feed(network, site_id, faults, seed=4)
    for i in range(40):
        t = 30.0 * i
        feed.push(t, (t, f"{site_id}-{i:04d}", "RESERVED", i % 10, 1, "each", -1, "", ""))
    events, rejections = _normalize(network, _drain(feed))
    assert faults.injected_malformed[site_id] > 0
    assert len(rejections) == faults.injected_malformed[site_id]
    assert len(events) == 40
