"""WebSocket admission (token, role, Origin, a connection slot) and bounded client messages.

Refusals happen after the handshake so that a client sees the contract's close codes
(before `accept` every refusal is an HTTP 403 at the handshake, which a browser cannot
tell from any other failure): 4401 no or unknown token, 4403 role or Origin not allowed,
1013 server full or this token's share of the connections taken. Nothing is sent before
the close frame, so a refused client learns nothing but the code and its reason.
`receive_within` reads one client message and refuses one over the size limit (1009).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from fastapi import WebSocket

from api.auth import Principal, Role, bearer_token
from api.problems import WS_FORBIDDEN, WS_UNAUTHENTICATED
from api.ws_limits import Refusal, oversized

if TYPE_CHECKING:
    from api.deps import AppState

Endpoint = Literal["stream", "scenario"]


def origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """Non-browser clients send no Origin; browsers must come from this host or the list."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if origin in allowed or "*" in allowed:
        return True
    host = websocket.headers.get("host")
    return host is not None and urlsplit(origin).netloc == host


def _authorise(websocket: WebSocket, state: AppState, role: Role) -> Principal | Refusal:
    # The `token` query parameter is read after percent-decoding, like any other: `%74oken`
    # is `token` (the log filter redacts it however it is spelled).
    token = bearer_token(websocket.headers.get("authorization")) or websocket.query_params.get(
        "token"
    )
    principal = state.tokens.principal(token)
    if principal is None:
        return Refusal(WS_UNAUTHENTICATED, "a valid token is required", "unauthenticated")
    if not principal.may(role):
        return Refusal(WS_FORBIDDEN, f"the {role.value} role is required", "forbidden_role")
    if not origin_allowed(websocket, state.settings.api_allowed_origins):
        return Refusal(WS_FORBIDDEN, "origin not allowed", "forbidden_origin")
    return principal


async def refuse(websocket: WebSocket, state: AppState, refusal: Refusal) -> None:
    """Close an accepted WebSocket by rule, and count it."""
    state.metrics.ws_refused.labels(str(refusal.code), refusal.kind).inc()
    # A client already gone cannot be told; uvicorn raises OSError, Starlette RuntimeError.
    with contextlib.suppress(OSError, RuntimeError):
        await websocket.close(code=refusal.code, reason=refusal.reason[:120])


async def admit_websocket(
    websocket: WebSocket, state: AppState, role: Role, endpoint: Endpoint
) -> Principal | None:
    """Accept, then check the caller and take a connection slot for it.

    Returns the principal, who then holds a slot until `release_websocket`; or None after
    closing with the refusal's code.
    """
    await websocket.accept()
    checked = _authorise(websocket, state, role)
    if isinstance(checked, Refusal):
        await refuse(websocket, state, checked)
        return None
    slots = state.ws_slots
    full = slots.acquire(checked.token)
    if full is not None:
        await refuse(websocket, state, full)
        return None
    state.metrics.ws_connections.labels(endpoint, checked.role.value).inc()
    state.metrics.ws_token_connections_max.set(slots.most_held())
    return checked


def release_websocket(state: AppState, principal: Principal, endpoint: Endpoint) -> None:
    """Give back the slot `admit_websocket` took."""
    state.ws_slots.release(principal.token)
    state.metrics.ws_connections.labels(endpoint, principal.role.value).dec()
    state.metrics.ws_token_connections_max.set(state.ws_slots.most_held())


class Disconnected(Exception):
    """The client went away."""


class Refused(Exception):
    """A client message broke a limit: close with this refusal."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


async def receive_within(websocket: WebSocket, max_bytes: int) -> str | bytes:
    """The next client message (text or binary); `Refused` when over `max_bytes`."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise Disconnected
    data: str | bytes | None = message.get("text")
    if data is None:
        data = message.get("bytes") or b""
    too_big = oversized(data, max_bytes)
    if too_big is not None:
        raise Refused(too_big)
    return data
