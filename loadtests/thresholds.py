"""Pass/fail rules of a headless run, checked when Locust quits (sets its exit code).

In distributed mode only the master judges: it holds every worker's figures, while a worker's
own stats are reset each time it reports them.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("loadtests.thresholds")

VISIBLE = "ingest to visible"


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
    probes = getattr(options, "probe_users", 0)
    visible_limit = getattr(options, "max_visible_p95_ms", 0.0)
    measured_visible = False
    for entry in stats.entries.values():
        if entry.num_requests == 0:
            continue
        p95 = entry.get_response_time_percentile(0.95)
        if entry.method == "WS":
            limit = {"positions delta": options.max_ws_p95_ms, VISIBLE: visible_limit}.get(
                entry.name, 0.0
            )
            measured_visible |= entry.name == VISIBLE
            if limit and p95 > limit:
                found.append(f"WS {entry.name} p95 {p95:.0f} ms > {limit:.0f} ms")
        elif p95 > options.max_p95_ms:
            limit = options.max_p95_ms
            found.append(f"{entry.method} {entry.name} p95 {p95:.0f} ms > {limit:.0f} ms")
    if probes and visible_limit and not measured_visible:
        # A threshold nothing was measured against has not passed.
        found.append(f"WS {VISIBLE}: no event was measured ({probes} probe users)")
    return found


def check(environment: Any, **_kwargs: Any) -> None:
    """Locust `quitting` listener: a broken threshold makes the process exit 1."""
    if type(environment.runner).__name__ == "WorkerRunner":
        return  # the master judges the whole run
    broken = violations(environment)
    if broken:
        for line in broken:
            log.error("threshold broken: %s", line)
        environment.process_exit_code = 1
    else:
        log.info("all thresholds passed")
