"""`invtwin demo` as a user runs it: the dashboard shows live changes within 30 s of the
banner, the flows and the simulator share one accelerated clock, and Ctrl-C stops every
process the demo started."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cli.stack import REPO_ROOT, free_port
from infra.errors import BrokerError
from infra.kafka_clients import delete_topics
from infra.probe import port_open
from infra.topics import topic_names
from tests.polling import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

START_TIMEOUT_S = 120.0
LIVE_WITHIN_S = 30.0
STOP_TIMEOUT_S = 40.0


class Output:
    """The demo's output, read line by line on a thread so waits can have deadlines."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout

        def pump() -> None:
            for line in stdout:
                self._queue.put(line.rstrip("\n"))
            self._queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, pattern: str, timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match
        pytest.fail(f"no line matching {pattern!r}; output:\n" + "\n".join(self.lines[-40:]))

    def rest(self) -> str:
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return "\n".join(self.lines)


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie awaiting its reaper does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def network(url: str, token: str) -> dict[str, object]:
    response = httpx.get(f"{url}/v1/network", headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return dict(response.json())


def environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def test_demo_shows_live_changes_within_30_s_and_ctrl_c_stops_everything(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    port, suffix = free_port(), f".demo{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if k != "TWIN_API_TOKENS"}
    env |= {"TWIN_KAFKA_BOOTSTRAP": kafka_bootstrap, "TWIN_STATE_DIR": str(tmp_path)}
    argv = [sys.executable, "-m", "cli.main", "demo", "--port", str(port)]
    process = subprocess.Popen(
        [*argv, "--topic-suffix", suffix, "--scenario", "baseline"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(process)
    pids: list[int] = []
    try:
        for part in ("Dataflow normalize", "Dataflow twin", "API"):
            pids.append(int(output.wait_for(rf"^{part}:.*\(pid (\d+)\)", START_TIMEOUT_S)[1]))
        url = output.wait_for(r"Dashboard:\s+(\S+)/$", 5)[1]
        token = output.wait_for(r"Viewer token:\s+(\S+)", 5)[1]
        pids.append(int(output.wait_for(r"^Simulator:.*\(pid (\d+)\)", 10)[1]))
        assert url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/").text.startswith("<!doctype html>")

        # Live: within 30 s of the banner the twin holds positions fed by the simulator, and
        # they keep changing.
        deadline = time.monotonic() + LIVE_WITHIN_S
        first: dict[str, object] | None = None
        while time.monotonic() < deadline:
            current = network(url, token)
            totals = current["totals"]
            assert isinstance(totals, dict)
            if totals["skus"] and first is None:
                first = totals
            elif first is not None and totals != first:
                break
            time.sleep(0.5)  # poll interval
        else:
            pytest.fail(f"no live change within {LIVE_WITHIN_S} s: first totals {first}")

        # One accelerated domain clock (baseline: live.speed 600) for both flows, the API (its
        # scenario runs) and the simulator, so the twin judges time as the simulation runs it.
        assert any(re.search(r"Clock:\s+simulated, 600x", line) for line in output.lines)
        clocks = {
            (env.get("TWIN_CLOCK_ORIGIN"), env.get("TWIN_CLOCK_SPEED"))
            for env in map(environment, pids)
        }
        assert len(clocks) == 1 and next(iter(clocks))[1] == "600.0", clocks
        assert next(iter(clocks))[0] is not None

        def simulated_time_is_visible() -> bool:
            # events dated on the simulated clock, well ahead of the wall clock, and real
            # event-to-visible latencies (not negatives clamped to 0)
            sites = network(url, token)["sites"]
            assert isinstance(sites, list)
            ahead = datetime.now(UTC) + timedelta(minutes=30)
            return any(
                s["last_event_at"] and datetime.fromisoformat(s["last_event_at"]) > ahead
                for s in sites
            ) and any((s["visible_latency_p95_ms"] or 0) > 0 for s in sites)

        wait_until(simulated_time_is_visible, LIVE_WITHIN_S, "simulated times on /v1/network")

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0, output.rest()
        text = output.rest()
        assert "Stopped dataflows, API and simulator" in text
        assert not port_open("127.0.0.1", port), "the API still listens after Ctrl-C"
        assert not [pid for pid in pids if alive(pid)], "a process outlived the demo"
    finally:
        # Only after a failure: the demo's children run in process groups of their own.
        for pid in [process.pid, *pids]:
            with contextlib.suppress(ProcessLookupError):
                if not alive(pid):
                    continue
                os.killpg(pid, signal.SIGKILL)
        process.wait(timeout=10)
        with contextlib.suppress(BrokerError):
            delete_topics(kafka_bootstrap, list(topic_names(suffix).values()))
