"""The HTTP endpoint of a flow process: `/metrics` (Prometheus) and `/healthz`, on one port.

prometheus-client's own server answers `/metrics` only, so its WSGI app sits behind a tiny
router on a threaded `wsgiref` server in a daemon thread: it lives as long as the process,
and `/healthz` answers 200 while the process runs. A port already taken (another flow on the
same host, a second copy of a test) is logged once and the flow runs without the endpoint:
observability never stops the flow.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from dataflows.metrics import FlowMetrics, FlowName, flow_metrics
from dataflows.settings import FlowSettings

_log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper never holds the process open


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per scrape would drown the flow's own log


def health_app(
    registry: CollectorRegistry,
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        if path in ("/metrics", "/"):
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found: try /metrics or /healthz\n"]

    return app


def serve(registry: CollectorRegistry, port: int, host: str = "0.0.0.0") -> WSGIServer | None:
    """Serve `/metrics` and `/healthz` on `port` in a daemon thread; None if it cannot bind."""
    try:
        server = make_server(
            host, port, health_app(registry), _ThreadingServer, handler_class=_QuietHandler
        )
    except OSError as exc:
        _log.warning(
            "metrics endpoint not started: port %d: %s; the flow runs without it", port, exc
        )
        return None
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    _log.info("metrics on http://%s:%d/metrics, health on /healthz", host, port)
    return server


def observe(flow: FlowName, settings: FlowSettings, process_id: int | None) -> FlowMetrics:
    """This process's metrics, served on its port (`FlowSettings.metrics_port`) unless off."""
    metrics = flow_metrics(flow)
    port = settings.metrics_port(flow, process_id)
    if port is not None:
        serve(metrics.registry, port, settings.flow_metrics_host)
    return metrics
