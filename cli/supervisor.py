"""A small process supervisor: start child processes in their own process groups, wait
until they are ready, notice when one dies, and stop them all cleanly.

Used by `invtwin demo` and by the end-to-end tests. Each child runs in a new session (its
own process group) so that stopping it also stops whatever it spawned (Bytewax workers,
uvicorn reloaders); stopping sends SIGTERM to the group, waits a grace period, then SIGKILL.
Output goes to one log file per child, so a failure can be shown with the child's own words.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class ChildFailed(RuntimeError):
    """A supervised process exited, or never became ready; the message quotes its log."""


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes]
    started_at: float = field(default_factory=time.monotonic)
    env: dict[str, str] = field(default_factory=dict)  # what it was started with, for restarts
    cwd: Path | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the child's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Owns a set of child processes; use as a context manager so they always stop."""

    def __init__(self, log_dir: Path, *, grace_s: float = 10.0) -> None:
        self.log_dir = log_dir
        self.grace_s = grace_s
        self.children: list[Child] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        """Start `argv` in a new process group with its output in `<log_dir>/<name>.log`."""
        return self._launch(name, list(argv), dict(env or {}), cwd, log_mode="wb")

    def restart(self, child: Child) -> Child:
        """Start a stopped (or killed) child again as it was started, its log continued."""
        if child.alive():
            raise ChildFailed(f"{child.name} is still running (pid {child.process.pid})")
        self.children = [c for c in self.children if c is not child]
        return self._launch(child.name, child.argv, child.env, child.cwd, log_mode="ab")

    def _launch(
        self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None, log_mode: str
    ) -> Child:
        log_path = self.log_dir / f"{name}.log"
        merged = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        with log_path.open(log_mode) as log:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=merged,
                cwd=cwd,
                start_new_session=True,
            )
        child = Child(name=name, argv=argv, log_path=log_path, process=process, env=env, cwd=cwd)
        self.children.append(child)
        return child

    def wait_ready(
        self, child: Child, ready: Callable[[], bool], *, timeout_s: float, poll_s: float = 0.25
    ) -> None:
        """Poll `ready()` until it is true; fail early, with the log, if the child exits."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not child.alive():
                raise ChildFailed(
                    f"{child.name} exited with code {child.process.returncode} before it was "
                    f"ready; last lines of {child.log_path}:\n{child.log_tail()}"
                )
            if ready():
                return
            time.sleep(poll_s)  # polling interval of a deadline loop, not a wait-for-luck
        raise ChildFailed(
            f"{child.name} was not ready within {timeout_s:.0f} s; last lines of "
            f"{child.log_path}:\n{child.log_tail()}"
        )

    def check(self) -> None:
        """Raise ChildFailed when any child has exited."""
        for child in self.children:
            if not child.alive():
                raise ChildFailed(
                    f"{child.name} exited with code {child.process.returncode}; last lines of "
                    f"{child.log_path}:\n{child.log_tail()}"
                )

    def stop(self, child: Child) -> int | None:
        """SIGTERM the child's process group, SIGKILL it after the grace period."""
        if child.alive():
            _signal_group(child.process.pid, signal.SIGTERM)
            try:
                child.process.wait(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(child.process.pid, signal.SIGKILL)
                child.process.wait(timeout=self.grace_s)
        # Grandchildren may outlive a leader that exited on SIGTERM: sweep the group.
        _signal_group(child.process.pid, signal.SIGKILL)
        return child.process.returncode

    def signal(self, child: Child, sig: signal.Signals) -> None:
        """Send `sig` to the child's whole process group (what a crash or a freeze hits)."""
        _signal_group(child.process.pid, sig)

    def stop_all(self) -> None:
        """SIGTERM every child's group at once, then SIGKILL whatever outlives the grace."""
        children = list(reversed(self.children))
        self.children.clear()
        for child in children:
            if child.alive():
                _signal_group(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for child in children:
            # Also sweeps grandchildren that outlived a leader which exited on SIGTERM.
            _signal_group(child.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=5)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
