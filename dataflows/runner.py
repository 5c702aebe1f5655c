"""Runs a built flow with Bytewax's own runtime: workers, cluster processes and recovery.

Scale-out is Bytewax's: `workers` threads in this process, and `addresses` + `process_id`
to join a cluster of processes (on one host or many). Recovery is Bytewax's SQLite
partitions under `$TWIN_STATE_DIR/recovery/<flow>`, created here on first use.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from dataflows.settings import FlowSettings

# Without recovery the epoch only paces Bytewax's internal progress tracking.
_EPOCH_WITHOUT_RECOVERY = timedelta(seconds=10)


@dataclass(frozen=True)
class ClusterArgs:
    """Where this process sits in a Bytewax cluster (defaults: alone, one worker)."""

    workers: int = 1
    process_id: int | None = None
    addresses: list[str] | None = None


def ensure_recovery_dir(path: Path, partitions: int) -> Path:
    """Create and initialise Bytewax recovery partitions unless they exist already.

    A file lock makes it safe for the processes of a local cluster to start at once.
    """
    path.mkdir(parents=True, exist_ok=True)
    with (path.parent / f".{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not any(path.glob("part-*.sqlite3")):
            init_db_dir(path, partitions)
    return path


def recovery_config(settings: FlowSettings, flow_name: str) -> RecoveryConfig | None:
    if not settings.flow_recovery:
        return None
    path = ensure_recovery_dir(settings.recovery_dir(flow_name), settings.flow_recovery_partitions)
    return RecoveryConfig(path, backup_interval=timedelta(0))


def run_flow(flow: Dataflow, settings: FlowSettings, flow_name: str, cluster: ClusterArgs) -> None:
    """Block running `flow` until its inputs end (or for ever when they tail)."""
    recovery = recovery_config(settings, flow_name)
    epoch = settings.snapshot_interval(flow_name) if recovery else _EPOCH_WITHOUT_RECOVERY
    cli_main(
        flow,
        workers_per_process=cluster.workers,
        process_id=cluster.process_id,
        addresses=cluster.addresses,
        epoch_interval=epoch,
        recovery_config=recovery,
    )
