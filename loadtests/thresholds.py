"""Pass/fail rules of a headless run, checked when Locust quits (sets its exit code)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("loadtests.thresholds")


def violations(environment: Any) -> list[str]:
    """Every threshold the run broke, in words; empty when it passed."""
    options = environment.parsed_options
    stats = environment.stats
    found: list[str] = []
    if stats.total.num_requests == 0:
        return ["no request was made"]
    if stats.total.fail_ratio > options.max_failure_ratio:
        found.append(
            f"failure ratio {stats.total.fail_ratio:.2%} > {options.max_failure_ratio:.2%}"
        )
    for entry in stats.entries.values():
        if entry.num_requests == 0:
            continue
        p95 = entry.get_response_time_percentile(0.95)
        if entry.method == "WS":
            limit = options.max_ws_p95_ms
            if limit and entry.name == "positions delta" and p95 > limit:
                found.append(f"WS {entry.name} p95 {p95:.0f} ms > {limit:.0f} ms")
        elif p95 > options.max_p95_ms:
            limit = options.max_p95_ms
            found.append(f"{entry.method} {entry.name} p95 {p95:.0f} ms > {limit:.0f} ms")
    return found


def check(environment: Any, **_kwargs: Any) -> None:
    """Locust `quitting` listener: a broken threshold makes the process exit 1."""
    broken = violations(environment)
    if broken:
        for line in broken:
            log.error("threshold broken: %s", line)
        environment.process_exit_code = 1
    else:
        log.info("all thresholds passed")
