"""Errors of the local broker, each with a message that tells a person what to do."""

from __future__ import annotations


class BrokerError(Exception):
    """The local broker cannot be prepared, started or reached."""


class JavaMissing(BrokerError):
    """No usable Java (17 or newer) on this machine."""


class MavenMissing(BrokerError):
    """Maven is needed to resolve the Kafka jars and is not installed."""


class JarResolutionFailed(BrokerError):
    """Maven ran but could not resolve the Kafka jars."""


class PortTaken(BrokerError):
    """The broker's port is used by something that is not a Kafka broker."""


class BrokerStartFailed(BrokerError):
    """The broker process exited or did not answer in time; carries the end of its log."""
