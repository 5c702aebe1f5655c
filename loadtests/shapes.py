"""Load shapes a load tester expects: users over the run time, as plain functions.

Each shape maps the seconds since the start to `(users, spawn rate)`, or None when the run is
over; `loadtests/shape_locustfile.py` hands the chosen one to Locust. They read the usual
options: `-u` users (the normal load), `-r` spawn rate, `--run-time` (the whole shape fits in
it), `--peak-users` (default 3 x users) and `--steps`. Kept apart from Locust so they can be
read and tested without it (Locust monkey-patches a process with gevent on import).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

Tick = tuple[int, float] | None


@dataclass(frozen=True)
class ShapeInputs:
    users: int  # the normal load
    spawn_rate: float  # users started per second
    run_time_s: float  # the whole shape, start to stop
    peak_users: int = 0  # 0: three times `users`
    steps: int = 5

    @property
    def peak(self) -> int:
        return self.peak_users or self.users * 3


def steady(elapsed_s: float, shape: ShapeInputs) -> Tick:
    """Ramp up at the spawn rate to `users`, hold them to the end."""
    if elapsed_s >= shape.run_time_s:
        return None
    return shape.users, shape.spawn_rate


def step(elapsed_s: float, shape: ShapeInputs) -> Tick:
    """`steps` equal stairs of run_time / steps each: users/steps more users on each stair,
    all `users` on the last (where a latency knee shows which load the stack stops coping)."""
    if elapsed_s >= shape.run_time_s:
        return None
    steps = max(1, shape.steps)
    stair = min(steps, int(elapsed_s / (shape.run_time_s / steps)) + 1)
    return max(1, math.ceil(shape.users * stair / steps)), shape.spawn_rate


def spike(elapsed_s: float, shape: ShapeInputs) -> Tick:
    """`users` for 40 % of the run, then the peak started all within a second for 20 %, then
    back to `users` for the last 40 % (does the stack absorb a burst, and recover after it?)."""
    if elapsed_s >= shape.run_time_s:
        return None
    share = elapsed_s / shape.run_time_s
    if share < 0.4:
        return shape.users, shape.spawn_rate
    # the burst starts, and ends, within a second
    burst_rate = float(max(shape.peak, shape.spawn_rate))
    return (shape.peak if share < 0.6 else shape.users), burst_rate


def peak_day(elapsed_s: float, shape: ShapeInputs) -> Tick:
    """A trading day squeezed into the run: 20 % ramp to `users`, 30 % at `users`, 30 % at the
    peak (reached at twice the spawn rate), 20 % back at `users`."""
    if elapsed_s >= shape.run_time_s:
        return None
    share = elapsed_s / shape.run_time_s
    if share < 0.2:
        return max(1, round(shape.users * share / 0.2)), shape.spawn_rate
    if 0.5 <= share < 0.8:
        return shape.peak, shape.spawn_rate * 2
    return shape.users, shape.spawn_rate


def soak(elapsed_s: float, shape: ShapeInputs) -> Tick:
    """Steady `users` for a long run (default 30 minutes): what shows is drift, a latency or a
    failure rate that creeps up as hours of state, topics and memory accumulate."""
    return steady(elapsed_s, shape)


SHAPES: dict[str, Callable[[float, ShapeInputs], Tick]] = {
    "steady": steady,
    "step": step,
    "spike": spike,
    "peak": peak_day,
    "soak": soak,
}

SHAPE_SUMMARY = (
    "steady (ramp to the users, hold); step (--steps equal stairs up to the users); spike (the "
    "users, then the peak users within a second for a fifth of the run, then back); peak (a "
    "day: ramp, users, peak, users); soak (steady, 30 minutes unless a run time is given)"
)

# Run time when none is given: a soak is long by definition, the others are quick checks.
DEFAULT_RUN_TIME = {"soak": "30m"}
QUICK_RUN_TIME = "30s"


def default_run_time(shape: str | None) -> str:
    return DEFAULT_RUN_TIME.get(shape or "", QUICK_RUN_TIME)


def users_over_time(name: str, shape: ShapeInputs, every_s: float = 1.0) -> list[int]:
    """The users the shape asks for at 0, every_s, 2 x every_s, … until it stops."""
    profile = SHAPES[name]
    counts: list[int] = []
    elapsed = 0.0
    while (tick := profile(elapsed, shape)) is not None:
        counts.append(tick[0])
        elapsed += every_s
    return counts
