"""A peak-day load shape: a ramp to normal load, a plateau, a peak, then back to normal.

Users and spawn rate come from `-u` / `-r`; the peak is `--peak-users` (default 3 x users);
the stages split `--run-time` (default 120 s) as 20 % ramp, 30 % normal, 30 % peak, 20 % cool-down.
"""

from __future__ import annotations

from locust import LoadTestShape

_STAGES = ((0.2, "ramp"), (0.5, "normal"), (0.8, "peak"), (1.0, "cool"))


class PeakShape(LoadTestShape):
    """Normal → peak → normal, within the run time; stops at the end."""

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options
        total_s = float(options.run_time or 120)
        users = max(1, options.num_users or 10)
        peak = options.peak_users or users * 3
        rate = float(options.spawn_rate or users)
        elapsed = self.get_run_time()
        if elapsed >= total_s:
            return None
        share = elapsed / total_s
        for end, stage in _STAGES:
            if share < end:
                if stage == "ramp":
                    return max(1, round(users * share / 0.2)), rate
                if stage == "peak":
                    return peak, rate * 2
                return users, rate
        return None
