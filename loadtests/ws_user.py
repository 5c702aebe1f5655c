"""A Locust user that holds a `/v1/stream` WebSocket and reports delivery latency.

Every position delta is reported through Locust's request event as type `WS`, name
`positions delta`, with response time = arrival - the position's `as_of` (same machine
clock): how long a change took from the twin to this subscriber. A gap in `seq` or an
unexpected close is reported as a failure, so it counts in the failure ratio.
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import websocket
from locust import User, constant, task

from loadtests.users import catalog_of

RECV_TIMEOUT_S = 1.0


def stream_url(host: str, token: str, skus: list[str]) -> str:
    parts = urlsplit(host)
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = urlencode({"token": token, "channels": "positions,alerts", "skus": ",".join(skus)})
    return f"{scheme}://{parts.netloc}/v1/stream?{query}"


class StreamUser(User):
    """A dashboard tab: subscribes to some SKUs and all alerts, and keeps reading."""

    weight = 1
    wait_time = constant(0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        skus = random.sample(catalog_of(self).sku_ids(), k=options.ws_skus)
        self.url = stream_url(self.host or "", options.viewer_token, skus)
        self.socket: websocket.WebSocket | None = None
        self.last_seq: int | None = None
        self.connect()

    def on_stop(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    def report(
        self,
        name: str,
        started: float,
        length: int = 0,
        error: Exception | None = None,
        response_time_ms: float | None = None,
    ) -> None:
        elapsed = response_time_ms
        if elapsed is None:
            elapsed = (time.perf_counter() - started) * 1000
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=elapsed,
            response_length=length,
            exception=error,
            context={},
        )

    def connect(self) -> None:
        started = time.perf_counter()
        try:
            self.socket = websocket.create_connection(self.url, timeout=10)
            self.socket.settimeout(RECV_TIMEOUT_S)
            self.last_seq = None
            self.report("connect", started)
        except Exception as exc:  # any connection error is a failed "request" in the stats
            self.socket = None
            self.report("connect", started, error=exc)

    @task
    def receive(self) -> None:
        if self.socket is None:
            self.connect()
            return
        started = time.perf_counter()
        try:
            raw = self.socket.recv()
        except websocket.WebSocketTimeoutException:
            return  # quiet period: nothing to report
        except Exception as exc:  # closed or broken: report, then reconnect on the next task
            self.report("stream closed", started, error=exc)
            self.socket = None
            return
        self.handle(raw, started)

    def handle(self, raw: str | bytes, started: float) -> None:
        message: dict[str, Any] = json.loads(raw)
        kind = message.get("type")
        if kind == "snapshot":
            self.last_seq = message["seq"]
            self.report("snapshot", started, len(raw))
        elif kind == "delta":
            seq = message["seq"]
            if self.last_seq is not None and seq != self.last_seq + 1:
                self.report("seq gap", started, error=RuntimeError(f"{self.last_seq} → {seq}"))
            self.last_seq = seq
            now = time.time()
            for position in message.get("positions", []):
                as_of = datetime.fromisoformat(position["as_of"].replace("Z", "+00:00"))
                latency_ms = max(0.0, (now - as_of.timestamp()) * 1000)
                self.report("positions delta", started, len(raw), response_time_ms=latency_ms)
        # A heartbeat carries the last seq the server *assigned*, which may belong to a delta
        # still on its way: it consumes none and says nothing about gaps, so it is ignored.
        elif kind == "resync":
            self.last_seq = None
