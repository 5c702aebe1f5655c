"""The librdkafka properties that let every client of the project into a secured cluster.

`security_config()` turns `KafkaSecuritySettings` (TWIN_KAFKA_SECURITY_PROTOCOL,
TWIN_KAFKA_SASL_*, TWIN_KAFKA_SSL_CA_LOCATION, TWIN_KAFKA_CLIENT_PROPERTIES) into the
properties that the client factories add to every producer, consumer and admin client.
Secrets stay out of logs and error messages: errors name a file and line, never its text,
and `redacted()` masks every secret-looking value of a configuration before it is shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.errors import BrokerError
from infra.settings import KafkaSecuritySettings

# Property names whose values are secrets (passwords, keys, tokens, client secrets).
_SECRET_NAME = re.compile(r"password|secret|jaas|token|key\.pem|private", re.IGNORECASE)
REDACTED = "[redacted]"


class ClientPropertiesError(BrokerError):
    """The client properties file cannot be read or is not `key=value` lines."""


def security_config(settings: KafkaSecuritySettings | None = None) -> dict[str, str]:
    """The security properties for a librdkafka client: the properties file, if any, then
    the individual settings on top. Empty when nothing is set (plaintext)."""
    settings = settings or KafkaSecuritySettings()
    config = (
        read_client_properties(settings.kafka_client_properties)
        if settings.kafka_client_properties is not None
        else {}
    )
    if settings.kafka_security_protocol is not None:
        config["security.protocol"] = settings.kafka_security_protocol
    if settings.kafka_sasl_mechanism is not None:
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
    if settings.kafka_sasl_username is not None:
        config["sasl.username"] = settings.kafka_sasl_username
    if settings.kafka_sasl_password is not None:
        config["sasl.password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_ssl_ca_location is not None:
        config["ssl.ca.location"] = str(settings.kafka_ssl_ca_location)
    return config


def read_client_properties(path: Path) -> dict[str, str]:
    """librdkafka properties from a file of `key=value` (or `key: value`) lines.

    Blank lines and `#` or `!` comments are skipped. Errors say which line, never what it
    holds: it may be a password.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise ClientPropertiesError(
            f"TWIN_KAFKA_CLIENT_PROPERTIES: cannot read {path}: {exc.strerror}"
        ) from None
    config: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        match = re.match(r"^([A-Za-z0-9_.\-]+)\s*[=:]\s*(.*)$", line)
        if match is None:
            raise ClientPropertiesError(
                f"{path}, line {number}: expected `property=value` (a librdkafka property)"
            )
        key, value = match.group(1), match.group(2).strip()
        if key == "sasl.jaas.config":
            raise ClientPropertiesError(
                f"{path}, line {number}: sasl.jaas.config is a Java client property; "
                "librdkafka takes sasl.username and sasl.password instead"
            )
        config[key] = value
    return config


def redacted(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a client configuration that is safe to log or show."""
    return {
        key: REDACTED if _SECRET_NAME.search(key) and value not in (None, "") else value
        for key, value in config.items()
    }
