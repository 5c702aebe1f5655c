"""Prometheus metrics (one registry per app) and structured JSON logs."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ApiMetrics:
    """The service's metrics, registered on a registry of its own (no global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ingest_events = Counter(
            "invtwin_ingest_events", "Events accepted by POST /v1/events", registry=r
        )
        self.ingest_requests = Counter(
            "invtwin_ingest_requests", "POST /v1/events by outcome", ["outcome"], registry=r
        )
        self.ingest_errors = Counter(
            "invtwin_ingest_errors", "Ingest failures by reason", ["reason"], registry=r
        )
        self.ws_clients = Gauge("invtwin_ws_clients", "Open WebSocket stream clients", registry=r)
        self.ws_slow_closed = Counter(
            "invtwin_ws_slow_closed", "Stream clients closed as slow consumers", registry=r
        )
        # The WebSocket limits (api.ws_limits): what each is set to, how full it is, refusals.
        self.ws_limit = Gauge(
            "invtwin_ws_limit", "Configured WebSocket limits by name", ["limit"], registry=r
        )
        self.ws_connections = Gauge(
            "invtwin_ws_connections",
            "Open WebSocket connections by endpoint and role",
            ["endpoint", "role"],
            registry=r,
        )
        self.ws_token_connections_max = Gauge(
            "invtwin_ws_token_connections_max",
            "The most WebSocket connections any one token holds",
            registry=r,
        )
        self.ws_refused = Counter(
            "invtwin_ws_refused",
            "WebSockets the server closed by rule, by close code and reason",
            ["code", "reason"],
            registry=r,
        )
        self.ws_sessions = Gauge(
            "invtwin_ws_sessions",
            "Stream sessions: attached to a socket, or detached and resumable for a while",
            ["state"],
            registry=r,
        )
        self.ws_subscribed_skus = Gauge(
            "invtwin_ws_subscribed_skus",
            "SKUs named by the subscriptions of every stream session held",
            registry=r,
        )
        self.ws_subscription_skus = Histogram(
            "invtwin_ws_subscription_skus",
            "SKUs named per subscription (a subscription to all SKUs is not counted)",
            buckets=(1, 10, 50, 100, 500, 1000, 5000),
            registry=r,
        )
        self.fanout_seconds = Histogram(
            "invtwin_fanout_seconds",
            "Time to encode and queue one tick for every client",
            buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.fanout_lag_seconds = Histogram(
            "invtwin_fanout_lag_seconds",
            "From a tick to the last of its frames written to one client's socket",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.view_lag_seconds = Gauge(
            "invtwin_view_lag_seconds", "Now minus as_of of the latest position applied", registry=r
        )
        self.view_ready = Gauge(
            "invtwin_view_ready", "1 once the view caught up with the topics", registry=r
        )
        self.view_records = Counter(
            "invtwin_view_records", "Records applied to the view by topic", ["topic"], registry=r
        )
        self.scenario_runs = Counter(
            "invtwin_scenario_runs", "Scenario runs by final status", ["status"], registry=r
        )


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message and any extras."""

    _STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


# A `name=value` pair of a query string (or of a form body, or a bare one in a message).
_PARAM = re.compile(r"(?P<lead>^|[?&;\s\"'])(?P<name>[^=&;\s\"'?#]+)=(?P<value>[^&;\s\"'#]*)")


def _is_token_name(name: str) -> bool:
    """`token`, `access_token`, ... however percent-encoded (`%74oken`, even twice)."""
    for _ in range(3):  # a server decodes names once; a log reader might decode again
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    name = name.strip().lower()
    return name == "token" or name.endswith("_token")


def redact_tokens(text: str) -> str:
    """The text with the value of every token parameter replaced by `REDACTED`."""
    if "=" not in text:
        return text

    def hide(match: re.Match[str]) -> str:
        if not _is_token_name(match["name"]):
            return match.group(0)
        return f"{match['lead']}{match['name']}=REDACTED"

    return _PARAM.sub(hide, text)


class RedactTokens(logging.Filter):
    """No log line keeps a bearer token: WebSocket URLs carry `?token=` (in any spelling).

    The message is formatted first (its arguments may be URL objects, not strings), then
    redacted; string extras are redacted too.
    """

    _STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format: leave it to logging to report
            return True
        record.msg, record.args = redact_tokens(message), ()
        for key, value in vars(record).items():
            if key not in self._STANDARD and isinstance(value, str):
                setattr(record, key, redact_tokens(value))
        return True


def configure_json_logging(level: str = "INFO") -> None:
    """Route every log record (uvicorn's included) through the JSON formatter."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
