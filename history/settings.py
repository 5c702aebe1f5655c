"""Settings of the history deployable (`invtwin history`) and of its readers in the API."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
WEEK_S = 7 * 24 * 3600.0


class HistorySettings(BaseSettings):
    """`TWIN_HISTORY_*`, besides the shared `TWIN_KAFKA_BOOTSTRAP` and `TWIN_STATE_DIR`."""

    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    state_dir: Path = REPO_ROOT / ".state"
    # The database file; default $TWIN_STATE_DIR/history/history.sqlite
    history_db: Path | None = None
    # Event time kept behind the newest event (and position) stored: older rows are pruned.
    history_retention_s: float = Field(default=WEEK_S, gt=0)
    # How often the consumer prunes, in seconds of wall time.
    history_prune_every_s: float = Field(default=60.0, gt=0)
    # Records consumed and written per transaction at most.
    history_batch: int = Field(default=5_000, ge=1)
    # The twin's event-time horizon (the flows' own variable): the ledger replays with it.
    flow_horizon_s: float = Field(default=WEEK_S, gt=0)
    # SKUs whose last stored figures the consumer remembers (to store only changed sites)
    history_cache_skus: int = Field(default=200_000, ge=1)
    # Appended to the contract topic names (tests read unique topics).
    history_topic_suffix: str = ""

    def db_path(self) -> Path:
        return self.history_db or (self.state_dir / "history" / "history.sqlite")

    def topic(self, name: str) -> str:
        return name + self.history_topic_suffix
