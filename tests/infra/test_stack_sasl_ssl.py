"""The whole stack (both flows, the history store and the API, as `invtwin` processes) on a
broker that only lets them in over TLS with a SCRAM-SHA-512 login, from settings alone.

The broker is the package's dedicated SASL_SSL one (`tests.infra.sasl_ssl`: a certificate
signed by a CA the test generates, one SCRAM user); the stack is given the SASL_SSL
listener's address and the TWIN_KAFKA_* security variables every part inherits. An event
posted to the ingest API comes back as the SKU's position through the API, then a second one
moves it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
import pytest

from cli.stack import REPO_ROOT, Stack, free_port, generate_tokens
from tests.infra.sasl_ssl import PASSWORD, SecuredBroker, secure_env
from tests.polling import wait_until
from twin.events import EventType, InventoryEvent

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SKU, SITE = "SKU-00002", "WH-01"  # from examples/network.yaml


def _post(stack: Stack, event_type: EventType, qty: int) -> None:
    now = datetime.now(UTC)
    event = InventoryEvent(
        event_id=f"sasl-{uuid.uuid4().hex}",
        type=event_type,
        sku=SKU,
        site=SITE,
        qty=qty,
        uom="each",
        occurred_at=now,
        recorded_at=now,
        source=f"wms-api:{SITE}",
    )
    replies: list[httpx.Response] = []

    def accepted() -> bool:
        # A 503 (the API's producer still logging in and finding the partition leaders) is
        # retried with the same Idempotency-Key, as the API asks, so it is never counted twice.
        replies.append(
            httpx.post(
                f"{stack.url}/v1/events",
                content=msgspec.json.encode(event),
                headers={
                    "Authorization": f"Bearer {stack.tokens['ingest']}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": event.event_id,
                },
                timeout=30,
            )
        )
        assert replies[-1].status_code in (202, 503), replies[-1].text
        return replies[-1].status_code == 202

    wait_until(accepted, 90, f"the API to accept {event_type}")


def _site_position(stack: Stack) -> dict[str, int] | None:
    headers = {"Authorization": f"Bearer {stack.tokens['viewer']}"}
    response = httpx.get(f"{stack.url}/v1/skus/{SKU}", headers=headers, timeout=5)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    site: dict[str, int] = response.json()["sites"][SITE]
    return site


def test_the_stack_moves_positions_over_sasl_ssl_with_scram(
    secured_broker: SecuredBroker,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Every part of the stack inherits these (the supervisor starts them with this
    # environment), and so do the topic creation and probes this process runs.
    secure_env(monkeypatch, secured_broker.certs.ca_pem)
    stack = Stack(
        bootstrap=secured_broker.bootstrap,
        master_data=REPO_ROOT / "examples" / "network.yaml",
        state_dir=tmp_path / "state",
        tokens=generate_tokens(),
        api_port=free_port(),
        log_dir=tmp_path / "logs",
        flow_args=("--no-recovery",),
        flow_metrics_ports={"normalize": free_port(), "twin": free_port()},
    )
    with stack:
        stack.start(say=lambda line: print(f"secured stack: {line}"))
        assert stack.broker is None, "the stack must use the secured broker, not start its own"

        _post(stack, EventType.COUNTED, 1234)
        wait_until(
            lambda: (_site_position(stack) or {}).get("on_hand") == 1234,
            60,
            "the counted stock to show in the SKU's position",
        )
        _post(stack, EventType.RESERVED, 34)
        wait_until(
            lambda: (_site_position(stack) or {}).get("reserved") == 34,
            30,
            "the reservation to move the position",
        )
        site = _site_position(stack)
        assert site is not None and site["on_hand"] == 1234 and site["atp"] == 1200
        for name, child in stack.children.items():
            assert child.process.poll() is None, f"{name} exited: see {child.log_path}"
        # nothing any part logged carries the password
        for log in (tmp_path / "logs").iterdir():
            assert PASSWORD not in log.read_text(errors="replace"), log.name
