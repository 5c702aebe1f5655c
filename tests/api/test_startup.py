"""Starting the service: no tokens, no start — unless the explicit dev flag generates them."""

from __future__ import annotations

import os
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from api.app import create_app
from api.auth import Principal, Role, TokenConfigError, parse_tokens
from api.settings import ApiSettings
from cli.main import app as cli


def test_the_app_refuses_to_be_built_without_tokens() -> None:
    with pytest.raises(SystemExit, match="TWIN_API_TOKENS"):
        create_app(ApiSettings(api_tokens=""))


def test_a_malformed_token_list_is_refused() -> None:
    with pytest.raises(TokenConfigError):
        parse_tokens("abc:superuser")
    with pytest.raises(TokenConfigError):
        parse_tokens("no-role-here")


def test_roles_grant_what_design_says() -> None:
    def may(role: Role, required: Role) -> bool:
        return Principal("t", role).may(required)

    assert may(Role.ARCHITECT, Role.VIEWER) and not may(Role.VIEWER, Role.ARCHITECT)
    assert not may(Role.INGEST, Role.VIEWER) and not may(Role.VIEWER, Role.INGEST)
    assert all(may(Role.ADMIN, r) for r in Role)


def test_cli_refuses_to_start_without_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWIN_API_TOKENS", "")
    monkeypatch.setenv("TWIN_API_DEV", "0")
    result = CliRunner().invoke(cli, ["api"])
    assert result.exit_code == 2
    assert "refusing to start" in result.output


def test_cli_dev_flag_generates_prints_and_passes_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    # setenv (not delenv) so the tokens the CLI puts in the environment are undone after.
    monkeypatch.setenv("TWIN_API_TOKENS", "")
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append(kw))
    monkeypatch.setattr("cli.api_cmd.configure_json_logging", lambda *_: None)
    result = CliRunner().invoke(cli, ["api", "--dev", "--port", "8123", "--workers", "2"])
    assert result.exit_code == 0, result.output
    tokens = parse_tokens(os.environ["TWIN_API_TOKENS"])
    assert set(tokens.values()) == set(Role)
    assert all(token in result.output for token in tokens)
    assert calls[0]["port"] == 8123 and calls[0]["workers"] == 2 and calls[0]["factory"] is True
