"""The load test's parts that need no stack: its shapes, the ingest-to-visible probe, the
stack clock it learns, and its thresholds on the probe's figure (Locust is not imported: it
monkey-patches the whole test process with gevent)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.clock import DomainClock
from loadtests.catalog import Catalog
from loadtests.settings import REPO_ROOT
from loadtests.shapes import SHAPES, ShapeInputs, default_run_time, users_over_time
from loadtests.stack_clock import clock_from_reading, wall_time_of
from loadtests.visibility import VisibilityProbe, decode_frame
from twin.events import EventType
from twin.wire import NetworkTotals, Position, SitePosition

pytestmark = pytest.mark.e2e

SHAPE = ShapeInputs(users=10, spawn_rate=5.0, run_time_s=10.0, peak_users=30, steps=5)


def test_steady_and_soak_hold_the_users_to_the_end() -> None:
    assert users_over_time("steady", SHAPE) == [10] * 10
    assert users_over_time("soak", SHAPE) == [10] * 10
    assert default_run_time("soak") == "30m" and default_run_time("steady") == "30s"


def test_step_climbs_equal_stairs_to_the_users() -> None:
    assert users_over_time("step", SHAPE) == [2, 2, 4, 4, 6, 6, 8, 8, 10, 10]


def test_spike_jumps_to_the_peak_within_a_second_and_falls_back() -> None:
    assert users_over_time("spike", SHAPE) == [10] * 4 + [30] * 2 + [10] * 4
    spike_rate = SHAPES["spike"](4.0, SHAPE)
    assert spike_rate == (30, 30.0), "the whole spike starts within a second"


def test_peak_day_ramps_holds_peaks_and_cools_down() -> None:
    assert users_over_time("peak", SHAPE) == [1, 5, 10, 10, 10, 30, 30, 30, 10, 10]
    default_peak = ShapeInputs(users=4, spawn_rate=1.0, run_time_s=10.0)
    assert max(users_over_time("peak", default_peak)) == 12  # 3 x users


def probe_position(sku: str, site: str, last_event_at: datetime | None) -> Position:
    return Position(
        sku=sku,
        version=1,
        as_of=datetime(2026, 1, 1, tzinfo=UTC),
        sites={site: SitePosition(last_event_at=last_event_at)},
        network=NetworkTotals(),
    )


def test_probe_stamps_after_what_it_saw_and_is_shown_only_when_the_site_reaches_it() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    probe = VisibilityProbe("SKU-1", "each", "WH-01", clock=lambda: now)
    ahead = now + timedelta(minutes=5)  # the site already holds a later event time
    assert not probe.observe(probe_position("SKU-1", "WH-01", ahead))

    first = probe.next_event()
    assert first.type is EventType.RESERVED and first.qty == 1
    assert first.occurred_at > ahead, "stamped after every time seen there, so it moves it"
    assert not probe.observe(probe_position("SKU-1", "WH-01", ahead)), "older state"
    assert not probe.observe(probe_position("SKU-1", "WH-02", first.occurred_at)), "other site"
    assert not probe.observe(probe_position("SKU-2", "WH-01", first.occurred_at)), "other SKU"
    assert probe.observe(probe_position("SKU-1", "WH-01", first.occurred_at))
    assert probe.pending is None

    second = probe.next_event()
    assert second.type is EventType.RESERVATION_RELEASED, "alternates: leaves stock as it was"
    assert second.event_id != first.event_id and second.occurred_at > first.occurred_at


def test_stream_frames_decode_into_positions_the_probe_reads() -> None:
    frame = decode_frame(
        b'{"type":"delta","seq":7,"positions":[{"sku":"SKU-1","version":3,'
        b'"as_of":"2026-03-01T12:00:00Z","sites":{"WH-01":{"on_hand":5,'
        b'"last_event_at":"2026-03-01T11:59:59.123456Z"}},"network":{}}],"alerts":[]}'
    )
    assert frame.type == "delta" and frame.seq == 7
    seen = frame.positions[0].sites["WH-01"].last_event_at
    assert seen == datetime(2026, 3, 1, 11, 59, 59, 123456, tzinfo=UTC)


def test_probe_skus_are_apart_from_the_ingest_users_skus() -> None:
    catalog = Catalog.load(REPO_ROOT / "examples" / "network.yaml")
    assert len(catalog.probe_skus) == 10
    assert not set(catalog.probe_skus) & set(catalog.ingest_skus)
    assert len(catalog.probe_skus) + len(catalog.ingest_skus) == len(catalog.skus)


def test_stack_clock_learned_from_one_reading_maps_domain_times_back_to_the_wall() -> None:
    wall = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    true_clock = DomainClock(wall - timedelta(hours=2), 600.0)
    learned = clock_from_reading(true_clock.at(wall), 600.0, wall)
    later = wall + timedelta(seconds=3)
    assert abs(learned.at(later) - true_clock.at(later)) < timedelta(milliseconds=1)
    published = wall + timedelta(milliseconds=250)
    back = wall_time_of(learned, true_clock.at(published))
    assert abs(back - published) < timedelta(microseconds=10)
    assert clock_from_reading(wall, 1.0, wall) == DomainClock()
