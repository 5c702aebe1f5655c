"""`TWIN_API_TOKENS` entries: `token:role`, or `name=token:role` naming the token's holder."""

from __future__ import annotations

import re

import pytest

from api.auth import (
    Role,
    TokenBook,
    TokenConfigError,
    TokenEntry,
    parse_token_entries,
    parse_tokens,
)


def test_entries_may_name_their_holder() -> None:
    entries = parse_token_entries("Ana Ops=t-ana:operator, t-view:viewer ,")
    assert entries == [
        TokenEntry("t-ana", Role.OPERATOR, "Ana Ops"),
        TokenEntry("t-view", Role.VIEWER, None),
    ]
    assert parse_tokens("Ana Ops=t-ana:operator") == {"t-ana": Role.OPERATOR}
    book = TokenBook.from_entries(entries)
    ana = book.principal("t-ana")
    assert ana is not None and (ana.role, ana.name) == (Role.OPERATOR, "Ana Ops")
    viewer = book.principal("t-view")
    assert viewer is not None and viewer.name is None
    assert book.principal("t-nobody") is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("just-a-secret-token", "is not '[name=]token:role'"),
        ("Ana=:operator", "named 'Ana' has no token"),
        ("t:boss", "unknown role 'boss'"),
    ],
)
def test_a_bad_entry_is_refused_without_showing_its_secret(spec: str, message: str) -> None:
    with pytest.raises(TokenConfigError, match=re.escape(message)) as raised:
        parse_token_entries(spec)
    assert "just-a-secret-token" not in str(raised.value)
