"""Site freshness against master data's expected intervals, driven by a clock passed in."""

from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.twin.factories import at, master
from twin.freshness import SiteFreshness


def test_a_site_goes_stale_after_its_interval_times_the_grace_and_back_when_heard() -> None:
    f = SiteFreshness(master(sites=("WH-01",), interval_s=60), grace=2.0)
    f.observe("WH-01", at(0))
    assert f.evaluate(at(0)) == []
    assert f.evaluate(at(120)) == []  # exactly at the limit: still fresh
    (stale,) = f.evaluate(at(121))
    assert (stale.site, stale.fresh, stale.at) == ("WH-01", False, at(121))
    assert (stale.alert.kind, stale.alert.state) == ("STALE_FEED", "raised")
    assert stale.alert.id == "STALE_FEED::WH-01:1"
    assert "121 s of silence against 120 s allowed" in stale.alert.explanation
    assert f.evaluate(at(500)) == []  # raised once
    assert not f.is_fresh("WH-01", at(500))
    f.observe("WH-01", at(510))
    (back,) = f.evaluate(at(511))
    assert (back.fresh, back.alert.state, back.alert.id) == (True, "cleared", stale.alert.id)
    f.evaluate(at(700))
    assert f.stale_sites() == {"WH-01"}
    assert f.evaluate(at(700)) == []


def test_a_site_that_never_sends_anything_goes_stale_by_the_clock() -> None:
    f = SiteFreshness(master(sites=("WH-01", "WH-02"), interval_s=60), grace=2.0)
    f.observe("WH-02", at(100))
    assert f.evaluate(at(0)) == []  # the clock starts here
    changes = f.evaluate(at(121))
    assert [(c.site, c.fresh) for c in changes] == [("WH-01", False)]
    assert "never heard from" in changes[0].alert.explanation
    assert [(c.site, c.fresh) for c in f.evaluate(at(221))] == [("WH-02", False)]


def test_grace_and_intervals_come_from_master_and_config() -> None:
    f = SiteFreshness(master(interval_s=900), grace=3.0, started_at=at(0))
    assert f.allowed_silence_s("WH-01") == 2700
    assert f.is_fresh("WH-01", at(2700))
    assert not f.is_fresh("WH-01", at(2701))
    assert f.allowed_silence_s("UNKNOWN") == 300 * 3.0  # a site not in master data


def test_an_unknown_site_heard_from_is_watched_too_and_state_pickles() -> None:
    f = SiteFreshness(master(sites=("WH-01",)), grace=2.0, default_interval_s=10)
    f.observe("WH-01", at(0))
    f.observe("POP-UP", at(0))
    f.evaluate(at(0))
    copy = pickle.loads(pickle.dumps(f))
    assert [(c.site, c.fresh) for c in copy.evaluate(at(21))] == [("POP-UP", False)]
    assert copy.last_seen("WH-01") == at(0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 400)), max_size=40))
def test_stale_feed_alerts_alternate_raise_and_clear_for_any_clock(
    steps: list[tuple[bool, int]],
) -> None:
    f = SiteFreshness(master(sites=("WH-01",), interval_s=60), grace=2.0, started_at=at(0))
    now = 0
    states: list[str] = []
    for observe, dt in steps:
        now += dt
        if observe:
            f.observe("WH-01", at(now))
        for change in f.evaluate(at(now)):
            states.append(change.alert.state)
            assert change.fresh == f.is_fresh("WH-01", at(now))
    assert states == ["raised", "cleared"] * (len(states) // 2) + ["raised"] * (len(states) % 2)
