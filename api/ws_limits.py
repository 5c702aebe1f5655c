"""Fair shares of the WebSocket endpoints, with no I/O: connection slots and message sizes.

Every WebSocket (`/v1/stream` and `/v1/scenarios/{id}/stream`) takes a slot. A token holds
at most `max_per_token` slots, so one caller cannot take the `max_total` the server has;
when either is reached the newcomer is closed with 1013 (try again later), and the reason
says which. A client message larger than the limit is refused with 1009 before it is
parsed (uvicorn is given the same limit, so it refuses one before buffering it).

The contract's close codes live in `api.problems`; 1009 and 1008 (RFC 6455's own) are kept
here until they join them there.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.problems import WS_TRY_AGAIN_LATER

# RFC 6455 "message too big": also what uvicorn sends for a message over `ws_max_size`.
WS_MESSAGE_TOO_BIG = 1009
# RFC 6455 "policy violation": a malformed subscription in the query string.
WS_POLICY_VIOLATION = 1008


@dataclass(frozen=True)
class Refusal:
    """Why the server closes a WebSocket: the close code, its reason, a metrics label."""

    code: int
    reason: str
    kind: str


class ConnectionSlots:
    """Who holds how many WebSocket connections; admits or refuses a new one."""

    def __init__(self, max_total: int, max_per_token: int) -> None:
        self.max_total = max_total
        self.max_per_token = max_per_token
        self.held: dict[str, int] = {}
        self.total = 0

    def acquire(self, token: str) -> Refusal | None:
        """Take a slot for `token`, or say why not (nothing is taken then)."""
        if self.total >= self.max_total:
            return Refusal(
                WS_TRY_AGAIN_LATER,
                f"server full: {self.max_total} WebSocket connections open; retry later",
                "server_full",
            )
        mine = self.held.get(token, 0)
        if mine >= self.max_per_token:
            return Refusal(
                WS_TRY_AGAIN_LATER,
                f"this token already holds {mine} WebSocket connections "
                f"(at most {self.max_per_token}); close one first",
                "token_full",
            )
        self.held[token] = mine + 1
        self.total += 1
        return None

    def release(self, token: str) -> None:
        mine = self.held.get(token, 0)
        if mine <= 0:
            return
        self.total -= 1
        if mine == 1:
            del self.held[token]  # an idle token keeps no entry
        else:
            self.held[token] = mine - 1

    def most_held(self) -> int:
        """The most slots any one token holds (0 when none is open)."""
        return max(self.held.values(), default=0)


def oversized(message: str | bytes, max_bytes: int) -> Refusal | None:
    """A refusal when a client message is over `max_bytes` (UTF-8 bytes for text)."""
    if isinstance(message, str):
        # A character is 1 to 4 bytes: encode only when the length alone cannot tell.
        too_big = len(message) > max_bytes or (
            len(message) * 4 > max_bytes and len(message.encode()) > max_bytes
        )
    else:
        too_big = len(message) > max_bytes
    if not too_big:
        return None
    return Refusal(
        WS_MESSAGE_TOO_BIG, f"message too big: over {max_bytes} bytes", "message_too_big"
    )
