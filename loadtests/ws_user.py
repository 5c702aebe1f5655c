"""A Locust user that holds a `/v1/stream` WebSocket and reports delivery latency.

Every position delta is reported through Locust's request event as type `WS`, name
`positions delta`, with response time = its arrival - the instant the twin published it: the
position's `as_of` is on the stack's domain clock (600 x the wall clock in the demo), so it is
turned back into wall time with that clock, learned from the API (`loadtests.stack_clock`).
This needs the load generator's clock to agree with the twin's hosts (NTP); the figure that
needs no such agreement is `ingest to visible` (`loadtests.probe_user`). A delivery dated
more than `CLOCK_TOLERANCE_MS` in the future is a failure, never read as 0 ms: the clocks
disagree. A gap in `seq` or an unexpected close is a failure too, so it counts in the failure
ratio.
"""

from __future__ import annotations

import random
import time
from urllib.parse import urlencode, urlsplit

import websocket
from locust import User, constant, task

from infra.clock import utc_now
from loadtests.stack_clock import stack_clock_of, wall_time_of
from loadtests.users import catalog_of
from loadtests.visibility import decode_frame

RECV_TIMEOUT_S = 1.0
# Half a round trip of the request the stack's clock was learned from, and then some.
CLOCK_TOLERANCE_MS = 50.0


def stream_url(host: str, token: str, skus: list[str], channels: str = "positions,alerts") -> str:
    parts = urlsplit(host)
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = urlencode({"token": token, "channels": channels, "skus": ",".join(skus)})
    return f"{scheme}://{parts.netloc}/v1/stream?{query}"


class StreamUser(User):
    """A dashboard tab: subscribes to some SKUs and all alerts, and keeps reading."""

    weight = 1
    wait_time = constant(0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        skus = random.sample(catalog_of(self).sku_ids(), k=options.ws_skus)
        self.url = stream_url(self.host or "", options.viewer_token, skus)
        self.clock = stack_clock_of(self)
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
        frame = decode_frame(raw)
        kind = frame.type
        if kind == "snapshot":
            self.last_seq = frame.seq
            self.report("snapshot", started, len(raw))
        elif kind == "delta":
            seq = frame.seq
            if self.last_seq is not None and seq != self.last_seq + 1:
                self.report("seq gap", started, error=RuntimeError(f"{self.last_seq} → {seq}"))
            self.last_seq = seq
            now = utc_now()
            for position in frame.positions:
                published = wall_time_of(self.clock, position.as_of)
                latency_ms = (now - published).total_seconds() * 1000
                if latency_ms < -CLOCK_TOLERANCE_MS:
                    ahead = RuntimeError(
                        f"as_of {-latency_ms:.0f} ms ahead of this machine's clock: the load "
                        "generator's and the twin's clocks disagree"
                    )
                    self.report("positions delta", started, len(raw), error=ahead)
                    continue
                # within the clock estimate's own error: at most CLOCK_TOLERANCE_MS early
                latency_ms = max(0.0, latency_ms)
                self.report("positions delta", started, len(raw), response_time_ms=latency_ms)
        # A heartbeat carries the last seq the server *assigned*, which may belong to a delta
        # still on its way: it consumes none and says nothing about gaps, so it is ignored.
        elif kind == "resync":
            self.last_seq = None
