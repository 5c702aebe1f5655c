"""Test doubles of the API's outside world: a producer, records, a scenario runner."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api.problems import BrokerUnavailable
from twin.wire import Alert, LatencyStats, NetworkTotals, Position, SiteMetric, SitePosition

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


class FakeProducer:
    """Records what was produced; `fail=True` acts like an unreachable broker."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.fail = False
        self.delay_s = delay_s
        self.closed = False

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail:
            raise BrokerUnavailable("broker down (fake)", headers={"Retry-After": "5"})
        self.sent.append((topic, key, value))

    def close(self) -> None:
        self.closed = True


def position(
    sku: str,
    version: int,
    *,
    site: str = "WH-01",
    on_hand: int = 100,
    atp: int | None = None,
    as_of: datetime | None = None,
) -> Position:
    atp = on_hand if atp is None else atp
    return Position(
        sku=sku,
        version=version,
        as_of=as_of or T0 + timedelta(seconds=version),
        sites={site: SitePosition(on_hand=on_hand, atp=atp, last_event_at=T0)},
        network=NetworkTotals(on_hand=on_hand, atp=atp, in_transit=0),
    )


def alert(
    alert_id: str,
    *,
    sku: str = "SKU-1",
    site: str = "WH-01",
    state: str = "raised",
    kind: str = "LOW_STOCK",
) -> Alert:
    return Alert(
        id=alert_id,
        kind=kind,  # type: ignore[arg-type]
        severity="warning",
        detected_at=T0,
        explanation="ATP below reorder point",
        state=state,  # type: ignore[arg-type]
        sku=sku,
        site=site,
    )


def site_metric(
    site: str, *, fresh: bool = True, p95_ms: float = 120.0, transfer_cycle_s: float | None = None
) -> SiteMetric:
    return SiteMetric(
        site=site,
        as_of=T0,
        events=10,
        visible_latency=LatencyStats(
            count=10, p50_ms=50.0, p95_ms=p95_ms, p99_ms=200.0, max_ms=300.0
        ),
        last_event_at=T0,
        fresh=fresh,
        transfer_cycle_s_p50=transfer_cycle_s,
    )


def fake_runner(*, on_event: Any, out_dir: Path, seed: int, **_: Any) -> dict[str, Any]:
    """A scenario runner for tests: three progress steps, a metric, a report and a plot."""
    for pct in (0, 50, 100):
        on_event({"type": "progress", "sim_time_s": pct, "pct": pct, "events": pct * 10})
    on_event(
        {
            "type": "metrics",
            "sim_time_s": 10,
            "accuracy": 0.99,
            "max_abs_atp_error": 1,
            "staleness_p95_s": 2.0,
        }
    )
    plot = out_dir / "accuracy.png"
    plot.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 16)
    report = {"seed": seed, "accuracy": 0.99}
    on_event({"type": "report", "report": report, "plots": {"accuracy": str(plot)}})
    return report


def failing_runner(**_: Any) -> dict[str, Any]:
    raise RuntimeError("scenario exploded")


def event_json(event_id: str = "evt-1", *, sku: str = "SKU-1", qty: int = 5) -> dict[str, Any]:
    """A valid canonical event as a client would post it."""
    return {
        "event_id": event_id,
        "type": "RECEIVED",
        "sku": sku,
        "site": "WH-01",
        "qty": qty,
        "uom": "EA",
        "occurred_at": "2026-11-26T10:00:00Z",
        "source": "wms-api:WH-01",
    }
