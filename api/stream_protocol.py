"""The `/v1/stream` protocol with no I/O: subscriptions, per-connection seq, replay, coalescing.

Design (see docs/internal-contracts.md, "API message shapes"):

- Every connection has a *session* with its own gap-free `seq`. A session starts at a
  random large seq, so a `since` from a previous server instance or another session never
  falls inside this session's replay window by accident (resume then resyncs safely).
- Clients with identical subscriptions form a *group*. Each tick the group's changes are
  JSON-encoded once into a body (`GroupBatch.body`); a client's frame is only the small
  header `{"type":"delta","seq":N,` spliced in front of those shared bytes when it is sent,
  so the cost per client is a byte copy, never a JSON encode; and what a session queues or
  keeps for replay is `(seq, kind, tail)` with the group's shared tail, a reference per
  frame, not a copy.
- Each session has a bounded outbox. When it is full, new changes are folded into a
  coalescer (latest record per SKU / alert / metric key) instead of growing a backlog; once
  the client has drained its outbox it receives one coalesced delta (encoded for it alone,
  with the next seq, `"coalesced": true`). A client still lagging after `max_lag_s`, or whose
  coalesced state exceeds `max_coalesced` records, must be closed (`close_reason`).
- Every delta that consumed a seq is kept in a bounded replay buffer; `resume(since)`
  re-queues the frames after `since`, or returns False when they are gone (the caller then
  sends `resync` and a fresh snapshot, which continues the same seq numbering). A snapshot
  starts the buffer afresh and is not kept in it (it is the largest frame, and encoded for
  one session): a `since` before it resyncs.
- A disconnected session stays registered for a while (detached), still collecting changes,
  so a reconnect with `since` can resume it; only by the token that opened it, and each
  token keeps at most a bounded number of detached sessions (the oldest go first), so what a
  client leaves behind is bounded and released.
- A subscription names at most `SubscriptionLimits` SKUs and sites (`null` = all costs
  nothing per SKU): a bigger one is `SubscriptionTooLarge`.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import msgspec

from api.view import Changes, TwinView, metric_key
from twin.wire import Alert, Metric, Position, SiteMetric

Channel = Literal["positions", "alerts", "metrics"]
ALL_CHANNELS: frozenset[str] = frozenset({"positions", "alerts", "metrics"})
_SEQ_SPACE = 2**50  # JSON numbers stay exact in JavaScript below 2**53


class SubscriptionError(ValueError):
    """A subscribe request names an unknown channel or is malformed."""


class SubscriptionTooLarge(SubscriptionError):
    """A subscription names more SKUs or sites than one subscription may."""


@dataclass(frozen=True)
class SubscriptionLimits:
    """How many SKUs and sites one subscription may name."""

    max_skus: int
    max_sites: int

    def check(self, skus: list[str] | None, sites: list[str] | None) -> None:
        for what, names, most in (("SKUs", skus, self.max_skus), ("sites", sites, self.max_sites)):
            if names is not None and len(names) > most:
                raise SubscriptionTooLarge(
                    f"subscription too large: {len(names)} {what}, at most {most} per "
                    f"subscription (subscribe to all {what} with null instead)"
                )


@dataclass(frozen=True)
class Subscription:
    """What a client wants; `None` means everything. Hashable: it is the group key."""

    skus: frozenset[str] | None = None
    sites: frozenset[str] | None = None
    channels: frozenset[str] = ALL_CHANNELS

    @classmethod
    def build(
        cls,
        skus: Iterable[str] | None = None,
        sites: Iterable[str] | None = None,
        channels: Iterable[str] | None = None,
        *,
        limits: SubscriptionLimits | None = None,
    ) -> Subscription:
        if limits is not None:
            skus = list(skus) if skus is not None else None
            sites = list(sites) if sites is not None else None
            limits.check(skus, sites)
        chans = frozenset(channels) if channels is not None else ALL_CHANNELS
        unknown = chans - ALL_CHANNELS
        if unknown:
            raise SubscriptionError(f"unknown channel(s): {', '.join(sorted(unknown))}")
        return cls(
            skus=frozenset(skus) if skus is not None else None,
            sites=frozenset(sites) if sites is not None else None,
            channels=chans,
        )

    def wants_position(self, pos: Position) -> bool:
        if "positions" not in self.channels:
            return False
        if self.skus is not None and pos.sku not in self.skus:
            return False
        return self.sites is None or any(site in self.sites for site in pos.sites)

    def wants_alert(self, alert: Alert) -> bool:
        if "alerts" not in self.channels:
            return False
        if self.skus is not None and alert.sku is not None and alert.sku not in self.skus:
            return False
        return self.sites is None or alert.site is None or alert.site in self.sites

    def wants_metric(self, metric: Metric) -> bool:
        if "metrics" not in self.channels:
            return False
        if self.sites is not None and metric.site not in self.sites:
            return False
        if isinstance(metric, SiteMetric):
            return True
        return self.skus is None or metric.sku in self.skus


class _DeltaBody(msgspec.Struct):
    positions: list[Position]
    alerts: list[Alert]
    metrics: list[Metric]


class _CoalescedBody(msgspec.Struct):
    coalesced: bool
    positions: list[Position]
    alerts: list[Alert]
    metrics: list[Metric]


class _SnapshotBody(msgspec.Struct):
    session: str
    positions: list[Position]
    alerts: list[Alert]
    sites: list[SiteMetric]


_encoder = msgspec.json.Encoder()


def _tail(body: bytes) -> str:
    """An encoded JSON object without its opening brace, as text (decoded once per group)."""
    return body[1:].decode()


def _frame(kind: str, seq: int, tail: str) -> str:
    """Put `{"type":kind,"seq":seq,` in front of a shared tail: one copy, no JSON encoding.

    Text, because browsers' `JSON.parse(event.data)` needs text frames; the ASGI server
    takes `str` for those.
    """
    return f'{{"type":"{kind}","seq":{seq},' + tail


@dataclass
class GroupBatch:
    """One tick's changes for one subscription group, encoded once."""

    changes: Changes
    body: bytes
    count: int
    tail: str = ""

    def __post_init__(self) -> None:
        self.tail = _tail(self.body)


