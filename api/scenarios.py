"""Scenario runs for architects: each run in its own spawned process, streamed back.

The simulator's runner is a blocking function; running it in a separate process keeps the
API's event loop (and the GIL) free. A reader thread per run turns the worker's queue into
calls on the loop, where the run's record is updated and its WebSocket followers notified.
Records are kept durably (`api.scenario_store`): runs of other processes, or of this one
before a restart, are served from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import queue as queue_mod
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.problems import ServiceBusy
from api.scenario_store import HEARTBEAT_S, RunStore
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
    from_live: bool = False
    replications: int | None = None
    name: str | None = None  # the scenario's own name (an inline spec has no library name)
    compare: list[str] | None = None  # the names of the two variants compared
    followers: set[asyncio.Queue[dict[str, Any] | None]] = field(default_factory=set)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "mode": self.mode,
            "seed": self.seed,
            "scenario": self.scenario,
            "name": self.name,
            "compare": self.compare,
            "from_live": self.from_live,
            "replications": self.replications,
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
        if self.status in ("failed", "cancelled", "interrupted"):
            return [{"type": self.status, "error": self.error}]
        return []

    def record(self) -> dict[str, Any]:
        """What the store keeps (the report and plots are files beside it)."""
        record = self.public()
        del record["report"], record["plots"]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any], store: RunStore) -> ScenarioRun:
        """A run of another process (or of this one before a restart), as stored."""
        run_id = record["id"]
        status = record["status"]
        return cls(
            id=run_id,
            mode=record["mode"],
            seed=record["seed"],
            scenario=record.get("scenario"),
            out_dir=store.root / run_id,
            created_at=datetime.fromisoformat(record["created_at"]),
            status=status,
            finished_at=(
                datetime.fromisoformat(record["finished_at"]) if record.get("finished_at") else None
            ),
            progress=record.get("progress"),
            metrics=record.get("metrics") or [],
            report=store.report(run_id) if status == "succeeded" else None,
            plots=store.plots(run_id) if status == "succeeded" else {},
            error=record.get("error"),
            from_live=bool(record.get("from_live")),
            replications=record.get("replications"),
            name=record.get("name"),
            compare=record.get("compare"),
        )


class ScenarioManager:
    """Starts runs in worker processes and keeps their records (in memory and in the store)."""

    def __init__(
        self,
        *,
        runner: str,
        root: Path,
        max_running: int,
        metrics: ApiMetrics,
        bootstrap: str | None,
        topics: dict[str, str] | None,
        master_data: Path | None = None,
    ) -> None:
        self.runner = runner
        self.root = root
        self.store = RunStore(root)
        self.master_data = master_data
        self.max_running = max_running
        self.metrics = metrics
        self.bootstrap = bootstrap
        self.topics = topics
        self.runs: dict[str, ScenarioRun] = {}
        self._procs: dict[str, multiprocessing.process.BaseProcess] = {}
        self._ctx = multiprocessing.get_context("spawn")

    def running(self) -> int:
        return sum(1 for r in self.runs.values() if r.status == "running")

    def get(self, run_id: str) -> ScenarioRun | None:
        """A run of this process, else as stored (another replica's, or from before a restart)."""
        run = self.runs.get(run_id)
        if run is not None:
            return run
        record = self.store.load(run_id)
        return None if record is None else ScenarioRun.from_record(record, self.store)

    def list_runs(self) -> list[dict[str, Any]]:
        """Every stored run, newest first (this process's and every other's)."""
        return self.store.list()

    def cancel(self, run_id: str) -> ScenarioRun | None:
        """Stop a running run: here if this process runs it, else through the store."""
        run = self.get(run_id)
        if run is None or run.status != "running":
            return run
        proc = self._procs.get(run_id)
        if proc is None:
            self.store.request_cancel(run_id)  # its owner stops it within a poll
            return run
        if proc.is_alive():
            proc.terminate()
        self._on_message(run, {"type": "cancelled", "error": "cancelled on request"})
        return run

    def start(
        self,
        *,
        scenario: str | None,
        spec: str | None,
        mode: str,
        seed: int,
        from_live: bool = False,
        replications: int | None = None,
        name: str | None = None,
        compare: list[dict[str, Any]] | None = None,
    ) -> ScenarioRun:
        if self.running() >= self.max_running:
            raise ServiceBusy(
                f"{self.max_running} scenario run(s) already running", headers={"Retry-After": "10"}
            )
        loop = asyncio.get_running_loop()
        run_id = uuid.uuid4().hex[:12]
        out_dir = self.root / run_id
        out_dir.mkdir(parents=True, exist_ok=True)
        run = ScenarioRun(run_id, mode, seed, scenario, out_dir, datetime.now(UTC))
        run.from_live, run.replications, run.name = from_live, replications, name
        run.compare = [str(v.get("name")) for v in compare] if compare else None
        self.runs[run_id] = run
        self.store.save(run.record())
        q = self._ctx.Queue()
        kwargs = {
            "scenario": scenario,
            "spec": spec,
            "mode": mode,
            "seed": seed,
            "out_dir": out_dir,
            "bootstrap": self.bootstrap,
            "topics": self.topics,
            "from_live": from_live,
            "replications": replications,
            "master_data": self.master_data,
            "compare": compare,
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
        beat = time.monotonic()
        while True:
            try:
                message: dict[str, Any] | None = q.get(timeout=0.5)
            except queue_mod.Empty:
                message = None
            except (EOFError, OSError):
                message = {"type": "failed", "error": "worker queue closed"}
            if loop.is_closed():
                return
            # Checked however busy the worker is: a cancel from another process, and the
            # heartbeat that tells every process this one still runs the run.
            if message is None or time.monotonic() - beat >= HEARTBEAT_S:
                if self.store.cancel_requested(run.id):
                    proc.terminate()  # asked by another process (the store's marker)
                    message = {"type": "cancelled", "error": "cancelled on request"}
                elif message is None and not proc.is_alive():
                    message = {"type": "failed", "error": f"worker exited ({proc.exitcode})"}
                elif time.monotonic() - beat >= HEARTBEAT_S:
                    beat = time.monotonic()
                    loop.call_soon_threadsafe(self._save, run)
            if message is None:
                continue
            loop.call_soon_threadsafe(self._on_message, run, message)
            if message.get("type") in ("done", "failed", "cancelled"):
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
        elif kind in ("done", "failed", "cancelled"):
            run.status = {"done": "succeeded"}.get(kind, kind)
            run.error = message.get("error") if kind != "done" else None
            run.finished_at = datetime.now(UTC)
            self._keep_report(run)
            self._save(run)
            self.metrics.scenario_runs.labels(run.status).inc()
            for final in run.final_messages():
                self._notify(run, final)
            for follower in run.followers:
                follower.put_nowait(None)
            return
        else:
            return
        self._notify(run, message)

    def _keep_report(self, run: ScenarioRun) -> None:
        """The report as a file, for runners that write none (the simulator writes its own)."""
        path = run.out_dir / "report.json"
        if run.report is not None and not path.exists():
            with contextlib.suppress(OSError):
                path.write_text(json.dumps(run.report, default=str))

    def _save(self, run: ScenarioRun) -> None:
        # on a full disk the run goes on; its record is written again at the next change
        with contextlib.suppress(OSError):
            self.store.save(run.record())

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
