"""Settings of the local broker and of anything that only needs to find Kafka.

The one place that reads the foundation's environment variables (`TWIN_KAFKA_BOOTSTRAP`,
`TWIN_STATE_DIR`, the local broker's ports and heap, and how every Kafka client of the
project authenticates: `KafkaSecuritySettings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
KAFKA_VERSION = "4.1.1"  # keep equal to <kafka.version> in infra/kafka/pom.xml
LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 9092


class BrokerSettings(BaseSettings):
    """Where Kafka is, and how the project's own local broker runs.

    `kafka_bootstrap` is what clients use. The local broker listens on `kafka_port`
    (default: the port of `kafka_bootstrap` when that is a loopback address, else 9092)
    and its controller on `kafka_controller_port` (default: client port + 1).
    """

    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    kafka_bootstrap: str = f"{LOOPBACK}:{DEFAULT_PORT}"
    state_dir: Path = REPO_ROOT / ".state"
    kafka_port: int | None = Field(default=None, ge=1, le=65535)
    kafka_controller_port: int | None = Field(default=None, ge=1, le=65535)
    kafka_heap: str = Field(default="512m", pattern=r"^\d+[mMgG]$")
    kafka_start_timeout_s: float = Field(default=120.0, gt=0)
    # Not a TWIN_ variable: the usual JAVA_HOME picks the JVM when set.
    java_home: str | None = Field(default=None, validation_alias="JAVA_HOME")

    def client_port(self) -> int:
        """The local broker's client port."""
        if self.kafka_port is not None:
            return self.kafka_port
        host, _, port = self.kafka_bootstrap.split(",")[0].rpartition(":")
        if host in (LOOPBACK, "localhost") and port.isdigit():
            return int(port)
        return DEFAULT_PORT

    def controller_port(self) -> int:
        """The local broker's KRaft controller port."""
        if self.kafka_controller_port is not None:
            return self.kafka_controller_port
        return self.client_port() + 1

    def kafka_dir(self) -> Path:
        """Data, config, pid and log of the local broker."""
        return self.state_dir / "kafka"


class KafkaSecuritySettings(BaseSettings):
    """How every Kafka client of the project (flows, API, simulator, CLI) reaches a secured
    cluster: read by the client factories of `infra.kafka_clients` and `infra.probe`.

    `kafka_client_properties` names a file of librdkafka properties (`key=value` lines, `#`
    comments), for anything not covered here (OAUTHBEARER, mutual TLS, ...); the settings
    below override the file. Nothing set: plaintext, as for the local broker.
    """

    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = (
        None
    )
    kafka_sasl_mechanism: (
        Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"] | None
    ) = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: Path | None = None
    kafka_client_properties: Path | None = None

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        # librdkafka takes sasl_ssl as SASL_SSL: so do these settings.
        return value.upper() if isinstance(value, str) else value
