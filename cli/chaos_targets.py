"""What a chaos soak can hit: each broker node, each flow process and the API process.

A `Target` knows how to crash its process (SIGKILL), freeze it (SIGSTOP) and thaw it
(SIGCONT), start it again after a crash, and tell when it serves again: a broker accepts
connections on its port, a flow answers `/healthz` on its metrics port, the API answers
`/readyz`. The soak only ever talks to targets, never to processes directly.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx

from cli.stack import Stack
from infra.broker import LocalBroker
from infra.cluster import LocalCluster
from infra.probe import port_open

TargetKind = Literal["broker", "flow", "api"]
FLOWS = ("normalize", "twin")


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    name: str
    send: Callable[[signal.Signals], None]  # a signal to the whole process
    start_again: Callable[[], object]  # after a crash: start it as it was started
    serving: Callable[[], bool]  # does it do its job again?

    def crash(self) -> None:
        self.send(signal.SIGKILL)

    def freeze(self) -> None:
        self.send(signal.SIGSTOP)

    def thaw(self) -> None:
        self.send(signal.SIGCONT)


def broker_targets(cluster: LocalCluster) -> list[Target]:
    return [_broker_target(node, n) for n, node in enumerate(cluster.nodes, start=1)]


def _broker_target(node: LocalBroker, number: int) -> Target:
    host, _, port = node.bootstrap.rpartition(":")

    def send(sig: signal.Signals) -> None:
        if sig == signal.SIGKILL:
            node.kill()  # and waits until the JVM is gone, so it can start again at once
            return
        pid = node.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    return Target(
        kind="broker",
        name=f"broker-{number}",
        send=send,
        start_again=node.launch,  # a node answers once it rejoined the running majority
        serving=lambda: node.pid() is not None and port_open(host, int(port)),
    )


def stack_targets(stack: Stack, api_token: str) -> list[Target]:
    targets = [_child_target(stack, flow, _flow_serving(stack, flow)) for flow in FLOWS]
    targets.append(_child_target(stack, "api", _api_serving(stack, api_token)))
    return targets


def _child_target(stack: Stack, name: str, serving: Callable[[], bool]) -> Target:
    kind: TargetKind = "api" if name == "api" else "flow"

    def send(sig: signal.Signals) -> None:
        stack.supervisor.signal(stack.children[name], sig)

    def start_again() -> None:
        stack.children[name].process.wait(timeout=30)  # reap it, so its ports are free
        stack.restart(name)

    return Target(
        kind=kind,
        name=name if kind == "api" else f"flow-{name}",
        send=send,
        start_again=start_again,
        serving=lambda: stack.children[name].alive() and serving(),
    )


def _flow_serving(stack: Stack, flow: str) -> Callable[[], bool]:
    port = stack.flow_metrics_ports[flow]
    return lambda: _http_ok(f"http://127.0.0.1:{port}/healthz", None)


def _api_serving(stack: Stack, token: str) -> Callable[[], bool]:
    return lambda: _http_ok(f"{stack.url}/readyz", token)


def _http_ok(url: str, token: str | None) -> bool:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, headers=headers, timeout=1.0).status_code == 200
    return False
