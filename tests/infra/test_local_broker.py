"""`invtwin kafka up/status/down` on a broker of the test's own, and the error paths."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.broker import LocalBroker
from infra.dedicated import dedicated_broker, free_ports, stop_and_discard
from infra.errors import BrokerStartFailed, JavaMissing, MavenMissing, PortTaken
from infra.jars import ensure_jars
from infra.settings import KAFKA_VERSION, REPO_ROOT, BrokerSettings


@pytest.fixture
def non_kafka_port() -> Iterator[int]:
    """A loopback port served by something that answers like a web server, not Kafka."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    server.close()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # Only the kafka command group: this test must not depend on the other parts' CLIs.
    code = "from cli.kafka import app; app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.integration
@pytest.mark.slow
def test_up_twice_is_harmless_and_status_tells_where_and_which_version(tmp_path: Path) -> None:
    port, controller_port = free_ports(2)
    env = {
        **os.environ,
        "TWIN_STATE_DIR": str(tmp_path),
        "TWIN_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
        "TWIN_KAFKA_CONTROLLER_PORT": str(controller_port),
    }
    try:
        first = _cli(env, "up")
        assert first.returncode == 0, first.stderr
        second = _cli(env, "up")
        assert second.returncode == 0, second.stderr
        assert first.stdout == second.stdout  # same pid: the second `up` started nothing

        status = _cli(env, "status")
        assert status.returncode == 0
        assert f"Kafka is running (pid {_pid(tmp_path)}) at 127.0.0.1:{port}" in status.stdout
        assert f"Apache Kafka {KAFKA_VERSION}" in status.stdout
        assert str(tmp_path / "kafka" / "data") in status.stdout

        down = _cli(env, "down")
        assert down.returncode == 0 and "stopped" in down.stdout
        after = _cli(env, "status")
        assert after.returncode == 1
        assert f"Kafka is not running at 127.0.0.1:{port}" in after.stdout
    finally:
        _cli(env, "down")


def _pid(state_dir: Path) -> int:
    return int(json.loads((state_dir / "kafka" / "broker.json").read_text())["pid"])


def test_port_taken_by_something_else_is_reported_as_not_kafka(
    tmp_path: Path, non_kafka_port: int
) -> None:
    (controller_port,) = free_ports(1)
    broker = LocalBroker(
        BrokerSettings(state_dir=tmp_path), port=non_kafka_port, controller_port=controller_port
    )
    with pytest.raises(PortTaken, match=rf"127\.0\.0\.1:{non_kafka_port} .*not Kafka"):
        broker.up(timeout=10)
    assert broker.pid() is None


def test_controller_port_taken_is_reported_too(tmp_path: Path, non_kafka_port: int) -> None:
    (port,) = free_ports(1)
    broker = LocalBroker(
        BrokerSettings(state_dir=tmp_path), port=port, controller_port=non_kafka_port
    )
    with pytest.raises(
        PortTaken, match=rf"127\.0\.0\.1:{non_kafka_port} \(the broker's controller"
    ):
        broker.up(timeout=10)


def test_missing_java_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    broker = dedicated_broker(tmp_path)
    with pytest.raises(JavaMissing, match=r"Java was not found.*openjdk-17"):
        broker.up(timeout=10)


def test_too_old_java_is_refused_with_the_version_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(JavaMissing, match="Java 11; Kafka 4 needs Java 17"):
        dedicated_broker(tmp_path).up(timeout=10)


def test_missing_maven_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MavenMissing, match="apt-get install -y maven"):
        ensure_jars("0.0.0-not-cached")
    assert not (REPO_ROOT / ".cache" / "kafka" / "0.0.0-not-cached").exists()


@pytest.mark.integration
def test_a_broker_that_dies_at_start_shows_the_end_of_its_log(tmp_path: Path) -> None:
    broker = dedicated_broker(tmp_path)
    # Storage "formatted" for another node: Kafka refuses to start on it.
    broker.layout.data_dir.mkdir(parents=True)
    (broker.layout.data_dir / "meta.properties").write_text(
        "version=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\nnode.id=7\n"
        "directory.id=BBBBBBBBBBBBBBBBBBBBBB\n"
    )
    try:
        with pytest.raises(BrokerStartFailed) as failure:
            broker.up(timeout=60)
        message = str(failure.value)
        assert "exited with code" in message
        assert "Stored node id 7 doesn't match" in message
        assert str(broker.log_file) in message
        assert broker.pid() is None
    finally:
        stop_and_discard(broker)


@pytest.mark.integration
def test_up_reuses_a_kafka_broker_it_did_not_start(kafka_bootstrap: str, tmp_path: Path) -> None:
    port = int(kafka_bootstrap.split(",")[0].rpartition(":")[2])
    (free,) = free_ports(1)
    broker = LocalBroker(BrokerSettings(state_dir=tmp_path), port=port, controller_port=free)
    status = broker.up(timeout=10)
    assert status.running and not status.managed
    assert broker.pid() is None  # nothing was started
    assert "was not started from this state dir" in status.describe()
    assert not broker.down()  # and `down` leaves the other broker alone
    assert broker.status().running
