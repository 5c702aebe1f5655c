"""A short headless Locust run against the real stack passes its thresholds and writes reports;
the thresholds themselves fail a run that breaks them."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from cli.stack import REPO_ROOT, Stack
from loadtests.thresholds import violations

RUN_TIME_S = 20


@pytest.mark.e2e
@pytest.mark.integration
@pytest.mark.slow
def test_headless_locust_run_against_the_stack_passes_and_writes_reports(
    live_stack: Stack, artifacts: Path
) -> None:
    out = artifacts / "loadtest"
    argv = [
        sys.executable, "-m", "cli.main", "loadtest",
        "--host", live_stack.url,
        "--users", "8", "--spawn-rate", "8", "--run-time", f"{RUN_TIME_S}s",
        "--viewer-token", live_stack.tokens["viewer"],
        "--ingest-token", live_stack.tokens["ingest"],
        "--out-dir", str(out),
        "--max-failure-ratio", "0.01", "--max-p95-ms", "1000", "--max-ws-p95-ms", "5000",
    ]  # fmt: skip
    result = subprocess.run(
        argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=RUN_TIME_S + 60
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "all thresholds passed" in result.stderr + result.stdout
    assert (out / "report.html").stat().st_size > 10_000
    rows = {row["Name"]: row for row in csv.DictReader((out / "stats_stats.csv").open())}
    for name in (
        "/v1/events (one)",
        "/v1/events (batch)",
        "/v1/events (idempotent retry)",
        "/v1/skus/[sku]",
        "/v1/network",
        "positions delta",
    ):
        assert int(rows[name]["Request Count"]) > 0, f"no {name} requests"
    assert int(rows["Aggregated"]["Failure Count"]) <= 0.01 * int(
        rows["Aggregated"]["Request Count"]
    )


class FakeEntry:
    """The part of a Locust stats entry the thresholds read (Locust itself is not imported
    here: it monkey-patches the whole test process with gevent)."""

    def __init__(self, method: str, name: str) -> None:
        self.method, self.name = method, name
        self.times: list[float] = []
        self.num_failures = 0

    @property
    def num_requests(self) -> int:
        return len(self.times)

    @property
    def fail_ratio(self) -> float:
        return self.num_failures / self.num_requests if self.times else 0.0

    def get_response_time_percentile(self, share: float) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def environment_with(entries: list[tuple[str, str, float, bool]]) -> SimpleNamespace:
    """An environment whose stats hold (method, name, response_ms, failed) requests."""
    total = FakeEntry("", "Aggregated")
    by_key: dict[tuple[str, str], FakeEntry] = {}
    for method, name, ms, failed in entries:
        entry = by_key.setdefault((name, method), FakeEntry(method, name))
        for target in (entry, total):
            target.times.append(ms)
            target.num_failures += failed
    options = SimpleNamespace(max_failure_ratio=0.01, max_p95_ms=1000.0, max_ws_p95_ms=5000.0)
    return SimpleNamespace(
        parsed_options=options, stats=SimpleNamespace(total=total, entries=by_key)
    )


@pytest.mark.e2e
def test_thresholds_pass_a_good_run_and_name_each_broken_one() -> None:
    good = environment_with([("GET", "/v1/network", 20, False)] * 100)
    assert violations(good) == []

    slow_http = environment_with([("GET", "/v1/network", 3000, False)] * 100)
    assert violations(slow_http) == ["GET /v1/network p95 3000 ms > 1000 ms"]

    slow_ws = environment_with([("WS", "positions delta", 9000, False)] * 10)
    assert violations(slow_ws) == ["WS positions delta p95 9000 ms > 5000 ms"]

    failing = environment_with([("GET", "/v1/network", 20, i < 5) for i in range(100)])
    assert violations(failing) == ["failure ratio 5.00% > 1.00%"]

    assert violations(environment_with([])) == ["no request was made"]
