"""WebSocket admission, before `accept()`: token, role, Origin allowlist, connection limit.

Refusals close the handshake with the contract's codes: 4401 unauthenticated, 4403
forbidden (role or Origin), 1013 try again later (too many connections).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import WebSocket

from api.auth import Principal, Role, bearer_token
from api.problems import WS_FORBIDDEN, WS_UNAUTHENTICATED

if TYPE_CHECKING:
    from api.deps import AppState


def origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """Non-browser clients send no Origin; browsers must come from this host or the list."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if origin in allowed or "*" in allowed:
        return True
    host = websocket.headers.get("host")
    return host is not None and urlsplit(origin).netloc == host


async def authenticate_websocket(
    websocket: WebSocket, state: AppState, role: Role
) -> Principal | None:
    """The principal, or None after closing the handshake with the right code."""
    token = bearer_token(websocket.headers.get("authorization")) or websocket.query_params.get(
        "token"
    )
    principal = state.tokens.principal(token)
    if principal is None:
        await websocket.close(code=WS_UNAUTHENTICATED, reason="a valid token is required")
        return None
    if not principal.may(role):
        await websocket.close(code=WS_FORBIDDEN, reason=f"the {role.value} role is required")
        return None
    if not origin_allowed(websocket, state.settings.api_allowed_origins):
        await websocket.close(code=WS_FORBIDDEN, reason="origin not allowed")
        return None
    return principal
