"""Both flows on the real broker: a scripted mix through the three raw feeds, end to end."""

from __future__ import annotations

import random
from pathlib import Path

import msgspec
import pytest
from bytewax.testing import run_main

from dataflows.production import normalize_flow, twin_flow
from dataflows.settings import FlowSettings
from tests.dataflows.kafkakit import produce, read_all
from tests.dataflows.scripted import buckets_of, expected_positions, raw_feeds, script_events
from twin.masterdata import MasterData
from twin.masterdata_gen import generate_master_data
from twin.wire import Position, SiteMetric, dead_letter_decoder, metric_decoder, position_decoder

pytestmark = pytest.mark.integration


def calm_master(sites: int = 5, skus: int = 80, seed: int = 13) -> MasterData:
    """Generated master data whose feeds never go stale during a test."""
    md = generate_master_data(sites=sites, skus=skus, seed=seed)
    return msgspec.structs.replace(
        md, sites=[msgspec.structs.replace(s, expected_interval_s=3600.0) for s in md.sites]
    )


def latest_from_topic(bootstrap: str, topic: str) -> dict[str, Position]:
    latest: dict[str, Position] = {}
    for msg in read_all(bootstrap, topic):
        pos = position_decoder.decode(msg.value())
        assert msg.key() == pos.sku.encode()
        if pos.sku not in latest or pos.version > latest[pos.sku].version:
            latest[pos.sku] = pos
    return latest


def bounded_settings(bootstrap: str, suffix: str, state_dir: Path, **kw) -> FlowSettings:
    return FlowSettings(
        kafka_bootstrap=bootstrap,
        state_dir=state_dir,
        flow_topic_suffix=suffix,
        flow_stop_at_end=True,
        flow_shards=16,
        **kw,
    )


def test_a_scripted_mix_through_all_three_feeds_ends_in_the_expected_positions(
    kafka_bootstrap, twin_topics, topic_suffix, tmp_path
):
    master = calm_master()
    rng = random.Random(42)
    events = script_events(master, rng, 4000)
    feeds = raw_feeds(master, events, rng, dup_rate=0.08)
    t = twin_topics
    produce(kafka_bootstrap, t["feeds.api.v1"], ((None, v) for v in feeds.api))
    produce(kafka_bootstrap, t["feeds.batch.v1"], ((None, v) for v in feeds.batch))
    produce(kafka_bootstrap, t["feeds.3pl.v1"], ((None, v) for v in feeds.threepl))

    settings = bounded_settings(kafka_bootstrap, topic_suffix, tmp_path, flow_recovery=False)
    run_main(normalize_flow(settings, master))
    run_main(twin_flow(settings, master))

    latest = latest_from_topic(kafka_bootstrap, t["twin.positions.v1"])
    expected = expected_positions(feeds.canonical)
    assert {sku: buckets_of(p) for sku, p in latest.items()} == expected

    letters = [
        dead_letter_decoder.decode(m.value())
        for m in read_all(kafka_bootstrap, t["inventory.dlq.v1"])
    ]
    assert sorted(bytes(x.original) for x in letters) == sorted(feeds.malformed)

    site_metrics = [
        m
        for m in (
            metric_decoder.decode(x.value())
            for x in read_all(kafka_bootstrap, t["twin.metrics.v1"])
        )
        if isinstance(m, SiteMetric)
    ]
    received = sum(m.events for m in site_metrics)
    duplicates = sum(m.duplicates for m in site_metrics)
    applied = received - duplicates - sum(m.exceptions for m in site_metrics)
    unique = len({e.event_id for e in feeds.canonical})
    assert applied == unique
    assert duplicates == len(feeds.canonical) - unique > 0
    # records in = events applied + duplicates + dead letters
    assert feeds.records() == applied + duplicates + len(letters)
