"""Scenario runs for architects: each run in its own spawned process, streamed back.

The simulator's runner is a blocking function; running it in a separate process keeps the
API's event loop (and the GIL) free. A reader thread per run turns the worker's queue into
calls on the loop, where the run's record is updated and its WebSocket followers notified.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue as queue_mod
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.problems import ServiceBusy
from api.scenario_worker import run_in_worker
from api.telemetry import ApiMetrics

_MAX_SERIES = 5000


@dataclass
class ScenarioRun:
    id: str
    mode: str
    seed: int
    scenario: str | None
    out_dir: Path
    created_at: datetime
    status: str = "running"
    finished_at: datetime | None = None
    progress: dict[str, Any] | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None
    plots: dict[str, Path] = field(default_factory=dict)
    error: str | None = None
    followers: set[asyncio.Queue[dict[str, Any] | None]] = field(default_factory=set)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "mode": self.mode,
            "seed": self.seed,
            "scenario": self.scenario,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "progress": self.progress,
            "metrics": self.metrics,
            "report": self.report,
            "plots": sorted(self.plots),
            "error": self.error,
        }

    def plot_urls(self) -> dict[str, str]:
        return {name: f"/v1/scenarios/{self.id}/plots/{name}" for name in sorted(self.plots)}

    def history(self) -> list[dict[str, Any]]:
        """What a late follower is sent first: progress, the metric series, the end."""
        out: list[dict[str, Any]] = []
        if self.progress is not None:
            out.append(self.progress)
        out.extend(self.metrics)
        out.extend(self.final_messages())
        return out

    def final_messages(self) -> list[dict[str, Any]]:
        if self.status == "succeeded":
            return [{"type": "report", "report": self.report, "plots": self.plot_urls()}]
        if self.status == "failed":
            return [{"type": "failed", "error": self.error}]
        return []


class ScenarioManager:
    """Starts runs in worker processes and keeps their records (in memory)."""

    def __init__(
        self,
        *,
        runner: str,
        root: Path,
        max_running: int,
        metrics: ApiMetrics,
        bootstrap: str | None,
        topics: dict[str, str] | None,
    ) -> None:
        self.runner = runner
        self.root = root
        self.max_running = max_running
        self.metrics = metrics
        self.bootstrap = bootstrap
        self.topics = topics
        self.runs: dict[str, ScenarioRun] = {}
        self._procs: dict[str, multiprocessing.process.BaseProcess] = {}
        self._ctx = multiprocessing.get_context("spawn")

    def running(self) -> int:
        return sum(1 for r in self.runs.values() if r.status == "running")

    def start(self, *, scenario: str | None, spec: str | None, mode: str, seed: int) -> ScenarioRun:
        if self.running() >= self.max_running:
            raise ServiceBusy(
                f"{self.max_running} scenario run(s) already running", headers={"Retry-After": "10"}
            )
        loop = asyncio.get_running_loop()
        run_id = uuid.uuid4().hex[:12]
        out_dir = self.root / run_id
        out_dir.mkdir(parents=True, exist_ok=True)
        run = ScenarioRun(run_id, mode, seed, scenario, out_dir, datetime.now(UTC))
        self.runs[run_id] = run
        q = self._ctx.Queue()
        kwargs = {
            "scenario": scenario,
            "spec": spec,
            "mode": mode,
            "seed": seed,
            "out_dir": out_dir,
            "bootstrap": self.bootstrap,
            "topics": self.topics,
        }
        proc = self._ctx.Process(
            target=run_in_worker, args=(self.runner, kwargs, q), name=f"scenario-{run_id}"
        )
        proc.start()
        self._procs[run_id] = proc
        threading.Thread(
            target=self._read,
            args=(run, proc, q, loop),
            name=f"scenario-reader-{run_id}",
            daemon=True,
        ).start()
        return run

    def _read(
        self,
        run: ScenarioRun,
        proc: multiprocessing.process.BaseProcess,
        q: Any,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        while True:
            try:
                message = q.get(timeout=0.5)
            except queue_mod.Empty:
                if not proc.is_alive():
                    message = {"type": "failed", "error": f"worker exited ({proc.exitcode})"}
                else:
                    continue
            except (EOFError, OSError):
                message = {"type": "failed", "error": "worker queue closed"}
            if loop.is_closed():
                return
            loop.call_soon_threadsafe(self._on_message, run, message)
            if message.get("type") in ("done", "failed"):
                proc.join(timeout=5)
                return

    def _on_message(self, run: ScenarioRun, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if run.status != "running":
            return
        if kind == "progress":
            run.progress = message
        elif kind == "metrics":
            if len(run.metrics) < _MAX_SERIES:
                run.metrics.append(message)
        elif kind == "report":
            run.report = message.get("report")
            run.plots = {
                str(name): Path(path) for name, path in (message.get("plots") or {}).items()
            }
            return  # the run ends with "done"
        elif kind in ("done", "failed"):
            run.status = "succeeded" if kind == "done" else "failed"
            run.error = message.get("error") if kind == "failed" else None
            run.finished_at = datetime.now(UTC)
            self.metrics.scenario_runs.labels(run.status).inc()
            for final in run.final_messages():
                self._notify(run, final)
            for follower in run.followers:
                follower.put_nowait(None)
            return
        else:
            return
        self._notify(run, message)

    def _notify(self, run: ScenarioRun, message: dict[str, Any]) -> None:
        for follower in run.followers:
            follower.put_nowait(message)

    def plot_path(self, run: ScenarioRun, name: str) -> Path | None:
        path = run.plots.get(name)
        if path is None or not path.is_file():
            return None
        return path

    def shutdown(self) -> None:
        for proc in self._procs.values():
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
