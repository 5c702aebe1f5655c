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
    name: str | None = None  # who the token belongs to, when TWIN_API_TOKENS names it

    def may(self, required: Role) -> bool:
        return required in _GRANTS[self.role]


class TokenConfigError(ValueError):
    """`TWIN_API_TOKENS` is malformed or empty where tokens are required."""


@dataclass(frozen=True)
class TokenEntry:
    """One entry of `TWIN_API_TOKENS`: `token:role`, or `name=token:role` to name its holder."""

    token: str
    role: Role
    name: str | None = None


def parse_token_entries(spec: str) -> list[TokenEntry]:
    """Parse "[name=]token:role,…", raising `TokenConfigError` on any problem."""
    entries: list[TokenEntry] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        named, sep, role = item.rpartition(":")
        if not sep or not named:
            raise TokenConfigError(f"token entry {_shown(item)} is not '[name=]token:role'")
        name, eq, token = named.partition("=")
        if not eq:
            name, token = "", named
        if not token:
            raise TokenConfigError(f"token entry named {name!r} has no token")
        try:
            entries.append(TokenEntry(token, Role(role.strip()), name.strip() or None))
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise TokenConfigError(f"unknown role {role!r} (allowed: {allowed})") from None
    return entries


def parse_tokens(spec: str) -> dict[str, Role]:
    """Parse "[name=]token:role,…" into token -> role (see `parse_token_entries`)."""
    return {entry.token: entry.role for entry in parse_token_entries(spec)}


def _shown(item: str) -> str:
    """An entry as an error may show it: never the secret part (a role alone has no secret)."""
    return repr(item) if ":" not in item and "=" not in item and len(item) < 12 else "(hidden)"


def generate_dev_tokens() -> str:
    """One random token per role, as a `TWIN_API_TOKENS` value (for `--dev` only)."""
    return ",".join(f"{role.value}-{secrets.token_urlsafe(12)}:{role.value}" for role in Role)


class TokenBook:
    """Looks a bearer token up in constant time per candidate."""

    def __init__(self, tokens: dict[str, Role], names: dict[str, str] | None = None) -> None:
        self._tokens = dict(tokens)
        self._names = dict(names or {})

    @classmethod
    def from_entries(cls, entries: list[TokenEntry]) -> TokenBook:
        names = {entry.token: entry.name for entry in entries if entry.name}
        return cls({entry.token: entry.role for entry in entries}, names)

    def principal(self, token: str | None) -> Principal | None:
        if not token:
            return None
        for known, role in self._tokens.items():
            if secrets.compare_digest(known.encode(), token.encode()):
                return Principal(known, role, self._names.get(known))
        return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if that is what it holds."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
