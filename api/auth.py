"""Bearer tokens and roles (DESIGN "Auth"): parsing `TWIN_API_TOKENS` and role checks.

Roles: viewer < operator < architect; ingest stands alone; admin may do everything.
Operators act on alert cases; architects also run scenarios.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ARCHITECT = "architect"
    INGEST = "ingest"
    ADMIN = "admin"


# Which roles each role includes.
_GRANTS: dict[Role, frozenset[Role]] = {
    Role.VIEWER: frozenset({Role.VIEWER}),
    Role.OPERATOR: frozenset({Role.OPERATOR, Role.VIEWER}),
    Role.ARCHITECT: frozenset({Role.ARCHITECT, Role.OPERATOR, Role.VIEWER}),
    Role.INGEST: frozenset({Role.INGEST}),
    Role.ADMIN: frozenset(Role),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token (its identity for rate limits and idempotency) and role."""

    token: str
    role: Role

    def may(self, required: Role) -> bool:
        return required in _GRANTS[self.role]


class TokenConfigError(ValueError):
    """`TWIN_API_TOKENS` is malformed or empty where tokens are required."""


def parse_tokens(spec: str) -> dict[str, Role]:
    """Parse "token:role,token:role" into a map, raising `TokenConfigError` on any problem."""
    tokens: dict[str, Role] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        token, sep, role = item.rpartition(":")
        if not sep or not token:
            raise TokenConfigError(f"token entry {item!r} is not 'token:role'")
        try:
            tokens[token] = Role(role.strip())
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise TokenConfigError(f"unknown role {role!r} (allowed: {allowed})") from None
    return tokens


def generate_dev_tokens() -> str:
    """One random token per role, as a `TWIN_API_TOKENS` value (for `--dev` only)."""
    return ",".join(f"{role.value}-{secrets.token_urlsafe(12)}:{role.value}" for role in Role)


class TokenBook:
    """Looks a bearer token up in constant time per candidate."""

    def __init__(self, tokens: dict[str, Role]) -> None:
        self._tokens = dict(tokens)

    def principal(self, token: str | None) -> Principal | None:
        if not token:
            return None
        for known, role in self._tokens.items():
            if secrets.compare_digest(known.encode(), token.encode()):
                return Principal(known, role)
        return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if that is what it holds."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
