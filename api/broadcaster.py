"""The asyncio side of `/v1/stream`: the tick loop and one sender per connection.

All protocol decisions live in `api.stream_protocol`; this module only moves frames:
every `tick_s` it drains the view's changes, lets the registry encode them once per group
and queue them per session, and wakes the senders. A sender awaits its own socket, so a
slow client only ever delays itself. Clients the protocol declares too slow are closed
with 4408 by cancelling their sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from api.stream_protocol import (
    ClientSession,
    SessionRegistry,
    Subscription,
    control_frame,
    snapshot_body,
)
from api.telemetry import ApiMetrics
from api.view import TwinView
from infra.clock import utc_now

log = logging.getLogger("api.stream")

SendText = Callable[[str], Awaitable[None]]


@dataclass
class Connection:
    """A live socket bound to a session; `wake` tells its sender there is output."""

    session: ClientSession
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    close_reason: str | None = None
    sender: asyncio.Task[None] | None = None
    # When a tick first handed this connection output it has not fully sent yet.
    pending_since: float | None = None


class Broadcaster:
    """Owns the session registry and the tick loop of one app."""

    def __init__(
        self,
        view: TwinView,
        metrics: ApiMetrics,
        *,
        tick_s: float,
        heartbeat_s: float,
        session_ttl_s: float,
        max_queue: int,
        replay_size: int,
        max_coalesced: int,
        max_lag_s: float,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.view = view
        self.metrics = metrics
        self.clock = clock  # the domain clock the flows date positions on (view lag)
        self.tick_s = tick_s
        self.heartbeat_s = heartbeat_s
        self.session_ttl_s = session_ttl_s
        self.registry = SessionRegistry(
            rng or random.Random(),
            max_queue=max_queue,
            replay_size=replay_size,
            max_coalesced=max_coalesced,
            max_lag_s=max_lag_s,
        )
        self.connections: dict[str, Connection] = {}
        self._last_heartbeat = time.monotonic()

    # -- connections ---------------------------------------------------------------------

    def open(
        self, subscription: Subscription, since: int | None, session_id: str | None
    ) -> tuple[Connection, bool]:
        """Attach a connection: resume a detached session when possible, else snapshot.

        Returns the connection and whether a resync was needed (since given, not resumable).
        """
        resync = False
        session = None
        if since is not None:
            session = self.registry.find_resumable(subscription, since, session_id)
            if session is not None and session.resume(since):
                session.detached_at = None
            else:
                session, resync = None, True
        if session is None:
            # Hand out what the view changed since the last tick first: the snapshot then
            # includes it, and no later delta repeats a state older than the snapshot.
            self._fan_out_changes(time.monotonic())
            session = self.registry.new_session(subscription)
            if resync:
                session.push_control(control_frame("resync", reason=_resync_reason(since)))
            session.snapshot(snapshot_body(self.view, subscription, session.id))
        conn = Connection(session)
        self.connections[session.id] = conn
        self.metrics.ws_clients.set(len(self.connections))
        conn.wake.set()
        return conn, resync

    def resubscribe(self, conn: Connection, subscription: Subscription, since: int | None) -> None:
        """A `subscribe` message on an open connection: new filter, fresh snapshot."""
        session = conn.session
        if since is not None and subscription == session.subscription and session.resume(since):
            conn.wake.set()
            return
        if since is not None and since != session.last_seq:
            session.push_control(control_frame("resync", reason=_resync_reason(since)))
        self._fan_out_changes(time.monotonic())
        self.registry.move(session, subscription)
        session.snapshot(snapshot_body(self.view, subscription, session.id))
        conn.wake.set()

    def detach(self, conn: Connection) -> None:
        """The socket is gone; keep the session for a while so `since` can resume it."""
        self.connections.pop(conn.session.id, None)
        self.metrics.ws_clients.set(len(self.connections))
        if conn.close_reason is not None or self.session_ttl_s <= 0:
            self.registry.remove(conn.session)
        else:
            conn.session.detached_at = time.monotonic()

    def pong(self, conn: Connection) -> None:
        conn.session.push_control(control_frame("pong", server_time=_now_iso()))
        conn.wake.set()

    async def send_loop(self, conn: Connection, send: SendText) -> None:
        """Send this connection's frames as fast as its socket takes them."""
        session = conn.session
        while True:
            frame = session.take()
            if frame is None:
                if conn.pending_since is not None:
                    # Fan-out lag: from the tick to this client's last frame written.
                    self.metrics.fanout_lag_seconds.observe(time.monotonic() - conn.pending_since)
                    conn.pending_since = None
                conn.wake.clear()
                await conn.wake.wait()
                continue
            await send(frame)

    # -- the tick ------------------------------------------------------------------------

    async def run(self) -> None:
        """Tick forever (cancelled at shutdown)."""
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                self.tick(time.monotonic())
            except Exception:  # one bad tick must not stop the stream
                log.exception("stream tick failed")

    def tick(self, now: float) -> None:
        self._fan_out_changes(now)
        if now - self._last_heartbeat >= self.heartbeat_s:
            self._last_heartbeat = now
            self._heartbeat()
        self._close_slow(now)
        self.registry.expire(now, self.session_ttl_s)
        self._observe_view_lag()

    def _fan_out_changes(self, now: float) -> None:
        """Drain the view's changes into every session's queue and wake their senders."""
        started = time.perf_counter()
        changes = self.view.drain_changes()
        if not changes:
            return
        for session, _count in self.registry.fan_out(changes, now):
            conn = self.connections.get(session.id)
            if conn is not None:
                if conn.pending_since is None:
                    conn.pending_since = now
                conn.wake.set()
        self.metrics.fanout_seconds.observe(time.perf_counter() - started)

    def _heartbeat(self) -> None:
        server_time = _now_iso()
        for conn in self.connections.values():
            frame = control_frame("heartbeat", seq=conn.session.last_seq, server_time=server_time)
            conn.session.push_control(frame)
            conn.wake.set()

    def _close_slow(self, now: float) -> None:
        for conn in list(self.connections.values()):
            if conn.close_reason is not None:
                continue
            reason = conn.session.close_reason(now)
            if reason is None:
                continue
            conn.close_reason = reason
            self.metrics.ws_slow_closed.inc()
            log.warning("closing slow client", extra={"session": conn.session.id, "reason": reason})
            if conn.sender is not None:
                conn.sender.cancel()

    def _observe_view_lag(self) -> None:
        as_of = self.view.last_position_as_of
        if as_of is not None:
            lag = (self.clock() - as_of).total_seconds()
            self.metrics.view_lag_seconds.set(max(0.0, lag))

    async def close_all(self) -> None:
        for conn in list(self.connections.values()):
            if conn.sender is not None:
                conn.sender.cancel()
                with contextlib.suppress(BaseException):
                    await conn.sender


def _resync_reason(since: int | None) -> str:
    return f"cannot resume from seq {since}: not in the replay buffer; sending a fresh snapshot"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
