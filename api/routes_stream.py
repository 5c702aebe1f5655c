"""`WS /v1/stream`: admission, subscription parsing, and the per-connection tasks.

Protocol (docs/internal-contracts.md): a snapshot first (or, with `since`, the frames
after it), then deltas with a gap-free per-connection `seq`; `heartbeat` frames carry the
last seq and do not consume one; `{"type":"ping"}` is answered with `pong`; a `subscribe`
message changes the filter and is answered with a fresh snapshot. The snapshot also carries
`session`, which a client may send back with `since` to resume exactly that session.

Limits (`api.ws_limits`, README "Limits"): admission closes with 4401 / 4403 / 1013 after
`accept`; a client message over `ws_max_message_bytes` or a subscription over the SKU or
site cap (in the query, the first message or a later one) closes with 1009, and its
session is dropped at once. A malformed subscription in the query closes with 1008; a
malformed message on an open connection gets an `error` frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec
from fastapi import APIRouter, WebSocket

from api.auth import Role
from api.broadcaster import Broadcaster, Connection
from api.deps import AppState, get_state
from api.settings import ApiSettings
from api.stream_protocol import (
    Subscription,
    SubscriptionError,
    SubscriptionLimits,
    SubscriptionTooLarge,
    control_frame,
)
from api.ws_auth import (
    Disconnected,
    Refused,
    admit_websocket,
    receive_within,
    refuse,
    release_websocket,
)
from api.ws_limits import WS_MESSAGE_TOO_BIG, WS_POLICY_VIOLATION, Refusal

router = APIRouter()
log = logging.getLogger("api.stream")
_CLOSE_TIMEOUT_S = 10.0
_MAX_SINCE_DIGITS = 20  # a seq is below 2**53; longer digit strings are not a seq


class SubscribeMessage(msgspec.Struct, kw_only=True):
    type: str
    skus: list[str] | None = None
    sites: list[str] | None = None
    channels: list[str] | None = None
    since: int | None = None
    session: str | None = None


_message_decoder = msgspec.json.Decoder(SubscribeMessage)


def _limits(settings: ApiSettings) -> SubscriptionLimits:
    return SubscriptionLimits(
        settings.ws_max_skus_per_subscription, settings.ws_max_sites_per_subscription
    )


def _too_large(exc: SubscriptionTooLarge) -> Refusal:
    return Refusal(WS_MESSAGE_TOO_BIG, str(exc), "subscription_too_large")


def _refusal(exc: SubscriptionError) -> Refusal:
    """At connect, a subscription over the caps closes 1009, a malformed one 1008."""
    if isinstance(exc, SubscriptionTooLarge):
        return _too_large(exc)
    return Refusal(WS_POLICY_VIOLATION, str(exc), "bad_subscription")


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part for part in (p.strip() for p in value.split(",")) if part]


def _query_subscription(
    websocket: WebSocket, limits: SubscriptionLimits
) -> tuple[Subscription | None, int | None, str | None]:
    """Subscription, since and session from the query string; None subscription when absent."""
    q = websocket.query_params
    present = any(k in q for k in ("skus", "sites", "channels"))
    since_raw = q.get("since")
    since = None
    if since_raw is not None and since_raw.lstrip("-").isdigit():
        since = int(since_raw) if len(since_raw) <= _MAX_SINCE_DIGITS else None
    sub = None
    if present:
        sub = Subscription.build(
            skus=_split(q.get("skus")),
            sites=_split(q.get("sites")),
            channels=_split(q.get("channels")),
            limits=limits,
        )
    return sub, since, q.get("session")


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    """Live twin: subscribe by SKUs, sites, channels (viewer role)."""
    state = get_state(websocket)
    principal = await admit_websocket(websocket, state, Role.VIEWER, "stream")
    if principal is None:
        return
    try:
        await _serve(websocket, state, principal.token)
    finally:
        release_websocket(state, principal, "stream")


async def _serve(websocket: WebSocket, state: AppState, owner: str) -> None:
    settings = state.settings
    limits = _limits(settings)
    try:
        subscription, since, session_id = _query_subscription(websocket, limits)
        if subscription is None:
            first = await _first_subscribe(websocket, settings)
            subscription = _message_subscription(first, limits) if first else Subscription.build()
            if first is not None:
                since, session_id = first.since, first.session or session_id
    except Disconnected:
        return
    except Refused as refused:
        await refuse(websocket, state, refused.refusal)
        return
    except SubscriptionError as exc:
        await refuse(websocket, state, _refusal(exc))
        return
    broadcaster = state.broadcaster
    conn, _ = broadcaster.open(subscription, since, session_id, owner)
    conn.sender = asyncio.create_task(broadcaster.send_loop(conn, websocket.send_text))
    receiver = asyncio.create_task(_receive_loop(websocket, conn, broadcaster, settings))
    try:
        await asyncio.wait({conn.sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        receiver.cancel()
        conn.sender.cancel()
        with contextlib.suppress(BaseException):
            await conn.sender
        with contextlib.suppress(BaseException):
            await receiver
        broadcaster.detach(conn)
    if conn.close_code is not None:
        # The close frame queues behind what the client has not read yet; waiting here
        # costs the other clients nothing, and a client that never reads is cut after it.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                websocket.close(code=conn.close_code, reason=(conn.close_reason or "")[:120]),
                _CLOSE_TIMEOUT_S,
            )


async def _first_subscribe(websocket: WebSocket, settings: ApiSettings) -> SubscribeMessage | None:
    """Without query parameters, give the client a moment to send `subscribe` first."""
    if settings.ws_subscribe_wait_s <= 0:
        return None
    try:
        data = await asyncio.wait_for(
            receive_within(websocket, settings.ws_max_message_bytes), settings.ws_subscribe_wait_s
        )
    except TimeoutError:
        return None
    try:
        message = _message_decoder.decode(data)
    except msgspec.DecodeError:
        return None
    return message if message.type == "subscribe" else None


def _message_subscription(message: SubscribeMessage, limits: SubscriptionLimits) -> Subscription:
    return Subscription.build(message.skus, message.sites, message.channels, limits=limits)


async def _receive_loop(
    websocket: WebSocket, conn: Connection, broadcaster: Broadcaster, settings: ApiSettings
) -> None:
    """Client → server: ping and subscribe; anything else gets an `error` frame."""
    limits = _limits(settings)
    while True:
        try:
            data = await receive_within(websocket, settings.ws_max_message_bytes)
        except Disconnected:
            return
        except Refused as refused:
            broadcaster.close(conn, refused.refusal)
            return
        try:
            message = _message_decoder.decode(data)
        except msgspec.DecodeError as exc:
            _reply_error(conn, f"unreadable message: {exc}")
            continue
        if message.type == "ping":
            broadcaster.pong(conn)
        elif message.type == "subscribe":
            try:
                sub = _message_subscription(message, limits)
            except SubscriptionTooLarge as exc:
                broadcaster.close(conn, _too_large(exc))
                return
            except SubscriptionError as exc:
                _reply_error(conn, str(exc))
                continue
            broadcaster.resubscribe(conn, sub, message.since)
        else:
            _reply_error(conn, f"unknown message type {message.type!r}")


def _reply_error(conn: Connection, reason: str) -> None:
    conn.session.push_control(control_frame("error", reason=reason))
    conn.wake.set()
