"""Security settings reach every Kafka client of the project, and secrets stay out of logs
and error messages."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from confluent_kafka import Producer

from infra.kafka_clients import ClientLogLimiter, consumer_config, producer_config
from infra.kafka_security import (
    ClientPropertiesError,
    read_client_properties,
    redacted,
    security_config,
)
from infra.probe import admin_config
from infra.settings import KafkaSecuritySettings
from tests.polling import wait_until

PASSWORD = "s3cr3t-Pa55word-do-not-print"


@pytest.fixture
def sasl_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    ca = tmp_path / "ca.crt"
    monkeypatch.setenv("TWIN_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("TWIN_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("TWIN_KAFKA_SASL_USERNAME", "invtwin")
    monkeypatch.setenv("TWIN_KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("TWIN_KAFKA_SSL_CA_LOCATION", str(ca))
    return ca


def test_nothing_set_means_plaintext_as_for_the_local_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in KafkaSecuritySettings.model_fields:
        monkeypatch.delenv(f"TWIN_{name.upper()}", raising=False)
    assert security_config() == {}
    assert "security.protocol" not in producer_config("h:1")


def test_sasl_ssl_settings_reach_producers_consumers_and_admin_clients(sasl_env: Path) -> None:
    wanted = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "invtwin",
        "sasl.password": PASSWORD,
        "ssl.ca.location": str(sasl_env),
    }
    for config in (producer_config("h:1"), consumer_config("h:1", "g"), admin_config("h:1")):
        assert wanted.items() <= config.items()
    # A caller's explicit override still wins over the environment.
    assert producer_config("h:1", **{"sasl.username": "other"})["sasl.username"] == "other"


def test_protocol_and_mechanism_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWIN_KAFKA_SECURITY_PROTOCOL", "sasl_ssl")
    monkeypatch.setenv("TWIN_KAFKA_SASL_MECHANISM", "scram-sha-256")
    settings = KafkaSecuritySettings()
    assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == (
        "SASL_SSL",
        "SCRAM-SHA-256",
    )


def test_the_password_is_hidden_in_settings_and_redacted_configs(sasl_env: Path) -> None:
    settings = KafkaSecuritySettings()
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())
    shown = redacted(producer_config("h:1", **{"ssl.key.password": "k"}))
    assert PASSWORD not in str(shown) and "'k'" not in str(shown)
    assert shown["sasl.username"] == "invtwin"


def test_a_properties_file_carries_any_property_and_settings_override_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "client.properties"
    path.write_text(
        "# OAUTHBEARER through an OIDC provider\n"
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism = OAUTHBEARER\n"
        "sasl.oauthbearer.method: oidc\n"
        "sasl.oauthbearer.client.secret=" + PASSWORD + "\n"
        "\n"
        "! a Java-style comment\n"
    )
    monkeypatch.setenv("TWIN_KAFKA_CLIENT_PROPERTIES", str(path))
    monkeypatch.setenv("TWIN_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    config = security_config()
    assert config == {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.method": "oidc",
        "sasl.oauthbearer.client.secret": PASSWORD,
    }
    assert PASSWORD not in str(redacted(config))


@pytest.mark.parametrize(
    "line",
    [f"this line has no separator {PASSWORD}", f"sasl.jaas.config=... password='{PASSWORD}';"],
)
def test_a_bad_properties_line_is_named_by_number_without_its_text(
    tmp_path: Path, line: str
) -> None:
    path = tmp_path / "client.properties"
    path.write_text("security.protocol=SASL_SSL\n" + line + "\n")
    with pytest.raises(ClientPropertiesError, match="line 2") as failure:
        read_client_properties(path)
    assert PASSWORD not in str(failure.value)


def test_a_missing_properties_file_is_an_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ClientPropertiesError, match="TWIN_KAFKA_CLIENT_PROPERTIES"):
        read_client_properties(tmp_path / "missing.properties")


@pytest.mark.integration
def test_a_client_failing_to_authenticate_never_logs_the_password(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # SCRAM against the plaintext local broker: the SASL handshake fails. The client logs
    # (with librdkafka's security debugging on) and reports that through the project's log
    # limiter; none of it may carry the password.
    monkeypatch.setenv("TWIN_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("TWIN_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("TWIN_KAFKA_SASL_USERNAME", "invtwin")
    monkeypatch.setenv("TWIN_KAFKA_SASL_PASSWORD", PASSWORD)
    limiter = ClientLogLimiter(logging.getLogger("test.kafka"), reminder_s=0.0)
    caplog.set_level(logging.DEBUG, logger="test.kafka")
    overrides = {"log_level": 7, "debug": "security,broker", **limiter.config()}
    producer = Producer(producer_config(kafka_bootstrap, **overrides))
    producer.produce("t", b"v")

    def saw_sasl_failure() -> bool:
        producer.poll(0.1)
        return any("_AUTHENTICATION" in record.getMessage() for record in caplog.records)

    wait_until(saw_sasl_failure, timeout=20, what="the client's SASL failure")
    producer.purge()
    producer.flush(1)
    assert all(PASSWORD not in record.getMessage() for record in caplog.records)
