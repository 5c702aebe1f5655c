"""The whole twin on one machine: broker, topics, both dataflows and the API, supervised.

`Stack` is what `invtwin demo` runs and what the end-to-end tests start (with a unique topic
suffix and their own state dir). Each part runs as its own `invtwin …` process, exactly as it
would be deployed, under a `Supervisor`. The broker is reused when one answers, else the
project's local broker is started — and then, only then, stopped again at the end.

With a `clock`, every part gets the same accelerated domain clock (`TWIN_CLOCK_ORIGIN`,
`TWIN_CLOCK_SPEED`, see `infra.clock`): the flows judge time on it, the simulator runs on
it, and so do live scenarios the API starts (its workers inherit its environment).
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.auth import generate_dev_tokens, parse_tokens
from cli.supervisor import Child, ChildFailed, Supervisor
from infra.broker import LocalBroker
from infra.clock import DomainClock
from infra.kafka_clients import ensure_topics
from infra.probe import metadata_ready, port_open
from infra.settings import BrokerSettings
from infra.topics import TOPIC_SPECS

REPO_ROOT = Path(__file__).resolve().parents[1]
Say = Callable[[str], None]


class StackSettings(BaseSettings):
    """What the demo reads from the environment (the same variables every part reads).

    No master data here: the demo's is always the live scenario's own network.
    """

    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    api_tokens: str = ""
    state_dir: Path = REPO_ROOT / ".state"


def generate_tokens() -> dict[str, str]:
    """One fresh random token per role: role -> token."""
    return tokens_by_role(generate_dev_tokens())


def tokens_by_role(spec: str) -> dict[str, str]:
    """`token:role,…` (checked as the API checks it) -> role -> first token with that role."""
    tokens: dict[str, str] = {}
    for token, role in parse_tokens(spec).items():
        tokens.setdefault(role.value, token)
    return tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def invtwin(*args: str) -> list[str]:
    """The argv of an `invtwin` sub-command run with this interpreter."""
    return [sys.executable, "-m", "cli.main", *args]


@dataclass
class Stack:
    """A running twin; start() brings it up, stop() takes it down (also as a context)."""

    bootstrap: str
    master_data: Path
    state_dir: Path
    tokens: dict[str, str]  # role -> token
    api_port: int = 8000
    topic_suffix: str = ""
    log_dir: Path | None = None
    extra_api_env: dict[str, str] = field(default_factory=dict)
    flow_env: dict[str, str] = field(default_factory=dict)
    flow_args: tuple[str, ...] = ()
    # flow -> its /metrics and /healthz port (default: the flows' own, 9110 and 9120)
    flow_metrics_ports: dict[str, int] = field(default_factory=dict)
    clock: DomainClock | None = None  # None: every part on the wall clock
    supervisor: Supervisor = field(init=False)
    broker: LocalBroker | None = field(init=False, default=None)
    children: dict[str, Child] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.log_dir or self.state_dir / "logs")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def tokens_env(self) -> str:
        return ",".join(f"{token}:{role}" for role, token in self.tokens.items())

    def env(self) -> dict[str, str]:
        """What every part gets: the broker, master data, state dir, and the domain clock."""
        return {
            "TWIN_KAFKA_BOOTSTRAP": self.bootstrap,
            "TWIN_MASTER_DATA": str(self.master_data),
            "TWIN_STATE_DIR": str(self.state_dir),
            **(self.clock.env() if self.clock is not None else {}),
        }

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start_broker(self, say: Say = print) -> None:
        """Reuse a broker that answers at `bootstrap`, else start the local one."""
        if metadata_ready(self.bootstrap, timeout=3.0):
            say(f"Kafka: using the broker at {self.bootstrap}")
            return
        settings = BrokerSettings(kafka_bootstrap=self.bootstrap, state_dir=self.state_dir)
        broker = LocalBroker(settings)
        say(f"Kafka: starting the local broker at {broker.bootstrap} (first run downloads jars)")
        broker.up()
        self.broker = broker

    def start(self, *, say: Say = print, api_timeout_s: float = 90.0) -> None:
        """Broker, topics, the two flows, the history store and the API; returns once the API
        is ready."""
        if port_open("127.0.0.1", self.api_port):
            # Otherwise the readiness probe could be answered by whatever holds the port.
            raise ChildFailed(f"port {self.api_port} is already in use: pick another with --port")
        self.start_broker(say)
        ensure_topics(self.bootstrap, TOPIC_SPECS, suffix=self.topic_suffix)
        say(f"Topics: {len(TOPIC_SPECS)} contract topics ready{self._suffix_note()}")
        suffix = ("--topic-suffix", self.topic_suffix) if self.topic_suffix else ()
        for flow in ("normalize", "twin"):
            self.children[flow] = self.supervisor.start(
                f"flow-{flow}",
                invtwin("flow", flow, *suffix, *self.flow_args),
                env={**self.env(), **self.flow_env, **self._metrics_port_env(flow)},
                cwd=REPO_ROOT,
            )
            say(f"Dataflow {flow}: started (pid {self.children[flow].process.pid})")
        # the history store the API reads ledgers and positions over time from
        self.children["history"] = self.supervisor.start(
            "history", invtwin("history", *suffix), env=self.env(), cwd=REPO_ROOT
        )
        say(f"History: started (pid {self.children['history'].process.pid})")
        api_env = {
            **self.env(),
            "TWIN_API_TOKENS": self.tokens_env(),
            "TWIN_API_TOPIC_SUFFIX": self.topic_suffix,
            **self.extra_api_env,
        }
        api = self.supervisor.start(
            "api",
            invtwin("api", "--host", "127.0.0.1", "--port", str(self.api_port)),
            env=api_env,
            cwd=REPO_ROOT,
        )
        self.children["api"] = api
        self.supervisor.wait_ready(api, self._api_ready, timeout_s=api_timeout_s)
        say(f"API: ready at {self.url} (pid {api.process.pid})")

    def start_simulator(self, scenario: str, seed: int, *, name: str = "simulator") -> Child:
        """Feed the running twin with a live scenario."""
        argv = ["sim", "run", "--mode", "live", "--scenario", scenario, "--seed", str(seed)]
        argv += ["--bootstrap", self.bootstrap, "--out", str(self.state_dir / "sim-reports")]
        if self.topic_suffix:
            argv += ["--topic-suffix", self.topic_suffix]
        child = self.supervisor.start(name, invtwin(*argv), env=self.env(), cwd=REPO_ROOT)
        self.children[name] = child
        return child

    def restart(self, name: str) -> Child:
        """Start a part that died (or was killed) again, as it was first started."""
        child = self.supervisor.restart(self.children[name])
        self.children[name] = child
        return child

    def _metrics_port_env(self, flow: str) -> dict[str, str]:
        port = self.flow_metrics_ports.get(flow)
        return {} if port is None else {"TWIN_FLOW_METRICS_PORT": str(port)}

    def _api_ready(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200
        return False

    def _suffix_note(self) -> str:
        return f" (suffix {self.topic_suffix})" if self.topic_suffix else ""

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL), then the broker if this stack started it."""
        self.supervisor.stop_all()
        self.children.clear()
        if self.broker is not None:
            self.broker.down()
            self.broker = None