def build_batch(sub: Subscription, changes: Changes) -> GroupBatch | None:
    """Filter a tick's changes for a group and encode them once; None when nothing is left."""
    filtered = Changes(
        positions={k: p for k, p in changes.positions.items() if sub.wants_position(p)},
        alerts={k: a for k, a in changes.alerts.items() if sub.wants_alert(a)},
        metrics={k: m for k, m in changes.metrics.items() if sub.wants_metric(m)},
    )
    if not filtered:
        return None
    body = _encoder.encode(
        _DeltaBody(
            list(filtered.positions.values()),
            list(filtered.alerts.values()),
            list(filtered.metrics.values()),
        )
    )
    count = len(filtered.positions) + len(filtered.alerts) + len(filtered.metrics)
    return GroupBatch(filtered, body, count)


def snapshot_body(view: TwinView, sub: Subscription, session_id: str) -> bytes:
    """The subscribed state now, as a snapshot body (without type/seq)."""
    positions = [p for p in view.positions.values() if sub.wants_position(p)]
    alerts = [a for a in view.open_alerts.values() if sub.wants_alert(a)]
    sites = (
        [m for m in view.site_metrics.values() if sub.wants_metric(m)]
        if "metrics" in sub.channels
        else []
    )
    return _encoder.encode(_SnapshotBody(session_id, positions, alerts, sites))


def control_frame(kind: str, **fields: object) -> str:
    """A frame that consumes no seq: heartbeat, pong, resync, error."""
    return _encoder.encode({"type": kind, **fields}).decode()


