"""No log line keeps a token, however its query parameter is spelled.

A percent-encoded parameter name is the same name once decoded (`%74oken` is `token`, as
Starlette reads it), so it is accepted like the plain one; what matters is that the value
never reaches a log: uvicorn's access and WebSocket lines and our own are all redacted.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from api.app import create_app
from api.feed import FakeFeed
from api.telemetry import JsonLogFormatter, RedactTokens, redact_tokens
from tests.api.conftest import TOKENS, make_settings
from tests.api.fakes import FakeProducer
from tests.api.uvicorn_server import serving

SPELLINGS = ["token", "%74oken", "%74%6F%6B%65%6E", "tok%65n", "%2574oken", "access_token"]


@pytest.mark.parametrize("name", SPELLINGS)
def test_the_value_of_a_token_parameter_is_redacted_in_any_spelling(name: str) -> None:
    line = f'127.0.0.1 - "GET /v1/stream?skus=A&{name}=s3cr3t-value&since=4 HTTP/1.1" 200'
    assert redact_tokens(line) == line.replace("s3cr3t-value", "REDACTED")


def test_other_parameters_and_look_alikes_are_left_alone() -> None:
    for line in ("/v1/skus?prefix=token&limit=5", "?csrftoken=1", "?tokens=2", "no query"):
        assert redact_tokens(line) == line


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """uvicorn's and the API's loggers, through the production filter and formatter."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(RedactTokens())
    loggers = [logging.getLogger(n) for n in ("uvicorn.access", "uvicorn.error", "api")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.handlers[:] = [handler]
        lg.setLevel(logging.INFO)
        lg.propagate = False
    try:
        yield out
    finally:
        for lg, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            lg.handlers[:], lg.propagate = handlers, propagate
            lg.setLevel(level)


@pytest.mark.slow
def test_no_log_line_of_a_real_server_holds_a_token(
    tmp_path: Path, captured_logs: io.StringIO
) -> None:
    settings = make_settings(tmp_path)
    app = create_app(settings, feed=FakeFeed(), producer=FakeProducer())
    viewer = TOKENS["viewer"]

    async def stream_snapshot(url: str) -> str:
        async with websockets.connect(url, open_timeout=10, ping_interval=None) as ws:
            return str(json.loads(await ws.recv())["type"])

    with serving(app, settings, log_config=None, log_level="info", access_log=True) as port:
        base = f"127.0.0.1:{port}"
        kinds = [
            asyncio.run(stream_snapshot(f"ws://{base}/v1/stream?{name}={viewer}"))
            for name in ("token", "%74oken", "%74%6F%6B%65%6E")
        ]
        httpx.get(f"http://{base}/healthz?%74oken=s3cr3t-http", timeout=5)
        httpx.get(f"http://{base}/v1/network?token=s3cr3t-http2", timeout=5)
    logged = captured_logs.getvalue()
    assert kinds == ["snapshot"] * 3  # a percent-encoded name is the same parameter
    assert "WebSocket /v1/stream" in logged and "/healthz" in logged  # the lines are there
    for secret in (viewer, "s3cr3t-http", "s3cr3t-http2"):
        assert secret not in logged
    assert logged.count("REDACTED") >= 5
