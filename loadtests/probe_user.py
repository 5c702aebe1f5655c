"""A Locust user that times ingest to visible: it posts an event and waits until a WebSocket
subscriber is shown it (`loadtests.visibility` says which event and which frame).

Reported as request type `WS`, name `ingest to visible`, response time = the load generator's
wall time (monotonic) from just before the POST to the frame that shows the event. An event
not shown within `--visible-timeout-s` is a failure with that wait as its time, so a stack
that loses or stalls events breaks both the failure ratio and the `--max-visible-p95-ms`
threshold. The POST itself is reported as `/v1/events (probe)`.

How many run: `--probe-users` (a fixed count, outside the weights of the other users).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import msgspec
import websocket
from locust import FastHttpUser, between, task

from loadtests.stack_clock import stack_clock_of
from loadtests.users import catalog_of
from loadtests.visibility import VisibilityProbe, decode_frame
from loadtests.ws_user import stream_url

REQUEST_NAME = "ingest to visible"
RECV_SLICE_S = 1.0  # wake up at least this often to check the deadline


class VisibilityProbeUser(FastHttpUser):
    """One SKU-site of the probe SKUs, one event in flight at a time."""

    fixed_count = 1  # set from --probe-users when Locust starts (loadtests.locustfile)
    wait_time = between(0.2, 0.6)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        catalog = catalog_of(self)
        sku, uom = random.choice(catalog.probe_skus)
        site = random.choice(catalog.sites)
        self.probe = VisibilityProbe(sku, uom, site, clock=stack_clock_of(self))
        self.timeout_s = float(options.visible_timeout_s)
        self.auth = {
            "Authorization": f"Bearer {options.ingest_token}",
            "Content-Type": "application/json",
        }
        self.url = stream_url(self.host or "", options.viewer_token, [sku], "positions")
        self.socket: websocket.WebSocket | None = None
        self.connect()

    def on_stop(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    def connect(self) -> None:
        """Subscribe to the probe's SKU; its snapshot tells the latest event time there."""
        try:
            self.socket = websocket.create_connection(self.url, timeout=10)
            self.socket.settimeout(RECV_SLICE_S)
            self.wait_for(lambda: False, time.perf_counter() + 5.0, until_snapshot=True)
        except Exception as exc:  # a failed subscription counts, and is retried next task
            self.socket = None
            self.fire("probe stream", 0.0, exc)

    @task
    def measure(self) -> None:
        if self.socket is None:
            self.connect()
            return
        event = self.probe.next_event()
        started = time.perf_counter()
        with self.client.post(
            "/v1/events",
            data=msgspec.json.encode(event),
            headers=self.auth,
            name="/v1/events (probe)",
            catch_response=True,
        ) as response:
            if response.status_code != 202:
                response.failure(f"status {response.status_code}: {(response.text or '')[:200]}")
                self.probe.abandon()
                return
            response.success()
        deadline = started + self.timeout_s
        try:
            shown = self.wait_for(lambda: self.probe.pending is None, deadline)
        except Exception as exc:  # the stream broke: this measurement is lost, reconnect
            self.socket = None
            self.probe.abandon()
            self.fire("probe stream", (time.perf_counter() - started) * 1000, exc)
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        if shown:
            self.fire(REQUEST_NAME, elapsed_ms)
        else:
            self.probe.abandon()
            self.fire(
                REQUEST_NAME, elapsed_ms, TimeoutError(f"not visible after {self.timeout_s:g} s")
            )

    def wait_for(
        self, done: Callable[[], bool], deadline: float, *, until_snapshot: bool = False
    ) -> bool:
        """Read frames, feeding every position to the probe, until `done()` (or a snapshot
        when `until_snapshot`); False when the deadline passes first."""
        assert self.socket is not None
        while time.perf_counter() < deadline:
            try:
                raw = self.socket.recv()
            except websocket.WebSocketTimeoutException:
                continue
            frame = decode_frame(raw)
            for position in frame.positions:
                self.probe.observe(position)
            if until_snapshot and frame.type == "snapshot":
                return True
            if done():
                return True
        return False

    def fire(self, name: str, response_time_ms: float, error: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=response_time_ms,
            response_length=0,
            exception=error,
            context={},
        )
