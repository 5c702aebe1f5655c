"""The project's clients reach a broker that only accepts TLS with SCRAM-SHA-512 logins, from
settings alone: TWIN_KAFKA_SECURITY_PROTOCOL, TWIN_KAFKA_SASL_*, TWIN_KAFKA_SSL_CA_LOCATION.

The broker (a dedicated one) gets a second listener, SASL_SSL, with a certificate the test
signs with its own CA, and one SCRAM user written into its storage. A wrong password fails
to authenticate, and nothing the client logs or reports carries the password.
"""

from __future__ import annotations

import logging
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer

from infra.kafka_clients import ClientLogLimiter, consumer_config, ensure_topics, producer_config
from infra.topics import TopicSpec
from tests.infra.sasl_ssl import PASSWORD, SecuredBroker, secure_env
from tests.polling import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPIC = "sasl-ssl-test"


def test_clients_produce_and_consume_over_sasl_ssl_from_settings(
    secured_broker: SecuredBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bootstrap = secured_broker.bootstrap
    secure_env(monkeypatch, secured_broker.certs.ca_pem)
    # Topic creation (an admin client) goes through the secured listener as well.
    ensure_topics(bootstrap, [TopicSpec(TOPIC, 3)])

    producer = Producer(producer_config(bootstrap))
    failures: list[KafkaError] = []
    for i in range(100):
        producer.produce(
            TOPIC,
            key=f"k{i % 7}",
            value=str(i).encode(),
            on_delivery=lambda err, _msg: failures.append(err) if err else None,
        )
    assert producer.flush(30) == 0 and failures == []

    consumer = Consumer(consumer_config(bootstrap, "sasl-ssl-reader"))
    try:
        consumer.subscribe([TOPIC])
        seen: list[int] = []
        deadline = time.monotonic() + 30
        while len(seen) < 100 and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=100, timeout=0.5):
                assert msg.error() is None, msg.error()
                value = msg.value()
                assert value is not None
                seen.append(int(value))
        assert sorted(seen) == list(range(100))
    finally:
        consumer.close()


def test_a_wrong_password_fails_to_authenticate_without_showing_it(
    secured_broker: SecuredBroker,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "not-the-" + PASSWORD
    secure_env(monkeypatch, secured_broker.certs.ca_pem, wrong)
    limiter = ClientLogLimiter(logging.getLogger("test.kafka"), reminder_s=0.0)
    caplog.set_level(logging.DEBUG, logger="test.kafka")
    producer = Producer(
        producer_config(secured_broker.bootstrap, **{"log_level": 7}, **limiter.config())
    )
    producer.produce(TOPIC, b"v")

    def authentication_failed() -> bool:
        producer.poll(0.1)
        return any("_AUTHENTICATION" in r.getMessage() for r in caplog.records)

    wait_until(authentication_failed, timeout=30, what="an authentication failure")
    producer.purge()
    producer.flush(1)
    messages = [r.getMessage() for r in caplog.records]
    assert any("SCRAM" in m or "Authentication" in m for m in messages)
    assert all(wrong not in m and PASSWORD not in m for m in messages)
