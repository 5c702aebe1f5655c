"""Adds the load shape named by `--shape` to a run (Locust picks up the LoadTestShape here).

Without this file a run is Locust's own: `-u` users started at `-r` per second, held to the
end (the `steady` shape).
"""

from __future__ import annotations

from locust import LoadTestShape
from locust.util.timespan import parse_timespan

from loadtests.shapes import SHAPES, ShapeInputs, Tick, default_run_time


class NamedShape(LoadTestShape):
    """Users over time as `loadtests.shapes.SHAPES[--shape]` says; stops at its end."""

    use_common_options = True  # it reads -u, -r and --run-time

    def tick(self) -> Tick:
        assert self.runner is not None and self.runner.environment.parsed_options is not None
        options = self.runner.environment.parsed_options
        name = options.shape or "steady"
        run_time = options.run_time or parse_timespan(default_run_time(name))
        inputs = ShapeInputs(
            users=max(1, options.num_users or 10),
            spawn_rate=float(options.spawn_rate or options.num_users or 10),
            run_time_s=float(run_time),
            peak_users=options.peak_users,
            steps=options.steps,
        )
        return SHAPES[name](self.get_run_time(), inputs)  # type: ignore[no-untyped-call]
