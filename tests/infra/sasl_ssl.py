"""A dedicated broker with a SASL_SSL listener (SCRAM-SHA-512, a certificate signed by a CA
the tests generate), and the settings that send the project's clients through it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.broker import LocalBroker
from infra.broker_config import SaslSslListener
from infra.dedicated import free_ports, stop_and_discard
from infra.errors import BrokerError
from infra.settings import LOOPBACK, BrokerSettings
from tests.infra.certs import BrokerCertificates, make_broker_certificates

USER, PASSWORD = "invtwin", "scram-Pa55-for-the-test"


@dataclass(frozen=True)
class SecuredBroker:
    broker: LocalBroker
    port: int  # of the SASL_SSL listener
    certs: BrokerCertificates

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"


def start_secured_broker(folder: Path) -> SecuredBroker:
    """A broker whose second listener only takes TLS with the SCRAM user USER; fails the
    test (after cleaning up) when it cannot start."""
    certs = make_broker_certificates(folder / "certs")
    port, controller_port, secured_port = free_ports(3)
    settings = BrokerSettings(
        state_dir=folder,
        kafka_bootstrap=f"{LOOPBACK}:{port}",
        kafka_port=port,
        kafka_controller_port=controller_port,
        kafka_heap="320m",
    )
    broker = LocalBroker(
        settings,
        session_timeout_ms=3000,
        quick_start=True,
        sasl_ssl=SaslSslListener(secured_port, certs.keystore, certs.password),
        scram_users={USER: PASSWORD},
    )
    try:
        broker.up()
    except BrokerError as exc:
        stop_and_discard(broker)
        pytest.fail(f"cannot start a broker with a SASL_SSL listener:\n{exc}", pytrace=False)
    return SecuredBroker(broker, secured_port, certs)


def secure_env(monkeypatch: pytest.MonkeyPatch, ca: Path, password: str = PASSWORD) -> None:
    """What a user sets to reach the secured listener (read by every client's settings, and
    inherited by every process the test starts)."""
    monkeypatch.setenv("TWIN_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("TWIN_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("TWIN_KAFKA_SASL_USERNAME", USER)
    monkeypatch.setenv("TWIN_KAFKA_SASL_PASSWORD", password)
    monkeypatch.setenv("TWIN_KAFKA_SSL_CA_LOCATION", str(ca))
