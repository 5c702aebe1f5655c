"""Processes the API's integration tests start: the two dataflows and the API under uvicorn.

Each child runs in its own session (process group) so stopping it stops what it spawned;
they are always stopped by their own pid, never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.polling import wait_until

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            argv,
            cwd=REPO,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@contextlib.contextmanager
def running_flows(bootstrap: str, suffix: str, logs: Path) -> Iterator[None]:
    """`invtwin flow normalize` and `invtwin flow twin` on this suffix's topics."""
    env = {"TWIN_KAFKA_BOOTSTRAP": bootstrap, "TWIN_FLOW_COALESCE_MS": "50"}
    procs = [
        spawn(
            [
                sys.executable,
                "-m",
                "cli.main",
                "flow",
                name,
                "--no-recovery",
                "--topic-suffix",
                suffix,
            ],
            env,
            logs / f"flow-{name}.log",
        )
        for name in ("normalize", "twin")
    ]
    try:
        yield
    finally:
        for proc in procs:
            stop(proc)


class ApiProcess:
    """`invtwin api` in a subprocess on a free port; can be killed and restarted."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.port = free_port()
        self.env = env
        self.logs = logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        self.proc = spawn(
            [sys.executable, "-m", "cli.main", "api", "--port", str(self.port)],
            self.env,
            self.logs / f"api-{self.starts}.log",
        )
        wait_until(self._ready, 60, "the API to be ready")

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            log = (self.logs / f"api-{self.starts}.log").read_text(errors="replace")
            raise AssertionError(f"the API exited:\n{log[-3000:]}")
        try:
            return httpx.get(self.base_url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.proc is not None:
            stop(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
