"""The session fixture starts the local broker when none answers, and stops what it started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.dedicated import free_ports
from infra.probe import port_open
from infra.settings import REPO_ROOT

_INNER_TEST = """
from infra.probe import metadata_ready

def test_inner(kafka_bootstrap):
    assert kafka_bootstrap == "127.0.0.1:{port}"
    assert metadata_ready(kafka_bootstrap, timeout=10)
"""


@pytest.mark.integration
@pytest.mark.slow
def test_session_starts_a_broker_when_none_answers_and_stops_it_after(tmp_path: Path) -> None:
    port, controller_port = free_ports(2)
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "test_inner.py").write_text(_INNER_TEST.format(port=port))
    env = {
        **os.environ,
        "TWIN_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
        "TWIN_KAFKA_CONTROLLER_PORT": str(controller_port),
        "TWIN_STATE_DIR": str(tmp_path / "state"),
    }
    # Load our conftest as a plugin into a separate pytest run over the inner test only.
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider"]
    run = subprocess.run(
        [*cmd, "--rootdir", str(inner), str(inner)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert (tmp_path / "state" / "kafka" / "data" / "meta.properties").is_file()  # it ran here
    assert not (tmp_path / "state" / "kafka" / "broker.json").exists()  # and was stopped
    assert not port_open("127.0.0.1", port)
    log = (tmp_path / "state" / "kafka" / "logs" / "server.log").read_text()
    assert "Kafka Server started" in log
    assert "Transition from SHUTTING_DOWN to SHUTDOWN" in log  # a clean stop, not a kill
