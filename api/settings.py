"""Settings of the API service: the one pydantic-settings class this deployable reads.

Environment variables use the `TWIN_` prefix (`TWIN_KAFKA_BOOTSTRAP`, `TWIN_API_TOKENS`,
`TWIN_MASTER_DATA`, `TWIN_STATE_DIR`, `TWIN_API_DEV`, ...). Nothing else in `api/` reads
`os.environ`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from infra.clock import ClockSettings

REPO_ROOT = Path(__file__).resolve().parents[1]


class ApiSettings(ClockSettings):
    """Everything the API process is configured with; tests build one explicitly.

    The clock settings (`TWIN_CLOCK_*`, see `infra.clock`) are the stack's shared domain
    clock: the API dates what it computes itself on the same clock as the flows.
    """

    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    state_dir: Path = REPO_ROOT / ".state"
    master_data: Path | None = None
    # "token:role,token:role"; roles: viewer, operator, architect, ingest, admin.
    api_tokens: str = ""
    # Explicit opt-in to start without tokens: the CLI then generates and prints some.
    api_dev: bool = False
    # Appended to every contract topic name (tests run on unique topics).
    api_topic_suffix: str = ""
    # Browser origins allowed to open WebSockets; the page's own origin is always allowed.
    api_allowed_origins: list[str] = Field(default_factory=list)

    # WebSocket fan-out
    ws_tick_s: float = Field(default=0.05, gt=0, le=1.0)
    ws_queue_frames: int = Field(default=32, ge=1)
    ws_replay_frames: int = Field(default=256, ge=1)
    ws_max_coalesced: int = Field(default=50_000, ge=1)
    ws_max_lag_s: float = Field(default=5.0, gt=0)
    ws_heartbeat_s: float = Field(default=15.0, gt=0)
    ws_session_ttl_s: float = Field(default=60.0, ge=0)
    # WebSocket limits (README "Limits"): connections in all and per token (stream and
    # scenario streams together), names per subscription, bytes per client message (uvicorn
    # is given the same as `ws_max_size`).
    ws_max_connections: int = Field(default=5_000, ge=1)
    ws_max_connections_per_token: int = Field(default=200, ge=1)
    ws_max_skus_per_subscription: int = Field(default=1_000, ge=1)
    ws_max_sites_per_subscription: int = Field(default=500, ge=1)
    ws_max_message_bytes: int = Field(default=131_072, ge=1_024)
    ws_subscribe_wait_s: float = Field(default=0.3, ge=0)

    # Ingest
    ingest_max_body_bytes: int = Field(default=1_048_576, ge=1)
    ingest_rate_per_s: float = Field(default=200.0, gt=0)
    ingest_burst: float = Field(default=400.0, ge=1)
    ingest_delivery_timeout_s: float = Field(default=5.0, gt=0)
    ingest_max_events: int = Field(default=1_000, ge=1)  # events in one request
    # Events per second per token, besides requests per second (a batch costs its size).
    ingest_event_rate_per_s: float = Field(default=5_000.0, gt=0)
    ingest_event_burst: float = Field(default=10_000.0, ge=1)
    # Refuse an event this far (event time) behind the newest of its SKU: the twin's horizon.
    ingest_horizon_s: float = Field(default=7 * 24 * 3600.0, gt=0)
    # Event ids remembered (read back from the ingest topic on start): how far back in write
    # time, and how many at most (~160 bytes each; `api.event_index`).
    idempotency_ttl_s: float = Field(default=7 * 24 * 3600.0, gt=0)
    idempotency_max_keys: int = Field(default=1_000_000, ge=1)

    # Scenario runs ("module:function", run in a separate process)
    scenario_runner: str = "api.scenario_worker:run_simulator"
    scenario_max_running: int = Field(default=2, ge=1)
    scenario_dir: Path | None = None

    # Materialized view
    view_start_kafka: bool = True
    view_metrics_tail: int = Field(default=500, ge=0)

    def topic(self, name: str) -> str:
        """The real name of a contract topic (with the test suffix, if any)."""
        return name + self.api_topic_suffix

    def uvicorn_limits(self) -> dict[str, int]:
        """What uvicorn itself must enforce of these settings (given to `uvicorn.run`).

        `ws_max_size`: uvicorn closes a WebSocket with 1009 as soon as a message grows past
        it, before buffering the rest; the app checks the same bound for other servers.
        """
        return {"ws_max_size": self.ws_max_message_bytes}

    def scenario_root(self) -> Path:
        return self.scenario_dir or (self.state_dir / "scenarios")
