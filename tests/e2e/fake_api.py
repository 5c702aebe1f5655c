"""A tiny stand-in of the twin API, shaped like docs/internal-contracts.md, for browser tests
of the dashboard's own behaviour (labels, live updates) without Kafka or dataflows.

The real-stack tests in this folder drive the real API; this one lets a test put exactly the
alert or position it wants on the page. Positions follow DESIGN's bucket table for the few
event types the tests post; anything else only bumps the version.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"
SITES = [
    {"site": "WH-01", "name": "Leeds DC", "feed_mode": "api"},
    {"site": "WH-02", "name": "Bristol DC", "feed_mode": "batch"},
    {"site": "3PL-ACME", "name": "Acme 3PL", "feed_mode": "3pl"},
]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _at_risk(position: dict[str, Any]) -> bool:
    at_site = position["sites"].get("WH-02")
    return at_site is not None and at_site["atp"] <= 100


class FakeTwin:
    """Positions, alerts and per-connection queues, kept in memory."""

    def __init__(self) -> None:
        self.positions: dict[str, dict[str, Any]] = {}
        self.alerts: dict[str, dict[str, Any]] = {}
        self.queues: list[
            tuple[set[str] | None, set[str], asyncio.Queue[dict[str, Any] | None]]
        ] = []
        for n in range(1, 31):
            sku = f"SKU-{n:05d}"
            self.positions[sku] = self._position(sku, {s["site"]: 100 for s in SITES}, 1)

    def _position(self, sku: str, on_hand: dict[str, int], version: int) -> dict[str, Any]:
        sites = {
            site: {
                "on_hand": qty,
                "receiving": 0,
                "reserved": 0,
                "picked": 0,
                "quarantined": 0,
                "in_transit": 0,
                "atp": qty,
                "last_event_at": _now(),
                "fresh": site != "3PL-ACME",
            }
            for site, qty in on_hand.items()
        }
        total = sum(on_hand.values())
        return {
            "sku": sku,
            "version": version,
            "as_of": _now(),
            "sites": sites,
            "network": {"on_hand": total, "atp": total, "in_transit": 0},
        }

    def apply(self, event: dict[str, Any]) -> None:
        position = self.positions[event["sku"]]
        on_hand = {site: b["on_hand"] for site, b in position["sites"].items()}
        sign = {"RECEIVED": 1, "SHIPPED": -1, "ADJUSTED": 1}.get(event["type"], 0)
        on_hand[event["site"]] = on_hand.get(event["site"], 0) + sign * int(event["qty"])
        updated = self._position(event["sku"], on_hand, position["version"] + 1)
        self.positions[event["sku"]] = updated
        self.publish({"positions": [updated]}, sku=event["sku"])

    def raise_alert(self, alert: dict[str, Any]) -> None:
        self.alerts[alert["id"]] = alert
        self.publish({"alerts": [alert]}, sku=None)

    def publish(self, delta: dict[str, Any], sku: str | None) -> None:
        for skus, channels, queue in self.queues:
            if "positions" in delta and ("positions" not in channels or (skus and sku not in skus)):
                continue
            if "alerts" in delta and "alerts" not in channels:
                continue
            queue.put_nowait(delta)


def create_fake_app(tokens: dict[str, str]) -> FastAPI:
    """The fake API; `tokens` maps token -> role."""
    app = FastAPI()
    twin = FakeTwin()
    app.state.twin = twin

    def role(request: Request) -> str:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token not in tokens:
            raise HTTPException(401, "missing or unknown token")
        return tokens[token]

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/")
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/v1/network")
    def network(request: Request) -> dict[str, Any]:
        role(request)
        sites = [
            {
                **s,
                "fresh": s["site"] != "3PL-ACME",
                "last_event_at": _now(),
                "visible_latency_p95_ms": 240.0,
                "last_visible_latency_p95": {"value": 240.0, "as_of": _now()},
                "transfer_cycle_s_p50": 93_600.0 if s["site"] == "WH-02" else None,
                "last_transfer_cycle_s_p50": (
                    {"value": 93_600.0, "as_of": _now()} if s["site"] == "WH-02" else None
                ),
                "skus_at_risk": 2 if s["site"] == "WH-02" else 0,
            }
            for s in SITES
        ]
        totals = {"on_hand": 9000, "atp": 8800, "in_transit": 40, "skus": len(twin.positions)}
        clock = {"simulated": False, "speed": 1.0}
        return {
            "as_of": _now(),
            "clock": clock,
            "totals": totals,
            "sites": sites,
            "open_alerts": {},
        }

    @app.get("/v1/skus")
    def skus(
        request: Request,
        prefix: str = "",
        at_risk: bool | None = None,
        cursor: str = "",
        limit: int = 100,
    ) -> dict[str, Any]:
        role(request)
        # The real listing's shape; the cursor is the last SKU id (opaque to the page).
        # At risk here: ATP at or below a reorder point of 100 at WH-02, the fake's rule.
        matching = [
            position
            for sku, position in sorted(twin.positions.items())
            if sku.startswith(prefix)
            and sku > cursor
            and (at_risk is None or _at_risk(position) == at_risk)
        ]
        page = matching[:limit]
        next_cursor = page[-1]["sku"] if len(matching) > limit else None
        return {"positions": page, "skus": [p["sku"] for p in page], "next_cursor": next_cursor}

    @app.get("/v1/skus/{sku}")
    def sku(request: Request, sku: str) -> dict[str, Any]:
        role(request)
        if sku not in twin.positions:
            raise HTTPException(404, "unknown sku")
        return twin.positions[sku]

    @app.post("/v1/events", status_code=202)
    async def events(request: Request) -> dict[str, Any]:
        role(request)
        body = await request.json()
        batch = body if isinstance(body, list) else [body]
        for event in batch:
            twin.apply(event)
        return {"accepted": [e["event_id"] for e in batch]}

    @app.post("/fake/alerts", status_code=202)
    async def fake_alert(alert: dict[str, Any]) -> dict[str, str]:
        """Test hook: publish an alert as the twin would."""
        twin.raise_alert(alert)
        return {"id": alert["id"]}

    @app.post("/fake/metrics", status_code=202)
    async def fake_metric(metric: dict[str, Any]) -> dict[str, str]:
        """Test hook: publish a site metric as the twin flow would."""
        twin.publish({"metrics": [metric]}, sku=None)
        return {"site": metric["site"]}

    @app.post("/fake/drop", status_code=202)
    async def fake_drop() -> dict[str, int]:
        """Test hook: close every stream connection, as a restarting server would."""
        for _, _, queue in twin.queues:
            queue.put_nowait(None)
        return {"dropped": len(twin.queues)}

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket) -> None:
        await ws.accept()  # like the real API: refusals are close codes after the handshake
        if ws.query_params.get("token") not in tokens:
            await ws.close(code=4401, reason="a valid token is required")
            return
        skus_param = ws.query_params.get("skus")
        skus = set(skus_param.split(",")) if skus_param else None
        channels = set(ws.query_params.get("channels", "positions,alerts,metrics").split(","))
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        entry = (skus, channels, queue)
        twin.queues.append(entry)
        positions = [p for s, p in twin.positions.items() if skus and s in skus]
        await ws.send_json(
            {
                "type": "snapshot",
                "seq": 1,
                "positions": positions if "positions" in channels else [],
                "alerts": list(twin.alerts.values()) if "alerts" in channels else [],
                "sites": [],
            }
        )
        seq = 1
        try:
            while True:
                delta = await queue.get()
                if delta is None:
                    await ws.close(code=1012)  # service restart
                    return
                seq += 1
                await ws.send_json(
                    {
                        "type": "delta",
                        "seq": seq,
                        "positions": [],
                        "alerts": [],
                        "metrics": [],
                        **delta,
                    }
                )
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            with contextlib.suppress(ValueError):
                twin.queues.remove(entry)

    return app
