"""Fixtures of the infra tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.dedicated import stop_and_discard
from tests.infra.sasl_ssl import SecuredBroker, start_secured_broker


@pytest.fixture(scope="package")
def secured_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    """One dedicated SASL_SSL broker for the tests that need it: certificates and a broker
    start cost tens of seconds on a busy machine, so they are paid once."""
    secured = start_secured_broker(tmp_path_factory.mktemp("sasl-ssl-broker"))
    try:
        yield secured
    finally:
        stop_and_discard(secured.broker)
