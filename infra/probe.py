"""Asks a TCP port whether a Kafka broker is there, without any client library noise.

`speaks_kafka` sends one ApiVersions (v0) request by hand: a Kafka broker answers with the
same correlation id within milliseconds, anything else (an HTTP server, sshd) does not. That
tells "port taken by something else" apart from "a broker is already running" quickly.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

from confluent_kafka.admin import AdminClient

from infra.kafka_security import security_config

_API_VERSIONS = 18
_CORRELATION_ID = 0x7717


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def speaks_kafka(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when host:port answers a Kafka ApiVersions request."""
    client_id = b"invtwin-probe"
    body = struct.pack(">hhih", _API_VERSIONS, 0, _CORRELATION_ID, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exactly(sock, 8)
    except OSError:
        return False
    if header is None:
        return False
    size, correlation_id = struct.unpack(">ii", header)
    return bool(correlation_id == _CORRELATION_ID and 0 < size < 1_000_000)


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def quiet_admin(bootstrap: str) -> AdminClient:
    """An AdminClient that does not print connection-refused noise while a broker starts."""
    return AdminClient(admin_config(bootstrap))


def admin_config(bootstrap: str) -> dict[str, Any]:
    """The quiet admin client's configuration, secured as every client of the project."""
    return {
        "bootstrap.servers": bootstrap,
        **security_config(),
        "log_level": 0,
        "error_cb": lambda _err: None,
    }


def metadata_ready(bootstrap: str, timeout: float) -> bool:
    """True when the cluster answers a metadata request listing at least one broker."""
    try:
        md = quiet_admin(bootstrap).list_topics(timeout=timeout)
    except Exception:  # KafkaException on timeout/transport: not ready yet
        return False
    return bool(md.brokers)


def broker_reachable(bootstrap: str, timeout: float = 15.0) -> bool:
    """True when a broker answers at bootstrap; quick when nothing listens on a local port.

    The generous timeout is for a busy machine: a broker that is merely slow must be found
    reachable, or a caller would try to start a second one on its port.
    """
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if host in ("127.0.0.1", "localhost") and port.isdigit() and not port_open(host, int(port)):
        return False
    return metadata_ready(bootstrap, timeout=timeout)


def wait_for_metadata(bootstrap: str, deadline: float) -> bool:
    """Poll until the broker answers a metadata request or the monotonic deadline passes."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if metadata_ready(bootstrap, timeout=min(remaining, 5.0)):
            return True
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
