"""Benchmark: WebSocket fan-out of position changes to many subscribed clients.

Scenario: `--clients` WebSocket clients (default 1,000), each subscribed to everything,
while positions change `--updates-per-s` times per second (default 10,000) over `--skus`
SKUs. The server is the real app (`create_app`) under uvicorn in its own process, fed by a
generator feed that writes positions into the view with `as_of` = the time written; the
clients run in `--client-procs` other processes so the server does not measure itself.

Measured, over `--duration` seconds after every client is connected:
- delivery latency p50/p99 (ms): client receive time minus the position's `as_of`, for every
  position in every frame (it includes waiting for the tick, `--tick-ms`);
- frames and bytes per second received, over all clients;
- the slowest client's lag: the highest per-client p99 latency; clients that got no frame
  (starved) and seq gaps (must be 0).
Baseline in the same run: the same server and load with a single client (no fan-out).

Writes bench/results/ws_fanout.json and prints it as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TOKEN = "bench-viewer"

from bench.publish import publish  # noqa: E402  (after the path is set, for `python bench/...`)

# -- server side -------------------------------------------------------------------------


class GeneratorFeed:
    """Writes `rate` position changes per second into the view, round-robin over SKUs."""

    def __init__(self, rate: int, skus: int, sites: int = 2) -> None:
        self.rate, self.skus, self.sites = rate, skus, sites
        self.task: asyncio.Task[None] | None = None

    def start(self, view: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.task = loop.create_task(self._run(view))

    def ready(self) -> bool:
        return True

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _run(self, view: Any) -> None:
        from twin.wire import NetworkTotals, Position, SitePosition

        sku_ids = [f"SKU-{i:05d}" for i in range(self.skus)]
        sites = [f"WH-{i:02d}" for i in range(1, self.sites + 1)]
        versions = dict.fromkeys(sku_ids, 0)
        step_s = 0.01
        per_step = max(1, round(self.rate * step_s))
        i = 0
        next_at = time.monotonic()
        while True:
            now = datetime.now(UTC)
            for _ in range(per_step):
                sku = sku_ids[i % len(sku_ids)]
                i += 1
                versions[sku] += 1
                qty = versions[sku] % 500
                view.apply_position(
                    Position(
                        sku=sku,
                        version=versions[sku],
                        as_of=now,
                        sites={
                            s: SitePosition(on_hand=qty, atp=qty, last_event_at=now) for s in sites
                        },
                        network=NetworkTotals(on_hand=qty * len(sites), atp=qty * len(sites)),
                    )
                )
            next_at += step_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


class NullProducer:
    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        return None

    def close(self) -> None:
        return None


def serve(port: int, rate: int, skus: int, tick_ms: float) -> None:
    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings

    settings = ApiSettings(
        api_tokens=f"{TOKEN}:viewer",
        ws_tick_s=tick_ms / 1000,
        ws_subscribe_wait_s=0,
        ws_max_connections=10_000,
        # Every benchmark client shares one token: its share is the whole server here.
        ws_max_connections_per_token=10_000,
        ws_queue_frames=64,
    )
    app = create_app(settings, feed=GeneratorFeed(rate, skus), producer=NullProducer())
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_per_message_deflate=False,
        backlog=4096,
        **settings.uvicorn_limits(),
    )


# -- client side -------------------------------------------------------------------------


class _AsOf(msgspec.Struct):
    as_of: datetime


class _Frame(msgspec.Struct):
    """Only what the client measures; msgspec skips every other field quickly."""

    type: str
    seq: int = 0
    positions: list[_AsOf] = []


def client_proc(url: str, n: int, connected: Any, measure: Any, stop: Any, out: Any) -> None:
    import numpy as np
    import websockets

    decoder = msgspec.json.Decoder(_Frame)

    sem = asyncio.Semaphore(20)  # a few handshakes at a time, as a ramp would

    async def one(stats: dict[str, Any], lat: list[float]) -> None:
        async with sem:
            for attempt in range(5):  # a loaded machine drops some handshakes: retry
                try:
                    ws = await websockets.connect(
                        url, max_size=2**24, compression=None, open_timeout=60
                    )
                    break
                except (OSError, TimeoutError, websockets.InvalidHandshake):
                    stats["connect_retries"] += 1
                    if attempt == 4:
                        raise
        async with ws:
            stats["connected"] = True
            last = None
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    continue
                now = time.time()
                frame = decoder.decode(raw)
                if frame.type not in ("snapshot", "delta"):
                    continue
                if last is not None and frame.seq != last + 1:
                    stats["gaps"] += 1
                last = frame.seq
                if frame.type == "delta" and measure.is_set():
                    stats["frames"] += 1
                    stats["bytes"] += len(raw)
                    lat.extend((now - p.as_of.timestamp()) * 1000 for p in frame.positions)

    async def main() -> list[dict[str, Any]]:
        stats = [
            {"frames": 0, "bytes": 0, "gaps": 0, "connected": False, "connect_retries": 0}
            for _ in range(n)
        ]
        lats: list[list[float]] = [[] for _ in range(n)]
        tasks = [asyncio.create_task(one(stats[k], lats[k])) for k in range(n)]
        while not all(s["connected"] for s in stats):
            await asyncio.sleep(0.05)
            if any(t.done() and t.exception() for t in tasks):
                raise next(t.exception() for t in tasks if t.done() and t.exception())
        connected.put(n)
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await asyncio.gather(*tasks, return_exceptions=True)
        for s, lat in zip(stats, lats, strict=True):
            arr = np.asarray(lat, dtype=np.float32)
            s["p99_ms"] = float(np.percentile(arr, 99)) if arr.size else None
            s["lat"] = arr
        return stats

    out.put(asyncio.run(main()))


# -- orchestration -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_phase(args: argparse.Namespace, clients: int) -> dict[str, Any]:
    import numpy as np

    ctx = mp.get_context("spawn")
    port = free_port()
    server = ctx.Process(target=serve, args=(port, args.updates_per_s, args.skus, args.tick_ms))
    server.start()
    _wait_port(port, 30)
    url = f"ws://127.0.0.1:{port}/v1/stream?token={TOKEN}"
    procs_n = min(args.client_procs, clients)
    connected, out = ctx.Queue(), ctx.Queue()
    measure, stop = ctx.Event(), ctx.Event()
    shares = [clients // procs_n + (1 if i < clients % procs_n else 0) for i in range(procs_n)]
    procs = [
        ctx.Process(target=client_proc, args=(url, k, connected, measure, stop, out))
        for k in shares
    ]
    try:
        for p in procs:
            p.start()
        for _ in procs:
            connected.get(timeout=300)
        time.sleep(args.warmup)  # bench settling period before measuring, not a wait-for
        cpu0 = _cpu_seconds(server.pid), sum(_cpu_seconds(p.pid) for p in procs)
        measure.set()
        t0 = time.monotonic()
        time.sleep(args.duration)  # the measurement window itself
        measure.clear()
        elapsed = time.monotonic() - t0
        cpu1 = _cpu_seconds(server.pid), sum(_cpu_seconds(p.pid) for p in procs)
        stop.set()
        stats = [s for _ in procs for s in out.get(timeout=60)]
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
        server.terminate()
        server.join(timeout=10)
    lat = np.concatenate([s["lat"] for s in stats]) if stats else np.array([])
    per_client = [s["p99_ms"] for s in stats if s["p99_ms"] is not None]
    frames = sum(s["frames"] for s in stats)
    server_cpu = cpu1[0] - cpu0[0]
    return {
        "clients": clients,
        "latency_p50_ms": round(float(np.percentile(lat, 50)), 1),
        "latency_p99_ms": round(float(np.percentile(lat, 99)), 1),
        "slowest_client_lag_ms": round(max(per_client), 1) if per_client else None,
        "median_client_p99_ms": round(statistics.median(per_client), 1) if per_client else None,
        "messages_per_s": round(frames / elapsed),
        "bytes_per_s": round(sum(s["bytes"] for s in stats) / elapsed),
        "positions_delivered_per_s": round(lat.size / elapsed),
        "starved_clients": sum(1 for s in stats if s["frames"] == 0),
        "seq_gaps": sum(s["gaps"] for s in stats),
        "connect_retries": sum(s["connect_retries"] for s in stats),
        # CPU actually obtained on a shared machine: tells a saturated server from a starved one.
        "server_cpu_util": round(server_cpu / elapsed, 2),
        "server_cpu_us_per_frame": round(1e6 * server_cpu / frames, 1) if frames else None,
        "clients_cpu_util": round((cpu1[1] - cpu0[1]) / elapsed, 2),
    }


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("bench server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--updates-per-s", type=int, default=10_000)
    parser.add_argument("--skus", type=int, default=20)
    parser.add_argument("--tick-ms", type=float, default=100.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--client-procs", type=int, default=4)
    args = parser.parse_args()

    baseline = run_phase(args, 1)
    result = run_phase(args, args.clients)
    report = {
        **result,
        "updates_per_s": args.updates_per_s,
        "skus": args.skus,
        "tick_ms": args.tick_ms,
        "duration_s": args.duration,
        "client_procs": args.client_procs,
        "baseline_single_client": baseline,
        "target_p99_ms": 300,
        "meets_target": result["latency_p99_ms"] < 300 and result["starved_clients"] == 0,
    }
    publish("ws_fanout", report)


if __name__ == "__main__":
    main()
