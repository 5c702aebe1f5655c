"""The asyncio side of `/v1/stream`: the tick loop and one sender per connection.

All protocol decisions live in `api.stream_protocol`; this module only moves frames:
every `tick_s` it drains the view's changes, lets the registry encode them once per group
and queue them per session, and wakes the senders. A sender awaits its own socket, so a
slow client only ever delays itself. Clients the protocol declares too slow are closed
with 4408 by cancelling their sender; any other close by rule (`close`) goes the same way.

What a connection leaves behind is bounded and released: its session is dropped at once
when it was closed by rule, else kept detached (resumable by its token) until the TTL, at
most `detached_per_owner` per token. The `invtwin_ws_sessions` and
`invtwin_ws_subscribed_skus` gauges show what is held.
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

from api.problems import WS_SLOW_CONSUMER
from api.stream_protocol import (
    ClientSession,
    SessionRegistry,
    Subscription,
    control_frame,
    snapshot_body,
)
from api.telemetry import ApiMetrics
from api.view import TwinView
from api.ws_limits import Refusal
from infra.clock import utc_now

log = logging.getLogger("api.stream")

SendText = Callable[[str], Awaitable[None]]


@dataclass
class Connection:
    """A live socket bound to a session; `wake` tells its sender there is output."""

    session: ClientSession
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Set when the server closes this connection by rule (slow consumer, limits).
    close_code: int | None = None
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
        detached_per_owner: int = 200,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.view = view
        self.metrics = metrics
        self.clock = clock  # the domain clock the flows date positions on (view lag)
        self.tick_s = tick_s
        self.heartbeat_s = heartbeat_s
        self.session_ttl_s = session_ttl_s
        self.detached_per_owner = detached_per_owner
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
        self,
        subscription: Subscription,
        since: int | None,
        session_id: str | None,
        owner: str = "",
    ) -> tuple[Connection, bool]:
        """Attach a connection: resume a detached session when possible, else snapshot.

        `owner` (the caller's token) is the only one who may resume the session later.
        Returns the connection and whether a resync was needed (since given, not resumable).
        """
        resync = False
        session = None
        self._observe_subscription(subscription)
        if since is not None:
            session = self.registry.find_resumable(subscription, since, session_id, owner)
            if session is not None and session.resume(since):
                self.registry.reattach(session)
            else:
                session, resync = None, True
        if session is None:
            # Hand out what the view changed since the last tick first: the snapshot then
            # includes it, and no later delta repeats a state older than the snapshot.
            self._fan_out_changes(time.monotonic())
            session = self.registry.new_session(subscription, owner)
            if resync:
                session.push_control(control_frame("resync", reason=_resync_reason(since)))
            session.snapshot(snapshot_body(self.view, subscription, session.id))
        conn = Connection(session)
        self.connections[session.id] = conn
        self._observe_registry()
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
        self._observe_subscription(subscription)
        self._fan_out_changes(time.monotonic())
        self.registry.move(session, subscription)
        session.snapshot(snapshot_body(self.view, subscription, session.id))
        self._observe_registry()
        conn.wake.set()

    def detach(self, conn: Connection) -> None:
        """The socket is gone; keep the session for a while so `since` can resume it.

        A connection closed by rule is not resumed: its session goes at once.
        """
        self.connections.pop(conn.session.id, None)
        if conn.close_code is not None or self.session_ttl_s <= 0:
            self.registry.remove(conn.session)
        else:
            self.registry.detach(conn.session, time.monotonic(), self.detached_per_owner)
        self._observe_registry()

    def close(self, conn: Connection, refusal: Refusal) -> None:
        """Close a connection by rule: its sender stops; the route sends the close frame."""
        if conn.close_code is not None:
            return
        conn.close_code, conn.close_reason = refusal.code, refusal.reason
        self.metrics.ws_refused.labels(str(refusal.code), refusal.kind).inc()
        if conn.sender is not None:
            conn.sender.cancel()

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
        if self.registry.expire(now, self.session_ttl_s):
            self._observe_registry()
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
            if conn.close_code is not None:
                continue
            reason = conn.session.close_reason(now)
            if reason is None:
                continue
            self.metrics.ws_slow_closed.inc()
            log.warning("closing slow client", extra={"session": conn.session.id, "reason": reason})
            self.close(conn, Refusal(WS_SLOW_CONSUMER, reason, "slow_consumer"))

    def _observe_subscription(self, subscription: Subscription) -> None:
        if subscription.skus is not None:
            self.metrics.ws_subscription_skus.observe(len(subscription.skus))

    def _observe_registry(self) -> None:
        """What the stream holds now: sessions attached and detached, SKUs subscribed."""
        self.metrics.ws_clients.set(len(self.connections))
        self.metrics.ws_sessions.labels("attached").set(len(self.connections))
        self.metrics.ws_sessions.labels("detached").set(self.registry.detached_count())
        self.metrics.ws_subscribed_skus.set(self.registry.subscribed_skus)

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