class ClientSession:
    """One client's stream state: seq, outbox, replay buffer, coalescer. No I/O."""

    def __init__(
        self,
        session_id: str,
        subscription: Subscription,
        *,
        owner: str = "",
        first_seq: int,
        max_queue: int,
        replay_size: int,
        max_coalesced: int,
        max_lag_s: float,
    ) -> None:
        self.id = session_id
        self.owner = owner  # who may resume it (the token that opened it)
        self.subscription = subscription
        self.next_seq = first_seq
        self.max_queue = max_queue
        self.max_coalesced = max_coalesced
        self.max_lag_s = max_lag_s
        # (seq, kind, tail): the frame is built from these when it is sent.
        self.outbox: deque[tuple[int, str, str]] = deque()
        self.control: deque[str] = deque()
        self.replay: deque[tuple[int, str, str]] = deque(maxlen=replay_size)
        self.coalesced: Changes | None = None
        self.lagging_since: float | None = None
        self.detached_at: float | None = None
        self.frames_coalesced = 0

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1

    def _emit(self, kind: str, tail: str, *, replayable: bool = True) -> None:
        entry = (self.next_seq, kind, tail)
        self.next_seq += 1
        self.outbox.append(entry)
        if replayable:
            self.replay.append(entry)

    def snapshot(self, body: bytes) -> None:
        """Start (or restart) the stream from a snapshot; earlier output is moot."""
        self.outbox.clear()
        self.replay.clear()
        self.coalesced = None
        self.lagging_since = None
        self._emit("snapshot", _tail(body), replayable=False)

    def offer(self, batch: GroupBatch, now: float) -> None:
        """Queue a tick's group batch, or fold it into the coalescer when the outbox is full."""
        if self.coalesced is None and len(self.outbox) < self.max_queue:
            self._emit("delta", batch.tail)
            return
        if self.coalesced is None:
            self.coalesced = Changes()
            self.lagging_since = now
        self.coalesced.merge(batch.changes)
        self.frames_coalesced += 1

    def push_control(self, frame: str) -> None:
        # Control frames are few (heartbeat, pong) and bounded by the caller's cadence.
        if len(self.control) < 8:
            self.control.append(frame)

    def take(self) -> str | None:
        """The next frame to send, or None when there is nothing to send now."""
        if self.control:
            return self.control.popleft()
        if self.outbox:
            seq, kind, tail = self.outbox.popleft()
            return _frame(kind, seq, tail)
        if self.coalesced is not None:
            changes, self.coalesced = self.coalesced, None
            self.lagging_since = None
            body = _encoder.encode(
                _CoalescedBody(
                    True,
                    list(changes.positions.values()),
                    list(changes.alerts.values()),
                    list(changes.metrics.values()),
                )
            )
            return self._take_emitted("delta", _tail(body))
        return None

    def _take_emitted(self, kind: str, tail: str) -> str:
        self._emit(kind, tail)
        seq, kind, tail = self.outbox.pop()
        return _frame(kind, seq, tail)

    def has_output(self) -> bool:
        return bool(self.control or self.outbox or self.coalesced is not None)

    def close_reason(self, now: float) -> str | None:
        """Why this client must be closed as a slow consumer, or None while it keeps up."""
        if self.coalesced is None or self.detached_at is not None:
            return None
        size = len(self.coalesced.positions) + len(self.coalesced.alerts)
        size += len(self.coalesced.metrics)
        if size > self.max_coalesced:
            return f"slow consumer: {size} coalesced records pending"
        if self.lagging_since is not None and now - self.lagging_since > self.max_lag_s:
            return f"slow consumer: more than {self.max_lag_s:g}s behind"
        return None

    def resume(self, since: int) -> bool:
        """Re-queue every frame after `since`; False when they are no longer in the buffer."""
        if since > self.last_seq:
            return False
        if since == self.last_seq:
            self.outbox.clear()
            return True
        if not self.replay or self.replay[0][0] > since + 1:
            return False
        self.outbox = deque(entry for entry in self.replay if entry[0] > since)
        return True

    def covers(self, since: int) -> bool:
        """Whether `since` belongs to this session's numbering and can still be resumed."""
        if since == self.last_seq:
            return True
        return bool(self.replay) and self.replay[0][0] - 1 <= since < self.last_seq


