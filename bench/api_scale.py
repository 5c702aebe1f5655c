"""Benchmark: an API replica at catalogue size, started against a full positions topic.

Scenario, for each size (`--skus` x `--sites`, default 100,000 x 20 = 2 million SKU-sites,
and 5,000 x 6 beside it as the baseline of the same run): the bundle of
`invtwin sim network` is generated, every contract topic is created under a suffix of its
own on the real broker (`--bootstrap`), and one position per SKU (every site's buckets; ATP at
or below the reorder point at about 4% of SKU-sites, one SKU in 100 stale at one site) is
produced straight onto the positions topic. Then a fresh API process is started
(`uvicorn --factory api.app:create_app_from_env`, the bundle in `TWIN_MASTER_DATA`).

Measured per size:
- `api_ready_s`: wall seconds from the process's start until `/readyz` answers 200 (master
  data loaded, the view caught up with every topic); `api_rss_mb`: the process's resident
  memory then (interpreter, FastAPI, Kafka client, master data and the view);
- `<filter>_p50_ms` / `_p99_ms`: `GET /v1/skus` for a 100-row page with each filter
  (first page, SKU prefix, site, at-risk, stale), sequential requests over HTTP, `--pages` each;
- `produce_s`: producing the positions (setup, not the API's cost).
Ratios `big / small` are given for ready time and RSS.

The last line of stdout is the JSON result, also written to bench/results/api_scale.json.
    TWIN_PURE=1 .venv/bin/python -m bench.api_scale [--skus 100000 --sites 20 --pages 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
from confluent_kafka import Producer

from infra.kafka_clients import delete_topics, ensure_topics
from infra.topics import TOPIC_SPECS, TWIN_POSITIONS
from twin.wire import NetworkTotals, Position, SitePosition

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "api_scale.json"
TOKEN = "bench-viewer"
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def generate_bundle(skus: int, sites: int, out: Path) -> None:
    """The bundle `invtwin sim network --out DIR` writes, generated in a child process."""
    code = (
        "import sys;from pathlib import Path;from cli.masterdata import write_master;"
        "from twin.masterdata_gen import generate_columns as g;"
        "write_master(g(sites=int(sys.argv[1]),skus=int(sys.argv[2]),seed=0),Path(sys.argv[3]))"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(sites), str(skus), str(out)],
        check=True,
        cwd=REPO,
    )


def catalogue_ids(bundle: Path) -> tuple[list[str], list[str]]:
    """SKU and site ids of the bundle, read in a child so this process stays small."""
    code = (
        "import json,sys;from twin.masterdata import load_master_index as l;"
        "c=l(__import__('pathlib').Path(sys.argv[1])).columns;"
        "print(json.dumps([list(c.sku_ids),[s.id for s in c.sites]]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(bundle)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout
    skus, sites = json.loads(out)
    return skus, sites


def produce_positions(bootstrap: str, topic: str, skus: list[str], sites: list[str]) -> float:
    rng = random.Random(1)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 50, "compression.type": "lz4"}
    )
    encoder = msgspec.json.Encoder()
    started = time.perf_counter()
    for n, sku in enumerate(skus):
        position = Position(
            sku=sku,
            version=1,
            as_of=T0,
            sites={
                site: SitePosition(
                    on_hand=400,
                    atp=rng.randint(-1, 5) if rng.random() < 0.04 else 400,
                    last_event_at=T0,
                    fresh=not (n % 100 == 0 and i == 0),
                )
                for i, site in enumerate(sites)
            },
            network=NetworkTotals(on_hand=400 * len(sites), atp=400 * len(sites)),
        )
        while True:
            try:
                producer.produce(topic, key=sku.encode(), value=encoder.encode(position))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("positions not all delivered")
    return time.perf_counter() - started


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentiles(samples: list[float]) -> dict[str, float]:
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(samples[max(0, int(len(samples) * 0.99) - 1)], 2),
    }


def measure_api(
    bootstrap: str,
    suffix: str,
    bundle: Path,
    state: Path,
    skus: list[str],
    sites: list[str],
    pages: int,
    ready_timeout_s: float,
) -> dict[str, Any]:
    port = free_port()
    env = {
        **os.environ,
        "TWIN_KAFKA_BOOTSTRAP": bootstrap,
        "TWIN_API_TOPIC_SUFFIX": suffix,
        "TWIN_MASTER_DATA": str(bundle),
        "TWIN_API_TOKENS": f"{TOKEN}:viewer",
        "TWIN_STATE_DIR": str(state),
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.app:create_app_from_env",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=REPO,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            deadline = started + ready_timeout_s
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"API exited with {process.returncode}")
                try:
                    if http.get("/readyz", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("API not ready in time")
                time.sleep(0.1)  # polling a child process's readiness with a deadline
            result: dict[str, Any] = {
                "api_ready_s": round(time.monotonic() - started, 2),
                "api_rss_mb": round(rss_mb(process.pid), 1),
            }
            count = http.get("/readyz").json()["view"]["positions"]
            result["view_positions"] = count
            rng = random.Random(2)
            filters: dict[str, Any] = {
                "first": lambda: {},
                "prefix": lambda: {"prefix": rng.choice(skus)[:-2]},
                "site": lambda: {"site": rng.choice(sites)},
                "at_risk": lambda: {"at_risk": "true"},
                "site_at_risk": lambda: {"site": rng.choice(sites), "at_risk": "true"},
                "stale": lambda: {"stale": "true"},
            }
            for name, params in filters.items():
                samples = []
                for _ in range(pages):
                    query = {"limit": 100, **params()}
                    begin = time.perf_counter()
                    response = http.get("/v1/skus", params=query, timeout=30)
                    samples.append((time.perf_counter() - begin) * 1000)
                    response.raise_for_status()
                for stat, value in percentiles(samples).items():
                    result[f"{name}_{stat}"] = value
            return result
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_size(
    bootstrap: str, skus_n: int, sites_n: int, pages: int, ready_timeout_s: float
) -> dict[str, Any]:
    suffix = f".bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="api-scale-") as tmp:
        bundle = Path(tmp) / "bundle"
        generate_bundle(skus_n, sites_n, bundle)
        skus, sites = catalogue_ids(bundle)
        ensure_topics(bootstrap, TOPIC_SPECS, suffix=suffix)
        try:
            produce_s = produce_positions(bootstrap, TWIN_POSITIONS + suffix, skus, sites)
            result = measure_api(
                bootstrap,
                suffix,
                bundle,
                Path(tmp) / "state",
                skus,
                sites,
                pages,
                ready_timeout_s,
            )
        finally:
            delete_topics(bootstrap, [spec.name + suffix for spec in TOPIC_SPECS])
    return {"skus": skus_n, "sites": sites_n, "produce_s": round(produce_s, 2), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--small-skus", type=int, default=5_000)
    parser.add_argument("--small-sites", type=int, default=6)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--ready-timeout-s", type=float, default=600.0)
    args = parser.parse_args()
    small = run_size(args.bootstrap, args.small_skus, args.small_sites, args.pages, 120.0)
    big = run_size(args.bootstrap, args.skus, args.sites, args.pages, args.ready_timeout_s)
    result: dict[str, Any] = {
        "name": "api_scale",
        **big,
        "sku_sites": args.skus * args.sites,
        "small": small,
        "ready_ratio": round(big["api_ready_s"] / small["api_ready_s"], 2),
        "rss_ratio": round(big["api_rss_mb"] / small["api_rss_mb"], 2),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
