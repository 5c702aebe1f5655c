"""Throw-away brokers on free ports with their own data dir, for tests that kill brokers.

Resilience tests and benchmarks must never kill the shared development broker; they start
one of these instead (`start_dedicated_broker(tmp_dir)`) and stop it when done.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

from infra.broker import LocalBroker
from infra.settings import LOOPBACK, BrokerSettings


def free_ports(count: int) -> list[int]:
    """Ports the OS says are free right now (held open together so they are distinct)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((LOOPBACK, 0))
        return [sock.getsockname()[1] for sock in socks]


def dedicated_broker(home: Path, heap: str = "384m") -> LocalBroker:
    """A broker (not started) on two free ports, keeping everything under `home`."""
    port, controller_port = free_ports(2)
    settings = BrokerSettings(
        state_dir=home,
        kafka_bootstrap=f"{LOOPBACK}:{port}",
        kafka_port=port,
        kafka_controller_port=controller_port,
        kafka_heap=heap,
    )
    # A short broker session: a restart after SIGKILL is accepted ~3 s after the crash
    # instead of 9 s. Fine for a private broker; the shared one keeps the safer default.
    return LocalBroker(settings, session_timeout_ms=3000, quick_start=True)


@contextlib.contextmanager
def running_dedicated_broker(home: Path, heap: str = "384m") -> Iterator[LocalBroker]:
    """Start a dedicated broker, yield it, then kill it and remove its data."""
    broker = dedicated_broker(home, heap)
    try:
        broker.up()
        yield broker
    finally:
        stop_and_discard(broker)


def stop_and_discard(broker: LocalBroker) -> None:
    """Kill a dedicated broker (its data is thrown away, so no clean shutdown is needed)."""
    if broker.pid() is not None:
        broker.kill()
    broker.state_file.unlink(missing_ok=True)
    shutil.rmtree(broker.layout.data_dir, ignore_errors=True)
