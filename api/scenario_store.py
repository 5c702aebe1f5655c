"""Scenario runs that outlast the API process: one directory per run under the scenario root.

A run's directory already holds what the simulator writes (`report.json`, the plots); the
record beside it (`run.json`: status, request, times, metric series, error) is rewritten
atomically at each change of status. Any API process pointed at the same root (replicas on
one host, or a shared volume) lists and serves the same runs, and a restarted API finds
them again. Why files and not a topic: reports and plots are files anyway, a run is written
by one process only, and a listing is a directory scan, with nothing to replay.

Cancelling crosses processes by a marker file: the process that owns the run sees it and
stops the worker. A run whose owner stopped sending its heartbeat (the API that ran it
died) is reported `interrupted`.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

RECORD = "run.json"
CANCEL = "cancel"
# A running run's owner rewrites its record at least this often; silent longer, it is gone.
HEARTBEAT_S = 5.0
STALE_AFTER_S = 6 * HEARTBEAT_S
_RUN_ID = re.compile(r"^[0-9a-f]{12}$")


class RunStore:
    """Run records under `root` (one directory per run id)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def dir(self, run_id: str) -> Path | None:
        """The run's directory, or None for an id that cannot be one (never a path)."""
        return self.root / run_id if _RUN_ID.match(run_id) else None

    def save(self, record: dict[str, Any]) -> None:
        """Write the record atomically (a reader never sees half of it)."""
        directory = self.root / record["id"]
        directory.mkdir(parents=True, exist_ok=True)
        record = {**record, "heartbeat": time.time()}
        tmp = directory / f".{RECORD}.{os.getpid()}"
        tmp.write_text(json.dumps(record, default=str))
        tmp.replace(directory / RECORD)

    def load(self, run_id: str) -> dict[str, Any] | None:
        directory = self.dir(run_id)
        if directory is None:
            return None
        try:
            record: dict[str, Any] = json.loads((directory / RECORD).read_text())
        except (OSError, ValueError):
            return None
        if record.get("status") == "running" and time.time() - record["heartbeat"] > STALE_AFTER_S:
            record["status"] = "interrupted"
            record["error"] = "the API process running it stopped before it finished"
        record.pop("heartbeat", None)
        return record

    def report(self, run_id: str) -> dict[str, Any] | None:
        directory = self.dir(run_id)
        try:
            return (
                None if directory is None else json.loads((directory / "report.json").read_text())
            )
        except (OSError, ValueError):
            return None

    def plots(self, run_id: str) -> dict[str, Path]:
        directory = self.dir(run_id)
        if directory is None or not directory.is_dir():
            return {}
        return {path.stem: path for path in sorted(directory.glob("*.png"))}

    def list(self) -> list[dict[str, Any]]:
        """Every run's summary, newest first."""
        if not self.root.is_dir():
            return []
        records = [self.load(d.name) for d in self.root.iterdir() if d.is_dir()]
        summaries = [{key: r.get(key) for key in SUMMARY_KEYS} for r in records if r is not None]
        return sorted(summaries, key=lambda r: str(r["created_at"]), reverse=True)

    def request_cancel(self, run_id: str) -> None:
        directory = self.dir(run_id)
        if directory is not None and directory.is_dir():
            (directory / CANCEL).touch()

    def cancel_requested(self, run_id: str) -> bool:
        directory = self.dir(run_id)
        return directory is not None and (directory / CANCEL).exists()


SUMMARY_KEYS = (
    "id", "status", "mode", "seed", "scenario", "name", "from_live", "replications", "compare",
    "created_at", "finished_at", "error",
)  # fmt: skip
