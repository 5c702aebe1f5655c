"""The demo's process supervisor: readiness with early failure, and stopping whole groups."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from cli.supervisor import ChildFailed, Supervisor

pytestmark = pytest.mark.e2e

# A parent that ignores SIGTERM and leaves a grandchild (which also ignores it) behind:
# the worst case for a clean shutdown.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"])
print(child.pid, flush=True)
time.sleep(300)
"""


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_stop_all_kills_a_stubborn_child_and_its_grandchild(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path, grace_s=0.5)
    child = supervisor.start("stubborn", [sys.executable, "-c", STUBBORN])
    supervisor.wait_ready(child, lambda: child.log_path.read_text().strip() != "", timeout_s=20)
    grandchild = int(child.log_path.read_text().split()[0])
    assert pid_alive(child.process.pid) and pid_alive(grandchild)

    started = time.monotonic()
    supervisor.stop_all()
    assert time.monotonic() - started < 10
    assert child.process.returncode is not None
    deadline = time.monotonic() + 5
    while pid_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)  # poll interval: init reaps the orphan
    assert not pid_alive(grandchild)
    assert supervisor.children == []


def test_a_child_that_dies_before_ready_fails_with_its_log(tmp_path: Path) -> None:
    with Supervisor(tmp_path) as supervisor:
        child = supervisor.start(
            "broken", [sys.executable, "-c", "import sys; print('bad config'); sys.exit(3)"]
        )
        with pytest.raises(ChildFailed, match=r"exited with code 3(.|\n)*bad config"):
            supervisor.wait_ready(child, lambda: False, timeout_s=20)


def test_a_child_that_never_gets_ready_times_out(tmp_path: Path) -> None:
    with Supervisor(tmp_path, grace_s=1) as supervisor:
        child = supervisor.start("slow", [sys.executable, "-c", "import time; time.sleep(60)"])
        with pytest.raises(ChildFailed, match="not ready within"):
            supervisor.wait_ready(child, lambda: False, timeout_s=0.5)
