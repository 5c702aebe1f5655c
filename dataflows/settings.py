"""Settings of the dataflow deployables (`invtwin flow normalize|twin`).

The one place the flows read their environment: `TWIN_KAFKA_BOOTSTRAP`, `TWIN_MASTER_DATA`,
`TWIN_STATE_DIR`, plus `TWIN_FLOW_*` tuning knobs, plus the domain clock the whole stack shares
(`TWIN_CLOCK_ORIGIN`, `TWIN_CLOCK_SPEED`; see `infra.clock`). Command-line options override
fields by constructing the class with keyword arguments.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from infra.clock import ClockSettings
from infra.topics import DLQ_MAX_MESSAGE_BYTES

REPO_ROOT = Path(__file__).resolve().parents[1]

# Bytewax snapshots every shard touched in an epoch, i.e. the whole twin state, so the cost of
# a snapshot grows with the state, not with the traffic. Measured here (bench/e2e_throughput.py,
# 200k events, 2,000-5,000 SKUs): at 10 s the twin flow spent 10-25 % more CPU per event than
# without recovery; the cost per snapshot is fixed, so 30 s cuts it to a third. The price is the
# replay after a crash: up to 30 s of input, absorbed by dedupe and versioned positions.
DEFAULT_SNAPSHOT_INTERVAL_S = 30.0
# The normalize flow is stateless: its snapshot is a few Kafka offsets, so it can afford short
# epochs. What they buy: after a normalize crash at most this much raw input is normalized again,
# and the twin's dedupe (every id within the event-time horizon) absorbs those re-sent events.
NORMALIZE_SNAPSHOT_INTERVAL_S = 5.0
# 64 shards: enough keys to spread over a handful of workers, few enough that the per-key
# Bytewax overhead (one snapshot row and one logic per key) stays negligible.
DEFAULT_SHARDS = 64
# Each flow process serves /metrics and /healthz on its flow's base port plus its process id
# (`invtwin flow ... -p N` or `-i`), so ten processes of each flow fit side by side.
DEFAULT_METRICS_PORTS = {"normalize": 9110, "twin": 9120}


class FlowSettings(ClockSettings):
    """Where Kafka and master data are, how the flows key, coalesce and recover, and which
    clock they judge time on (`clock_origin`, `clock_speed`: the wall clock by default).

    The intervals below (`flow_coalesce_ms`, `flow_metrics_interval_s`,
    `flow_freshness_check_s`, snapshots) are wall-clock time whatever the domain clock's
    speed: they pace the machinery, not the business."""

    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    master_data: Path = REPO_ROOT / "examples" / "network.yaml"
    state_dir: Path = REPO_ROOT / ".state"

    # Appended to every contract topic name; tests and benches use it to isolate their runs.
    flow_topic_suffix: str = ""
    flow_shards: int = Field(default=DEFAULT_SHARDS, ge=1, le=4096)
    flow_coalesce_ms: int = Field(default=250, ge=0, le=60_000)
    flow_metrics_interval_s: float = Field(default=5.0, gt=0)
    flow_freshness_check_s: float = Field(default=1.0, gt=0)
    flow_window_s: int = Field(default=900, gt=0)
    flow_window_lateness_s: int = Field(default=300, ge=0)
    flow_recovery: bool = True
    # None: each flow's own default (twin 30 s, normalize 5 s; see above)
    flow_snapshot_interval_s: float | None = Field(default=None, gt=0)
    flow_recovery_partitions: int = Field(default=4, ge=1)
    # Records per partition per source activation. Bytewax closes an epoch (and snapshots)
    # only between activations, and reads every partition each time: 500 x 6 partitions
    # keeps one activation well under the snapshot interval.
    flow_consume_batch: int = Field(default=500, ge=1)
    # True: stop at the end of the input topics (benchmarks, replays); False: tail for ever.
    flow_stop_at_end: bool = False
    # The largest dead letter a flow writes (key + value), within the DLQ topic's
    # `max.message.bytes` and the producer's `message.max.bytes`: a larger one keeps the first
    # bytes of its original plus the whole record's size and SHA-256 (`dataflows.dead_letters`).
    # Kafka client logs (librdkafka's, and client errors): the first line of each kind, then
    # at most one reminder per interval with the count held back (`ClientLogLimiter`).
    flow_kafka_log_reminder_s: float = Field(default=30.0, gt=0)
    # The twin's exactness horizon: event time behind the newest event of a SKU within which a
    # resend is recognised and a count placed exactly; an older event is dead-lettered
    # (`outside_horizon`). Memory grows with it (ids and deltas are kept that long).
    flow_horizon_s: float = Field(default=7 * 24 * 3600.0, gt=0)
    # Base port of the /metrics and /healthz endpoint (None: the flow's default above; 0: off)
    flow_metrics_port: int | None = Field(default=None, ge=0, le=65_535)
    flow_metrics_host: str = "0.0.0.0"  # every interface: Prometheus scrapes from elsewhere
    # True: process i of a local cluster serves on the base port + i (they share a host).
    # False: every process on the base port itself, for one process per pod (Kubernetes),
    # where one `prometheus.io/port` annotation names the port of every pod.
    flow_metrics_port_per_process: bool = True
    flow_dead_letter_max_bytes: int = Field(
        default=DLQ_MAX_MESSAGE_BYTES - 10_000, ge=4_096, le=DLQ_MAX_MESSAGE_BYTES - 1_000
    )

    def topic(self, name: str) -> str:
        """The name actually used for contract topic `name`."""
        return name + self.flow_topic_suffix

    def brokers(self) -> list[str]:
        return [b.strip() for b in self.kafka_bootstrap.split(",") if b.strip()]

    def recovery_dir(self, flow: str) -> Path:
        """Bytewax's SQLite recovery partitions of one flow."""
        return self.state_dir / "recovery" / (flow + self.flow_topic_suffix)

    def snapshot_interval(self, flow: str) -> timedelta:
        """Epoch length (= snapshot interval) of `flow` ("normalize" or "twin")."""
        if self.flow_snapshot_interval_s is not None:
            return timedelta(seconds=self.flow_snapshot_interval_s)
        default = (
            NORMALIZE_SNAPSHOT_INTERVAL_S if flow == "normalize" else DEFAULT_SNAPSHOT_INTERVAL_S
        )
        return timedelta(seconds=default)

    def metrics_port(self, flow: str, process_id: int | None = None) -> int | None:
        """The port of this process's metrics endpoint, or None when metrics are off."""
        base = self.flow_metrics_port
        if base is None:
            base = DEFAULT_METRICS_PORTS[flow]
        if base == 0:
            return None
        return base + (process_id or 0) if self.flow_metrics_port_per_process else base

    def coalesce(self) -> timedelta:
        return timedelta(milliseconds=self.flow_coalesce_ms)
