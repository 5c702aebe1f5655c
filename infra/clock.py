"""The flows' domain clock: the time in which events are applied and sites judged.

In production it is the wall clock. The demo runs the simulator `speed` times faster than the
wall clock (live mode), and the flows must judge in that same accelerated time, or a 3PL
outage of six simulated hours lasts 36 wall seconds and never looks stale, and an event
stamped by the simulator lies in the future of the flows' clock. Separate processes (both
flows, every process of a Bytewax cluster, the simulator) agree on the clock without talking
to each other, because it is defined by two settings only:

    domain(t_wall) = origin + (t_wall - origin) * speed

`origin` is a fixed UTC instant (where the two clocks meet), `speed` simulated seconds per
wall second. No origin, or speed 1, is the wall clock itself.

The domain clock is for meaning only (applied_at, detected_at, freshness, latencies).
Scheduling stays on the wall clock: Bytewax compares `notify_at` with its own wall clock, and
the coalescing, metrics and freshness-check intervals are operational wall-clock intervals.
So a flow step reads the wall clock once (`wall`) and derives the domain time from that same
reading (`at`): one clock call, two consistent answers.

It lives in `infra/` beside the other settings: the flows, the simulator, the CLI and the API
all read it, and it needs no Bytewax and no Kafka.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import AwareDatetime, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Clock = Callable[[], datetime]

ORIGIN_ENV = "TWIN_CLOCK_ORIGIN"
SPEED_ENV = "TWIN_CLOCK_SPEED"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DomainClock:
    """`domain(t_wall) = origin + (t_wall - origin) * speed`; calling it gives the domain now.

    `wall` is the wall clock it reads (injectable in tests). A clock built without an origin,
    or with speed 1, is the wall clock: `at` returns its argument unchanged.
    """

    origin: datetime | None = None
    speed: float = 1.0
    wall: Clock = utc_now

    def __post_init__(self) -> None:
        object.__setattr__(self, "speed", float(self.speed))  # "600.0" in every process's env
        if not self.speed > 0:
            raise ValueError(f"clock speed must be > 0, not {self.speed}")
        if self.origin is not None and self.origin.utcoffset() is None:
            raise ValueError("clock origin must carry a time zone (e.g. 2026-11-27T06:00:00Z)")
        if self.speed == 1.0:
            # the same clock either way; no origin keeps `at` an identity on the hot path
            object.__setattr__(self, "origin", None)
        elif self.origin is not None and self.origin.tzinfo is not UTC:
            # one tzinfo object with the wall clock's: cheaper arithmetic, "Z" on the wire
            object.__setattr__(self, "origin", self.origin.astimezone(UTC))

    @property
    def accelerated(self) -> bool:
        return self.origin is not None

    def at(self, wall_time: datetime) -> datetime:
        """The domain time at wall-clock instant `wall_time`."""
        origin = self.origin
        if origin is None:
            return wall_time
        return origin + (wall_time - origin) * self.speed

    def __call__(self) -> datetime:
        return self.at(self.wall())

    def env(self) -> dict[str, str]:
        """The environment that makes another process build this same clock (empty: wall)."""
        if self.origin is None:
            return {}
        return {ORIGIN_ENV: self.origin.isoformat(), SPEED_ENV: repr(self.speed)}

    @classmethod
    def continuing(
        cls, previous: DomainClock | None, speed: float, wall_now: datetime | None = None
    ) -> DomainClock:
        """A clock of `speed` that reads, at `wall_now`, what `previous` reads then (and never
        less than the wall clock): time an earlier run left in the twin's state stays in the
        past. Without `previous`, a clock that starts at the wall clock now.

        Solves `origin + (now - origin) * speed = target` for the origin, so the result is
        still defined by an origin and a speed alone.
        """
        now = wall_now if wall_now is not None else utc_now()
        if speed == 1.0:
            return cls(None, 1.0)
        if previous is not None and previous.speed == speed:
            return previous  # the same clock, read later
        target = max(now, previous.at(now)) if previous is not None else now
        origin = now - (target - now) / (speed - 1.0)
        if speed > 1.0 and target > now:
            # the origin is rounded to a microsecond, an error the speed multiplies: one more
            # microsecond back keeps the new clock at or ahead of the old one, never behind
            origin -= timedelta(microseconds=1)
        return cls(origin, speed)


class ClockSettings(BaseSettings):
    """`TWIN_CLOCK_ORIGIN` and `TWIN_CLOCK_SPEED`: what every process of one stack reads to
    build the same domain clock. Unset (the default): the wall clock."""

    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    clock_speed: float = Field(default=1.0, gt=0)
    # None: no scaling, whatever the speed says (there is no instant where the clocks meet)
    clock_origin: AwareDatetime | None = None

    def domain_clock(self, wall: Clock = utc_now) -> DomainClock:
        if self.clock_origin is None:
            return DomainClock(None, 1.0, wall)
        return DomainClock(self.clock_origin, self.clock_speed, wall)


def as_domain_clock(clock: Clock) -> DomainClock:
    """A plain callable (what a test injects) is both the wall and the domain clock, as it
    always was; a `DomainClock` stays itself."""
    return clock if isinstance(clock, DomainClock) else DomainClock(wall=clock)
