"""The chaos soak's parts that need no cluster: restarting a killed child as it was started,
freezing and thawing it, and the verdict's arithmetic. The soak itself runs in CI
(`make chaos`, three minutes on a three-node cluster) and as `bench/chaos.py`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from cli.chaos_soak import Fault, FaultLog, verdict
from cli.supervisor import Supervisor
from tests.polling import wait_until

PRINT_AND_WAIT = (
    "import os, sys, time; print('pid', os.getpid(), sys.argv[1], flush=True); time.sleep(600)"
)


def test_a_killed_child_starts_again_with_its_argv_env_and_log(tmp_path: Path) -> None:
    with Supervisor(tmp_path / "logs", grace_s=2.0) as supervisor:
        child = supervisor.start(
            "worker", [sys.executable, "-c", PRINT_AND_WAIT, "first"], env={"MARK": "x"}
        )
        wait_until(lambda: "first" in child.log_path.read_text(), 20, "the child")
        supervisor.signal(child, signal.SIGKILL)
        child.process.wait(timeout=10)
        again = supervisor.restart(child)
        assert again.alive() and again.process.pid != child.process.pid
        assert (again.argv, again.env) == (child.argv, {"MARK": "x"})
        assert supervisor.children == [again]
        wait_until(lambda: again.log_path.read_text().count("first") == 2, 20, "the child")


def test_a_frozen_child_stands_still_until_thawed(tmp_path: Path) -> None:
    ticker = "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.05)"
    with Supervisor(tmp_path / "logs", grace_s=2.0) as supervisor:
        child = supervisor.start("ticker", [sys.executable, "-c", ticker])
        wait_until(lambda: "tick" in child.log_path.read_text(), 20, "the child")
        supervisor.signal(child, signal.SIGSTOP)
        wait_until(lambda: _state(child.process.pid) == "T", 10, "the child")
        frozen_at = child.log_path.read_text().count("tick")
        assert _state(child.process.pid) == "T"
        assert child.log_path.read_text().count("tick") == frozen_at
        supervisor.signal(child, signal.SIGCONT)
        wait_until(
            lambda: child.log_path.read_text().count("tick") > frozen_at + 3, 20, "the child"
        )


def _state(pid: int) -> str:
    """The process's state letter from /proc (T: stopped by a signal)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


def _live(differing: int, over: int = 0, under: int = 0, errors: list[str] | None = None) -> dict:
    return {
        "differences": {
            "sku_sites": 200,
            "sku_sites_differing": differing,
            "units_over": over,
            "units_under": under,
            "examples": [],
        },
        "records_acknowledged": 5_000,
        "producer_errors": errors or [],
    }


def test_the_verdict_is_exact_only_with_every_sku_site_equal_and_every_target_back() -> None:
    log = FaultLog(
        faults=[
            Fault(at_s=30.0, action="kill", target="broker-2", kind="broker", recovered_s=41.5),
            Fault(
                at_s=90.0,
                action="freeze",
                target="flow-twin",
                kind="flow",
                held_s=5.0,
                recovered_s=5.4,
            ),
            Fault(at_s=150.0, action="kill", target="broker-1", kind="broker", recovered_s=12.0),
        ]
    )
    result = verdict(log, _live(0))
    assert result["exact"] and result["final_accuracy"] == 1.0
    assert result["faults_injected"] == 3
    assert result["max_recovery_s"] == {"broker": 41.5, "flow": 5.4}

    wrong = verdict(log, _live(2, over=7))
    assert not wrong["exact"] and wrong["final_accuracy"] == 0.99 and wrong["units_over"] == 7
    assert not verdict(log, _live(0, errors=["Local: Message timed out"]))["exact"]
    stuck = FaultLog(
        faults=[Fault(at_s=30.0, action="kill", target="api", kind="api")],
        failed="api did not serve again",
    )
    assert not verdict(stuck, _live(0))["exact"]


def test_a_fault_says_what_was_done_and_when_it_served_again() -> None:
    kill = Fault(at_s=30.0, action="kill", target="broker-2", kind="broker", recovered_s=41.5)
    assert kill.describe() == (
        "[t+  30.0 s] killed broker-2 (SIGKILL) and started it again; serving again after 41.5 s"
    )
    freeze = Fault(at_s=60.0, action="freeze", target="api", kind="api", held_s=4.0)
    assert freeze.describe().endswith("froze api for 4.0 s; NOT serving again")
