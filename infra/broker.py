"""The project's own Apache Kafka broker: a single KRaft node run from the official jars.

`LocalBroker(settings).up()` resolves the jars (Maven, once), formats the storage (once),
starts the JVM detached in its own process group and waits until the broker answers a
metadata request. `down()` stops it (SIGTERM, then SIGKILL after a grace period),
`status()` says whether it runs, where and which version. Everything lives in one folder:
`<state dir>/kafka/` with `server.properties`, `data/`, `logs/` and `broker.json`.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from infra.broker_config import BrokerLayout, SaslSslListener, server_properties
from infra.errors import BrokerError, BrokerStartFailed, PortTaken
from infra.jars import LOG4J2_CONFIG, ensure_jars
from infra.prereqs import find_java
from infra.probe import port_open, speaks_kafka, wait_for_metadata
from infra.settings import KAFKA_VERSION, LOOPBACK, BrokerSettings

_MAIN_CLASS = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"


@dataclass(frozen=True)
class BrokerStatus:
    """What `invtwin kafka status` reports."""

    running: bool
    managed: bool  # started by this project from this state dir (vs. some other broker)
    pid: int | None
    bootstrap: str
    version: str | None
    data_dir: str
    log_file: str

    def describe(self) -> str:
        """A few lines a person can read."""
        if self.running and not self.managed:
            return (
                f"A Kafka broker answers at {self.bootstrap}; it was not started from this "
                f"state dir, so its version and data dir are unknown here.\n"
                f"(This checkout's own broker would keep its data in {self.data_dir}.)"
            )
        head = (
            f"Kafka is running (pid {self.pid}) at {self.bootstrap}"
            if self.running
            else f"Kafka is not running at {self.bootstrap}"
        )
        return "\n".join(
            [
                head,
                f"version:  Apache Kafka {self.version or KAFKA_VERSION}",
                f"data dir: {self.data_dir}",
                f"log file: {self.log_file}",
            ]
        )


class LocalBroker:
    """One local broker instance, identified by its folder and ports."""

    def __init__(
        self,
        settings: BrokerSettings | None = None,
        *,
        home: Path | None = None,
        port: int | None = None,
        controller_port: int | None = None,
        session_timeout_ms: int = 9000,
        quick_start: bool = False,
        node_id: int = 1,
        voters: tuple[tuple[int, int], ...] = (),
        cluster_id: str | None = None,
        sasl_ssl: SaslSslListener | None = None,
        scram_users: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings or BrokerSettings()
        self.home = home or self.settings.kafka_dir()
        client_port = port or self.settings.client_port()
        if controller_port is None:
            controller_port = client_port + 1 if port else self.settings.controller_port()
        self.layout = BrokerLayout(
            port=client_port,
            controller_port=controller_port,
            data_dir=self.home / "data",
            node_id=node_id,
            session_timeout_ms=session_timeout_ms,
            voters=voters,
            sasl_ssl=sasl_ssl,
        )
        # SCRAM-SHA-512 logins (user -> password) written into the storage when it is formatted.
        self._scram_users = dict(scram_users or {})
        # The nodes of a cluster share one id, given by the cluster (see infra.cluster).
        self.cluster_id = cluster_id
        self.version = KAFKA_VERSION
        # Short-lived brokers (tests) start faster with the C1 JIT only: C2 compiler threads
        # compete for the two cores during start-up. Long-lived ones keep full optimisation.
        self._jit_flags = ["-XX:TieredStopAtLevel=1"] if quick_start else []
        self._child: subprocess.Popen[bytes] | None = None

    # -- paths -----------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return self.layout.bootstrap

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "server.log"

    @property
    def stdout_file(self) -> Path:
        return self.log_dir / "kafka.out"

    @property
    def state_file(self) -> Path:
        return self.home / "broker.json"

    # -- lifecycle -------------------------------------------------------------------

    def up(self, timeout: float | None = None) -> BrokerStatus:
        """Start the broker unless it already runs; return when it answers metadata.

        Harmless when it runs already (or another Kafka broker answers on the port).
        """
        timeout = timeout if timeout is not None else self.settings.kafka_start_timeout_s
        self.home.mkdir(parents=True, exist_ok=True)
        with self._lock():
            pid = self.pid()
            if pid is not None:
                if not wait_for_metadata(self.bootstrap, time.monotonic() + timeout):
                    raise BrokerStartFailed(self._failure(f"broker pid {pid} does not answer"))
                return self.status()
            if self._foreign_kafka_answers():
                return self.status()
            self._launch()
            self.await_ready(timeout)
            return self.status()

    def launch(self) -> bool:
        """Start the JVM without waiting for it to answer; False when it already runs.

        For the nodes of a cluster, which answer only once a majority of them run.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if self.pid() is not None:
                return False
            if self._foreign_kafka_answers():
                raise PortTaken(
                    f"another Kafka broker answers at {self.bootstrap}; stop it or choose "
                    "other ports with TWIN_KAFKA_PORT / TWIN_KAFKA_CONTROLLER_PORT"
                )
            self._launch()
            return True

    def _launch(self) -> None:
        java = find_java(self.settings.java_home)
        libs = ensure_jars(self.version)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(server_properties(self.layout))
        self._format_once(java, libs)
        self._spawn(java, libs)

    def down(self, timeout: float = 30.0) -> bool:
        """Stop it: SIGTERM (clean shutdown), SIGKILL if it lingers; False if not running."""
        with self._lock():
            pid = self.pid()
            if pid is None:
                self.state_file.unlink(missing_ok=True)
                return False
            self._signal(pid, signal.SIGTERM)
            if not self._wait_exit(pid, time.monotonic() + timeout):
                self._signal(pid, signal.SIGKILL)
                self._wait_exit(pid, time.monotonic() + 10.0)
            self.state_file.unlink(missing_ok=True)
            return True

    def terminate(self) -> None:
        """Ask the broker to shut down (SIGTERM) without waiting for it."""
        pid = self.pid()
        if pid is not None:
            self._signal(pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the broker at once, as a crash would (for resilience tests)."""
        pid = self.pid()
        if pid is None:
            raise BrokerError(f"no running broker under {self.home}")
        self._signal(pid, signal.SIGKILL)
        self._wait_exit(pid, time.monotonic() + 10.0)

    def status(self) -> BrokerStatus:
        """Whether it runs, where, which version, where its data and log are."""
        pid = self.pid()
        running = pid is not None and port_open(LOOPBACK, self.layout.port)
        foreign = pid is None and speaks_kafka(LOOPBACK, self.layout.port, timeout=5.0)
        return BrokerStatus(
            running=running or foreign,
            managed=pid is not None,
            pid=pid,
            bootstrap=self.bootstrap,
            version=self.version if pid is not None else None,
            data_dir=str(self.layout.data_dir),
            log_file=str(self.log_file),
        )

    def pid(self) -> int | None:
        """The pid of this broker's live JVM, or None (stale state files are ignored)."""
        try:
            state = json.loads(self.state_file.read_text())
            pid = int(state["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return pid if _is_our_broker(pid, self.config_file) else None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the broker's log and console output."""
        parts = []
        for path in (self.log_file, self.stdout_file):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    parts.append(f"--- {path} ---\n" + "\n".join(text))
        return "\n".join(parts) or "(no log written)"

    # -- internals -------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        # Two sessions (or engineers) starting the broker at once must not both spawn one.
        with (self.home / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _foreign_kafka_answers(self) -> bool:
        """True when another Kafka serves our client port; raise if a port is otherwise taken."""
        ports = ((self.layout.port, "client"), (self.layout.controller_port, "controller"))
        for port, role in ports:
            if not port_open(LOOPBACK, port):
                continue
            if role == "client" and speaks_kafka(LOOPBACK, port, timeout=10.0):
                return True  # e.g. the user's own broker, or one run from another checkout
            raise PortTaken(
                f"{LOOPBACK}:{port} (the broker's {role} port) is taken by something that is not "
                f"Kafka. Stop it (see `ss -ltnp 'sport = :{port}'`) or choose other ports with "
                "TWIN_KAFKA_PORT / TWIN_KAFKA_CONTROLLER_PORT."
            )
        return False

    def _java_cmd(self, java: Path, libs: Path) -> list[str]:
        return [
            str(java),
            f"-Xmx{self.settings.kafka_heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            *self._jit_flags,
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.log_dir}",
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-cp",
            str(libs / "*"),
        ]

    def _format_once(self, java: Path, libs: Path) -> None:
        if (self.layout.data_dir / "meta.properties").is_file():
            return
        cluster_id = self.cluster_id or new_cluster_id()
        # A lone node makes itself the quorum; cluster nodes read theirs from the config.
        quorum = [] if self.layout.voters else ["--standalone"]
        scram = [
            arg
            for user, password in self._scram_users.items()
            for arg in ("--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]")
        ]
        cmd = [
            *self._java_cmd(java, libs),
            _STORAGE_TOOL,
            "format",
            *quorum,
            *scram,
            "--cluster-id",
            cluster_id,
            "--config",
            str(self.config_file),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        if proc.returncode != 0:
            raise BrokerStartFailed(
                f"formatting the Kafka storage in {self.layout.data_dir} failed:\n"
                f"{(proc.stdout + proc.stderr).strip()}"
            )

    def _spawn(self, java: Path, libs: Path) -> None:
        cmd = [*self._java_cmd(java, libs), _MAIN_CLASS, str(self.config_file)]
        with self.stdout_file.open("ab") as out:
            # Own session/process group: Ctrl-C in the terminal that ran `up` does not reach it.
            self._child = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                cwd=self.home,
            )
        state = {
            "pid": self._child.pid,
            "bootstrap": self.bootstrap,
            "controller_port": self.layout.controller_port,
            "version": self.version,
            "started_at": datetime.now(UTC).isoformat(),
        }
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")

    def await_ready(self, timeout: float) -> None:
        """Wait until the broker answers metadata; raise if it exits or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._child is not None and self._child.poll() is not None:
                code = self._child.returncode
                self.state_file.unlink(missing_ok=True)
                raise BrokerStartFailed(self._failure(f"the broker exited with code {code}"))
            if port_open(LOOPBACK, self.layout.port, timeout=0.2):
                if wait_for_metadata(self.bootstrap, min(deadline, time.monotonic() + 5.0)):
                    return
            else:
                time.sleep(0.1)
        raise BrokerStartFailed(
            self._failure(f"the broker did not answer a metadata request within {timeout:.0f}s")
        )

    def _failure(self, what: str) -> str:
        return f"Kafka at {self.bootstrap} failed to start: {what}.\n{self.log_tail()}"

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)  # the JVM leads its own process group (start_new_session)

    def _wait_exit(self, pid: int, deadline: float) -> bool:
        """Wait until the process is gone and its ports are free (so a restart can bind)."""
        while time.monotonic() < deadline:
            if not _pid_alive(pid) and not self._ports_in_use():
                return True
            time.sleep(0.05)
        return not _pid_alive(pid)

    def _ports_in_use(self) -> bool:
        return any(
            port_open(LOOPBACK, port, timeout=0.2)
            for port in (self.layout.port, self.layout.controller_port)
        )

    def describe_state(self) -> dict[str, object]:
        """The status as a JSON-able dict (for `invtwin kafka status --json`)."""
        return asdict(self.status())


def new_cluster_id() -> str:
    """A Kafka Uuid (base64url, 22 chars) that does not start with '-' (argparse would
    take it for an option)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _pid_alive(pid: int) -> bool:
    try:
        # Our own child: waitpid is exact, and reaping it keeps no zombie around. It reports
        # the exit only once every thread of the JVM is gone (and its sockets closed).
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done != pid
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        # A zombie leader whose other threads still exit shows "Z" but may hold the ports.
        status = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        return not (fields.get("State", "").startswith("Z") and fields.get("Threads") == "1")
    return True


def _is_our_broker(pid: int, config_file: Path) -> bool:
    """True when pid is alive and is the JVM running this config (pids get reused)."""
    if not _pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the state file
    return _MAIN_CLASS.encode() in cmdline and str(config_file).encode() in cmdline