class SessionRegistry:
    """All sessions, grouped by subscription; finds a detached session to resume."""

    def __init__(self, rng: random.Random, **session_options: object) -> None:
        self._rng = rng
        self._options = session_options
        self.sessions: dict[str, ClientSession] = {}
        self.groups: dict[Subscription, set[ClientSession]] = {}
        # Detached sessions per owner, oldest first (dicts keep insertion order).
        self.detached: dict[str, dict[str, ClientSession]] = {}
        # SKUs named by all sessions' subscriptions (what large subscriptions cost).
        self.subscribed_skus = 0

    def new_session(self, subscription: Subscription, owner: str = "") -> ClientSession:
        session_id = f"{self._rng.getrandbits(64):016x}"
        first_seq = self._rng.randrange(1, _SEQ_SPACE)
        session = ClientSession(
            session_id,
            subscription,
            owner=owner,
            first_seq=first_seq,
            **self._options,  # type: ignore[arg-type]
        )
        self.sessions[session_id] = session
        self._link(session)
        return session

    def find_resumable(
        self,
        subscription: Subscription,
        since: int,
        session_id: str | None = None,
        owner: str = "",
    ) -> ClientSession | None:
        """A detached session of this owner and subscription whose numbering holds `since`."""
        if session_id is not None:
            candidates: Iterable[ClientSession] = (
                [self.sessions[session_id]] if (session_id in self.sessions) else []
            )
        else:
            candidates = self.detached.get(owner, {}).values()
        for session in candidates:
            if (
                session.detached_at is not None
                and session.owner == owner
                and session.subscription == subscription
                and session.covers(since)
            ):
                return session
        return None

    def detach(self, session: ClientSession, now: float, keep: int) -> list[ClientSession]:
        """Keep a closed client's session resumable; its owner keeps at most `keep` of them.

        Returns the sessions dropped to make room (the owner's oldest).
        """
        session.detached_at = now
        mine = self.detached.setdefault(session.owner, {})
        mine[session.id] = session
        dropped: list[ClientSession] = []
        while len(mine) > keep:
            oldest = next(iter(mine.values()))
            self.remove(oldest)
            dropped.append(oldest)
        return dropped

    def reattach(self, session: ClientSession) -> None:
        session.detached_at = None
        self._forget_detached(session)

    def move(self, session: ClientSession, subscription: Subscription) -> None:
        self._unlink(session)
        session.subscription = subscription
        self._link(session)

    def remove(self, session: ClientSession) -> None:
        self._unlink(session)
        self._forget_detached(session)
        self.sessions.pop(session.id, None)

    def _link(self, session: ClientSession) -> None:
        self.groups.setdefault(session.subscription, set()).add(session)
        self.subscribed_skus += len(session.subscription.skus or ())

    def _unlink(self, session: ClientSession) -> None:
        members = self.groups.get(session.subscription)
        if members is not None and session in members:
            members.discard(session)
            self.subscribed_skus -= len(session.subscription.skus or ())
            if not members:
                del self.groups[session.subscription]

    def _forget_detached(self, session: ClientSession) -> None:
        mine = self.detached.get(session.owner)
        if mine is not None and mine.pop(session.id, None) is not None and not mine:
            del self.detached[session.owner]

    def detached_count(self) -> int:
        return sum(len(mine) for mine in self.detached.values())

    def expire(self, now: float, ttl_s: float) -> list[ClientSession]:
        """Drop sessions detached for longer than the TTL."""
        gone = [
            s
            for mine in self.detached.values()
            for s in mine.values()
            if s.detached_at is not None and now - s.detached_at > ttl_s
        ]
        for session in gone:
            self.remove(session)
        return gone

    def fan_out(self, changes: Changes, now: float) -> list[tuple[ClientSession, int]]:
        """Offer one tick's changes to every session, encoding once per group."""
        touched: list[tuple[ClientSession, int]] = []
        if not changes:
            return touched
        for subscription, members in self.groups.items():
            batch = build_batch(subscription, changes)
            if batch is None:
                continue
            for session in members:
                session.offer(batch, now)
                touched.append((session, batch.count))
        return touched


__all__ = [
    "ALL_CHANNELS",
    "ClientSession",
    "GroupBatch",
    "SessionRegistry",
    "Subscription",
    "SubscriptionError",
    "SubscriptionLimits",
    "SubscriptionTooLarge",
    "build_batch",
    "control_frame",
    "metric_key",
    "snapshot_body",
]
