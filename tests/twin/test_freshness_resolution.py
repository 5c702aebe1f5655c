"""Freshness on an accelerated clock: a silence shorter than what the flows can resolve is
not staleness, and the alert states silences and times as a person reads them."""

from __future__ import annotations

from tests.twin.factories import at, master
from twin.freshness import SiteFreshness


def test_a_minute_feed_is_not_stale_within_the_resolution_of_the_checks() -> None:
    # expected every 60 s, judged every second on a 600x clock: 1200 simulated s resolution
    f = SiteFreshness(master(sites=("WH-01",), interval_s=60), grace=2.0, resolution_s=1200.0)
    f.observe("WH-01", at(0))
    assert f.evaluate(at(0)) == []
    assert f.evaluate(at(900)) == []  # 15 simulated minutes: under one wall second
    assert f.is_fresh("WH-01", at(1200))
    (stale,) = f.evaluate(at(1500))
    assert "25 min of silence against 20 min allowed" in stale.alert.explanation
    assert "last heard from at 2026-" in stale.alert.explanation
    assert "T" not in stale.alert.explanation.split("last heard from at ")[1][:19]


def test_a_long_interval_is_kept_when_longer_than_the_resolution() -> None:
    f = SiteFreshness(master(sites=("3PL-01",), interval_s=3600), grace=2.0, resolution_s=1200.0)
    assert f.allowed_silence_s("3PL-01") == 7200.0
