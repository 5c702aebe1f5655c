"""The app under a real uvicorn server, in a thread, for tests where the wire matters
(close codes after the handshake, uvicorn's own message-size limit, socket buffers)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from api.settings import ApiSettings
from tests.api.procs import free_port
from tests.polling import wait_until


@contextlib.contextmanager
def serving(app: FastAPI, settings: ApiSettings, **options: Any) -> Iterator[int]:
    """Serve `app` as `invtwin api` does (same uvicorn limits); yields the port.

    `options` override uvicorn's (e.g. `log_config=None` to keep the test's log handlers).
    """
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        **{
            "log_level": "warning",
            "ws_per_message_deflate": False,
            **settings.uvicorn_limits(),
            **options,
        },
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 20, "uvicorn to start")
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
