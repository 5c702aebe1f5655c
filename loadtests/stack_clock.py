"""The stack's domain clock, learned from the API, and the way back to the wall clock.

The load test stamps its events on the stack's clock (the API refuses events outside the
twin's horizon, and an accelerated demo's clock runs far ahead of the wall clock), and turns
the twin's `as_of` stamps back into wall-clock instants to time deliveries. It asks the API
rather than reading `TWIN_CLOCK_*`: a load tester in another shell has no reason to know the
origin the demo chose. `GET /v1/network` answers the domain time now and the speed; the
origin follows from `as_of = origin + (t - origin) * speed` at the request's midpoint `t`, so
the clock is right to within half the request's round trip (in wall time).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import gevent
import httpx
import msgspec

from infra.clock import ClockSettings, DomainClock


class _ClockModel(msgspec.Struct):
    speed: float = 1.0


class _NetworkClock(msgspec.Struct):
    as_of: datetime
    clock: _ClockModel | None = None


def clock_from_reading(as_of: datetime, speed: float, wall_at: datetime) -> DomainClock:
    """The clock of `speed` that read `as_of` at wall instant `wall_at`."""
    if speed == 1.0:
        return DomainClock()
    origin = wall_at - (as_of - wall_at) / (speed - 1.0)
    return DomainClock(origin, speed)


def fetch_stack_clock(host: str, token: str, *, timeout_s: float = 10.0) -> DomainClock:
    """The API's domain clock; the environment's (`TWIN_CLOCK_*`) when the API does not say."""
    sent = time.time()
    response = httpx.get(
        f"{host.rstrip('/')}/v1/network",
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout_s,
    )
    received = time.time()
    response.raise_for_status()
    reading = msgspec.json.decode(response.content, type=_NetworkClock)
    if reading.clock is None:  # an API from before it reported its clock
        return ClockSettings().domain_clock()
    midpoint = datetime.fromtimestamp((sent + received) / 2, UTC)
    return clock_from_reading(reading.as_of, reading.clock.speed, midpoint)


def wall_time_of(clock: DomainClock, domain_time: datetime) -> datetime:
    """The wall-clock instant at which `clock` reads `domain_time` (the inverse of `at`)."""
    if clock.origin is None:
        return domain_time
    return clock.origin + (domain_time - clock.origin) / clock.speed


def stack_clock_of(user: Any) -> DomainClock:
    """The stack's clock, asked once per Locust process and kept on the environment (users
    that start while the answer is on its way wait for that one request)."""
    environment = user.environment
    asking = getattr(environment, "twin_clock", None)
    if asking is None:
        token = environment.parsed_options.viewer_token
        asking = gevent.spawn(fetch_stack_clock, user.host or "", token)
        environment.twin_clock = asking
    clock: DomainClock = asking.get()
    return clock
