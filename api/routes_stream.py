"""`WS /v1/stream`: admission, subscription parsing, and the per-connection tasks.

Protocol (docs/internal-contracts.md): a snapshot first (or, with `since`, the frames
after it), then deltas with a gap-free per-connection `seq`; `heartbeat` frames carry the
last seq and do not consume one; `{"type":"ping"}` is answered with `pong`; a `subscribe`
message changes the filter and is answered with a fresh snapshot. The snapshot also carries
`session`, which a client may send back with `since` to resume exactly that session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.auth import Role
from api.broadcaster import Connection
from api.deps import get_state
from api.problems import WS_SLOW_CONSUMER, WS_TRY_AGAIN_LATER
from api.stream_protocol import Subscription, SubscriptionError, control_frame
from api.ws_auth import authenticate_websocket

router = APIRouter()
log = logging.getLogger("api.stream")
_CLOSE_TIMEOUT_S = 10.0


class SubscribeMessage(msgspec.Struct, kw_only=True):
    type: str
    skus: list[str] | None = None
    sites: list[str] | None = None
    channels: list[str] | None = None
    since: int | None = None
    session: str | None = None


_message_decoder = msgspec.json.Decoder(SubscribeMessage)


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part for part in (p.strip() for p in value.split(",")) if part]


def _query_subscription(websocket: WebSocket) -> tuple[Subscription | None, int | None, str | None]:
    """Subscription, since and session from the query string; None subscription when absent."""
    q = websocket.query_params
    present = any(k in q for k in ("skus", "sites", "channels"))
    since_raw = q.get("since")
    since = int(since_raw) if since_raw is not None and since_raw.lstrip("-").isdigit() else None
    sub = None
    if present:
        sub = Subscription.build(
            skus=_split(q.get("skus")),
            sites=_split(q.get("sites")),
            channels=_split(q.get("channels")),
        )
    return sub, since, q.get("session")


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    """Live twin: subscribe by SKUs, sites, channels (viewer role)."""
    state = get_state(websocket)
    if await authenticate_websocket(websocket, state, Role.VIEWER) is None:
        return
    broadcaster = state.broadcaster
    if len(broadcaster.connections) >= state.settings.ws_max_connections:
        await websocket.close(code=WS_TRY_AGAIN_LATER, reason="too many stream connections")
        return
    try:
        subscription, since, session_id = _query_subscription(websocket)
    except SubscriptionError as exc:
        await websocket.close(code=1008, reason=str(exc))
        return
    await websocket.accept()
    first: SubscribeMessage | None = None
    if subscription is None:
        first = await _first_subscribe(websocket, state.settings.ws_subscribe_wait_s)
        try:
            subscription = _message_subscription(first) if first else Subscription.build()
        except SubscriptionError as exc:
            await websocket.close(code=1008, reason=str(exc))
            return
        if first is not None:
            since, session_id = first.since, first.session or session_id
    conn, _ = broadcaster.open(subscription, since, session_id)
    conn.sender = asyncio.create_task(broadcaster.send_loop(conn, websocket.send_text))
    receiver = asyncio.create_task(_receive_loop(websocket, conn, broadcaster))
    try:
        await asyncio.wait({conn.sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        receiver.cancel()
        conn.sender.cancel()
        with contextlib.suppress(BaseException):
            await conn.sender
        broadcaster.detach(conn)
    if conn.close_reason is not None:
        # The close frame queues behind what the client has not read yet; waiting here
        # costs the other clients nothing, and a client that never reads is cut after it.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                websocket.close(code=WS_SLOW_CONSUMER, reason=conn.close_reason[:120]),
                _CLOSE_TIMEOUT_S,
            )


async def _first_subscribe(websocket: WebSocket, wait_s: float) -> SubscribeMessage | None:
    """Without query parameters, give the client a moment to send `subscribe` first."""
    if wait_s <= 0:
        return None
    try:
        text = await asyncio.wait_for(websocket.receive_text(), wait_s)
    except (TimeoutError, WebSocketDisconnect, RuntimeError):
        return None
    try:
        message = _message_decoder.decode(text)
    except msgspec.DecodeError:
        return None
    return message if message.type == "subscribe" else None


def _message_subscription(message: SubscribeMessage) -> Subscription:
    return Subscription.build(message.skus, message.sites, message.channels)


async def _receive_loop(websocket: WebSocket, conn: Connection, broadcaster: Any) -> None:
    """Client → server: ping and subscribe; anything else gets an `error` frame."""
    while True:
        try:
            text = await websocket.receive_text()
        except (WebSocketDisconnect, RuntimeError):
            return
        try:
            message = _message_decoder.decode(text)
        except msgspec.DecodeError as exc:
            _reply_error(conn, f"unreadable message: {exc}")
            continue
        if message.type == "ping":
            broadcaster.pong(conn)
        elif message.type == "subscribe":
            try:
                sub = _message_subscription(message)
            except SubscriptionError as exc:
                _reply_error(conn, str(exc))
                continue
            broadcaster.resubscribe(conn, sub, message.since)
        else:
            _reply_error(conn, f"unknown message type {message.type!r}")


def _reply_error(conn: Connection, reason: str) -> None:
    conn.session.push_control(control_frame("error", reason=reason))
    conn.wake.set()
