"""The domain clock: separate processes agree from two settings; speed 1 is the wall clock."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from dataflows.settings import FlowSettings
from infra.clock import ClockSettings, DomainClock

ORIGIN = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
SOME_WALL_TIMES = [
    ORIGIN,
    ORIGIN + timedelta(seconds=1.25),
    ORIGIN + timedelta(hours=3, microseconds=7),
]


def test_the_domain_time_runs_speed_times_faster_from_the_origin() -> None:
    clock = DomainClock(ORIGIN, 600.0)
    assert clock.at(ORIGIN) == ORIGIN
    assert clock.at(ORIGIN + timedelta(seconds=1)) == ORIGIN + timedelta(minutes=10)
    assert clock.at(ORIGIN + timedelta(seconds=6)) == ORIGIN + timedelta(hours=1)


def test_speed_one_and_no_origin_are_the_wall_clock() -> None:
    for clock in (DomainClock(), DomainClock(ORIGIN, 1.0), ClockSettings().domain_clock()):
        assert not clock.accelerated and clock.env() == {}
        for wall in SOME_WALL_TIMES:
            assert clock.at(wall) is wall
        before = datetime.now(UTC)
        now = clock()
        assert before <= now <= datetime.now(UTC)


def test_two_processes_build_the_same_clock_from_the_same_settings(monkeypatch) -> None:
    env = DomainClock(ORIGIN, 600.0).env()
    assert env == {"TWIN_CLOCK_ORIGIN": "2026-11-27T06:00:00+00:00", "TWIN_CLOCK_SPEED": "600.0"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    here = FlowSettings().domain_clock()
    also_here = ClockSettings().domain_clock()  # what the simulator builds
    assert here.accelerated and here == also_here
    # and a separate interpreter, as the other flow or the simulator would be
    walls = [w.isoformat() for w in SOME_WALL_TIMES]
    code = (
        "from datetime import datetime; from infra.clock import ClockSettings; "
        "clock = ClockSettings().domain_clock(); "
        f"print(*(clock.at(datetime.fromisoformat(w)).isoformat() for w in {walls}))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    assert other.stdout.split() == [here.at(w).isoformat() for w in SOME_WALL_TIMES]
    # read at (nearly) the same instant, the two clocks are a wall-clock moment apart at most
    first, second = here(), also_here()
    assert timedelta(0) <= second - first < timedelta(seconds=1) * 600


def test_a_clock_continuing_another_never_runs_back() -> None:
    now = ORIGIN + timedelta(minutes=10)
    previous = DomainClock(ORIGIN, 600.0)  # reads 100 h after ORIGIN at `now`
    assert DomainClock.continuing(previous, 600.0, now) is previous

    faster = DomainClock.continuing(previous, 3600.0, now)
    assert timedelta(0) <= faster.at(now) - previous.at(now) < timedelta(milliseconds=10)
    assert faster.at(now + timedelta(seconds=1)) - faster.at(now) == timedelta(hours=1)
    assert FlowSettings(**_settings_of(faster)).domain_clock() == faster  # still two settings

    slower = DomainClock.continuing(previous, 60.0, now)
    assert timedelta(0) <= slower.at(now) - previous.at(now) < timedelta(milliseconds=10)

    fresh = DomainClock.continuing(None, 600.0, now)
    assert fresh.at(now) == now and fresh.origin == now


def test_an_origin_without_a_zone_or_a_speed_not_above_zero_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        ClockSettings(clock_origin="2026-11-27T06:00:00")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ClockSettings(clock_speed=0)
    with pytest.raises(ValueError, match="time zone"):
        DomainClock(ORIGIN.replace(tzinfo=None), 600.0)


def _settings_of(clock: DomainClock) -> dict[str, object]:
    return {"clock_origin": clock.origin, "clock_speed": clock.speed}


def test_the_flow_commands_take_the_clock_as_options() -> None:
    import typer

    from cli.flow import _settings

    settings = _settings(None, None, None, None, False, "2026-11-27T06:00:00Z", 600.0)
    assert settings.domain_clock() == DomainClock(ORIGIN, 600.0)
    assert not _settings(None, None, None, None, False).domain_clock().accelerated
    with pytest.raises(typer.BadParameter, match="timezone"):
        _settings(None, None, None, None, False, "2026-11-27T06:00:00", 600.0)
