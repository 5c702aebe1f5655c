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

RUN_TIME_S = 16


def loadtest(
    stack: Stack, out: Path, *args: str, run_time_s: int
) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, "-m", "cli.main", "loadtest",
        "--host", stack.url,
        "--run-time", f"{run_time_s}s",
        "--viewer-token", stack.tokens["viewer"],
        "--ingest-token", stack.tokens["ingest"],
        "--out-dir", str(out),
        *args,
    ]  # fmt: skip
    result = subprocess.run(
        argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=run_time_s + 60
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "output.txt").write_text(result.stdout + result.stderr)  # what a failure said
    return result


def stats_rows(out: Path) -> dict[str, dict[str, str]]:
    return {row["Name"]: row for row in csv.DictReader((out / "stats_stats.csv").open())}


@pytest.mark.e2e
@pytest.mark.integration
@pytest.mark.slow
def test_distributed_step_run_against_the_stack_passes_times_ingest_to_visible_and_reports(
    live_stack: Stack, artifacts: Path
) -> None:
    out = artifacts / "loadtest"
    result = loadtest(
        live_stack, out,
        "--workers", "2", "--shape", "step", "--steps", "2",
        "--users", "8", "--spawn-rate", "8", "--probe-users", "2",
        # generous limits: this test proves the run and its figures, on a shared 2-core
        # machine; the next one proves that a limit fails a run
        "--max-failure-ratio", "0.05", "--max-p95-ms", "10000",
        "--max-ws-p95-ms", "20000", "--max-visible-p95-ms", "20000",
        run_time_s=RUN_TIME_S,
    )  # fmt: skip
    output = result.stdout + result.stderr
    broken = [line for line in output.splitlines() if "threshold broken" in line]
    assert result.returncode == 0, "\n".join(broken) or output[-6000:]
    assert "all thresholds passed" in output
    assert "2 workers connected" in output, output[-3000:]
    assert (out / "report.html").stat().st_size > 10_000
    rows = stats_rows(out)
    for name in (
        "/v1/events (one)",
        "/v1/events (batch)",
        "/v1/events (idempotent retry)",
        "/v1/events (probe)",
        "/v1/skus/[sku]",
        "/v1/network",
        "positions delta",
        "ingest to visible",
    ):
        assert int(rows[name]["Request Count"]) > 0, f"no {name} requests"
    visible = rows["ingest to visible"]
    assert int(visible["Failure Count"]) == 0
    # a real round trip through the API, Kafka, both flows and the stream: never 0 ms
    assert float(visible["Min Response Time"]) > 1.0
    assert int(rows["Aggregated"]["Failure Count"]) <= 0.05 * int(
        rows["Aggregated"]["Request Count"]
    )
    # the step shape: half the users on the first stair, all on the second
    history = list(csv.DictReader((out / "stats_stats_history.csv").open()))
    user_counts = [int(row["User Count"]) for row in history if row["Name"] == "Aggregated"]
    assert 4 in user_counts and max(user_counts) == 8, user_counts
    assert user_counts.index(4) < user_counts.index(8)


@pytest.mark.e2e
@pytest.mark.integration
@pytest.mark.slow
def test_a_run_slower_than_its_ingest_to_visible_threshold_fails_and_names_it(
    live_stack: Stack, artifacts: Path
) -> None:
    out = artifacts / "loadtest-too-slow"
    result = loadtest(
        live_stack, out,
        "--users", "2", "--spawn-rate", "2", "--probe-users", "2",
        "--max-visible-p95-ms", "1",  # no stack shows an event 1 ms after its POST
        run_time_s=6,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-4000:]
    assert "threshold broken: WS ingest to visible p95" in output, output[-4000:]
    assert "load test FAILED" in output
    assert int(stats_rows(out)["ingest to visible"]["Request Count"]) > 0


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
    options = SimpleNamespace(
        max_failure_ratio=0.01,
        max_p95_ms=1000.0,
        max_ws_p95_ms=5000.0,
        max_visible_p95_ms=2000.0,
        probe_users=0,
    )
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

    slow_to_show = environment_with([("WS", "ingest to visible", 2500, False)] * 20)
    assert violations(slow_to_show) == ["WS ingest to visible p95 2500 ms > 2000 ms"]

    unmeasured = environment_with([("GET", "/v1/network", 20, False)] * 100)
    unmeasured.parsed_options.probe_users = 2
    assert violations(unmeasured) == ["WS ingest to visible: no event was measured (2 probe users)"]
