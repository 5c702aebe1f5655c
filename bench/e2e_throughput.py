"""End-to-end throughput and latency of the two flows on the real broker, beside raw Kafka.

Raw feed (API messages and middleware batches) → `invtwin flow normalize` → canonical events
→ `invtwin flow twin` → `twin.positions.v1`, both flows running as their own OS processes,
exactly as deployed. Every generated event moves some bucket, so a SKU's final position
version equals its number of events: a consumer of the positions topic knows when the last
event is visible.

* Throughput (`e2e_events_per_s_*`): N events are pre-loaded on the raw topics; the flows
  start; the rate is N / (time the last SKU reaches its final version - time the first
  position appears), so process start-up (imports, master data) is not counted. Runs: 1
  worker each with recovery at the shipped snapshot interval, the same without recovery,
  and 2 processes per flow (one Bytewax cluster per flow) with recovery, and 2 processes for
  the twin flow alone (normalize in one).
* Latency (`latency_p50_ms`, `latency_p99_ms`): API events offered at a fixed rate
  (default 5,000/s) to running flows; an event's latency is from its produce call to the
  arrival of the first position whose version covers it (same process, same clock).
* `raw_consume_per_s`: `bench.kafka_baseline.measure_baseline` in the same run.

    .venv/bin/python -m bench.e2e_throughput [--events 2000000] [--runs 2] [--rate 5000]

A run must be long enough to hold a snapshot of the twin flow (every 30 s) for the recovery
figures to mean anything: at ~45k events/s the default 2M events take ~45 s per run.

Writes bench/results/e2e_throughput.json and prints it as the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from confluent_kafka import Consumer, Producer, TopicPartition

from bench.kafka_baseline import measure_baseline
from bench.publish import publish
from dataflows.settings import DEFAULT_SNAPSHOT_INTERVAL_S
from infra.broker import LocalBroker
from infra.kafka_clients import delete_topics, ensure_topics, producer_config
from infra.probe import metadata_ready
from infra.settings import BrokerSettings
from infra.topics import TOPIC_SPECS, topic_names
from twin.masterdata import MasterData, dump_master_data
from twin.masterdata_gen import generate_master_data

REPO = Path(__file__).resolve().parents[1]
# Types that always move a bucket, so every event bumps its SKU's version by one.
_TYPES = ("RECEIVED", "PUT_AWAY", "RESERVED", "PICKED", "SHIPPED")
_BATCH_RECORDS = 100


class _Version(msgspec.Struct):
    sku: str
    version: int


_version_decoder = msgspec.json.Decoder(_Version)


# -- data --------------------------------------------------------------------------------


def bench_master(skus: int) -> MasterData:
    md = generate_master_data(sites=6, skus=skus, seed=1)
    # feeds never go stale during a run: freshness flips would bump versions
    sites = [msgspec.structs.replace(s, expected_interval_s=86_400.0) for s in md.sites]
    return msgspec.structs.replace(md, sites=sites)


def _event(i: int, sku: str, site: str, at: datetime) -> dict[str, Any]:
    stamp = at.isoformat().replace("+00:00", "Z")
    return {
        "event_id": f"e{i}",
        "type": _TYPES[i % len(_TYPES)],
        "sku": sku,
        "site": site,
        "qty": i % 7 + 1,
        "uom": "each",
        "occurred_at": stamp,
        "recorded_at": stamp,
        "source": f"bench:{site}",
    }


def raw_load(master: MasterData, n: int, seed: int) -> tuple[list[tuple[str, bytes]], dict]:
    """(topic kind, message) pairs carrying `n` events, and each SKU's final version."""
    rng = random.Random(seed)
    skus = [s.id for s in master.skus]
    api_sites = [s.id for s in master.sites if s.feed_mode == "api"]
    batch_sites = [s.id for s in master.sites if s.feed_mode == "batch"]
    t0 = datetime(2026, 11, 20, tzinfo=UTC)
    finals: dict[str, int] = defaultdict(int)
    out: list[tuple[str, bytes]] = []
    pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i in range(n):
        sku = rng.choice(skus)
        finals[sku] += 1
        at = t0 + timedelta(milliseconds=i)
        if batch_sites and i % 3 == 0:
            site = batch_sites[i % len(batch_sites)]
            pending[site].append(_event(i, sku, site, at))
            if len(pending[site]) == _BATCH_RECORDS:
                out.append(("batch", _batch(site, pending.pop(site), at)))
        else:
            out.append(
                ("api", json.dumps(_event(i, sku, api_sites[i % len(api_sites)], at)).encode())
            )
    for site, records in pending.items():
        out.append(("batch", _batch(site, records, t0 + timedelta(milliseconds=n))))
    return out, dict(finals)


def _batch(site: str, records: list[dict[str, Any]], at: datetime) -> bytes:
    return json.dumps(
        {
            "batch_id": f"b-{uuid.uuid4().hex[:10]}",
            "site": site,
            "sent_at": at.isoformat().replace("+00:00", "Z"),
            "records": records,
        }
    ).encode()


# -- watching positions ------------------------------------------------------------------


@dataclass
class PositionWatch:
    """Reads the positions topic in a thread; records when each (sku, version) appears."""

    bootstrap: str
    topic: str
    targets: dict[str, int]
    first_at: float | None = None
    done_at: float | None = None
    seen: dict[str, int] = field(default_factory=dict)
    arrivals: list[tuple[float, str, int]] = field(default_factory=list)
    keep_arrivals: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"bench-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
                "log_level": 3,
            }
        )
        parts = consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions
        consumer.assign([TopicPartition(self.topic, p, 0) for p in parts])
        remaining = {s for s, v in self.targets.items() if v > 0}
        try:
            while not self._stop.is_set():
                for msg in consumer.consume(5000, 0.05):
                    if msg.error():
                        continue
                    now = time.perf_counter()
                    pos = _version_decoder.decode(msg.value())
                    if self.first_at is None:
                        self.first_at = now
                    if pos.version > self.seen.get(pos.sku, 0):
                        self.seen[pos.sku] = pos.version
                        if self.keep_arrivals:
                            self.arrivals.append((now, pos.sku, pos.version))
                        if pos.version >= self.targets.get(pos.sku, 1 << 62):
                            remaining.discard(pos.sku)
                if not remaining and self.done_at is None and self.targets:
                    self.done_at = time.perf_counter()
        finally:
            consumer.close()


# -- running the flows -------------------------------------------------------------------


def _start(flow: str, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "flow", flow, *args],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=out,
            stderr=out,
            start_new_session=True,  # its own group: -p children are stopped with it
        )


def _session_cpu_s(session: int) -> float:
    """User + system CPU seconds of every live process of a session (a flow and its -p members)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state ppid pgrp session ... utime(12) stime(13)
        if int(fields[3]) == session:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _snapshot_epochs(state_dir: Path, suffix: str) -> int:
    """How many epochs the twin flow committed (each one a snapshot of every shard)."""
    epochs = 0
    for part in (state_dir / "recovery" / f"twin{suffix}").glob("part-*.sqlite3"):
        with sqlite3.connect(part) as db:
            row = db.execute("select max(commit_epoch) from commits").fetchone()
            epochs = max(epochs, row[0] or 0)
    return epochs


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass
class Run:
    bootstrap: str
    master_path: Path
    state_dir: Path
    log: Path

    def env(self) -> dict[str, str]:
        return {
            "TWIN_KAFKA_BOOTSTRAP": self.bootstrap,
            "TWIN_MASTER_DATA": str(self.master_path),
            "TWIN_STATE_DIR": str(self.state_dir),
        }

    def flows(
        self, suffix: str, extra: list[str], port: int, twin_only: list[str] | None = None
    ) -> list[subprocess.Popen]:
        """Both flows with options `extra`; `twin_only` options go to the twin flow alone."""
        twin_extra = [*extra, *(twin_only or [])]

        def ports(options: list[str], base: int) -> list[str]:
            return ["--base-port", str(base)] if "-p" in options else []

        common = ["--topic-suffix", suffix]
        return [
            _start("normalize", [*common, *extra, *ports(extra, port)], self.env(), self.log),
            _start(
                "twin", [*common, *twin_extra, *ports(twin_extra, port + 10)], self.env(), self.log
            ),
        ]


def _produce(bootstrap: str, topics: dict[str, str], messages: list[tuple[str, bytes]]) -> None:
    producer = Producer(producer_config(bootstrap))
    names = {"api": topics["feeds.api.v1"], "batch": topics["feeds.batch.v1"]}
    for n, (kind, value) in enumerate(messages):
        while True:
            try:
                producer.produce(names[kind], value=value)
                break
            except BufferError:
                producer.poll(0.05)
        if n % 5000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0


def throughput(
    run: Run,
    master: MasterData,
    n: int,
    extra: list[str],
    port: int,
    timeout: float,
    twin_only: list[str] | None = None,
) -> dict[str, Any]:
    suffix = f".bench{uuid.uuid4().hex[:8]}"
    topics = topic_names(suffix)
    ensure_topics(run.bootstrap, TOPIC_SPECS, suffix=suffix)
    messages, finals = raw_load(master, n, seed=n)
    _produce(run.bootstrap, topics, messages)
    watch = PositionWatch(run.bootstrap, topics["twin.positions.v1"], finals)
    watch.start()
    procs = run.flows(suffix, extra, port, twin_only)
    deadline = time.monotonic() + timeout
    cpu_s = 0.0
    try:
        while watch.done_at is None and time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a flow exited early; see {run.log}")
            time.sleep(0.1)  # poll period of the watcher's progress
        # includes start-up (imports, master data): compare runs, not absolute figures
        cpu_s = sum(_session_cpu_s(p.pid) for p in procs)
    finally:
        watch.stop()
        for p in procs:
            _stop(p)
        delete_topics(run.bootstrap, topics.values())
    if watch.done_at is None or watch.first_at is None:
        done = sum(1 for s, v in finals.items() if watch.seen.get(s, 0) >= v)
        raise RuntimeError(f"timed out: {done} of {len(finals)} SKUs complete")
    elapsed = watch.done_at - watch.first_at
    return {
        "events": n,
        "seconds": round(elapsed, 2),
        "events_per_s": round(n / elapsed),
        "flows_cpu_s": round(cpu_s, 2),
        "flows_cpu_us_per_event": round(cpu_s / n * 1e6, 1),
        "snapshot_epochs": _snapshot_epochs(run.state_dir, suffix),
        "options": extra,
        "twin_options": twin_only or [],
    }


def latency(run: Run, master: MasterData, rate: int, seconds: float, port: int) -> dict[str, Any]:
    suffix = f".bench{uuid.uuid4().hex[:8]}"
    topics = topic_names(suffix)
    ensure_topics(run.bootstrap, TOPIC_SPECS, suffix=suffix)
    watch = PositionWatch(run.bootstrap, topics["twin.positions.v1"], {}, keep_arrivals=True)
    watch.start()
    procs = run.flows(suffix, [], port)
    producer = Producer(producer_config(run.bootstrap, **{"linger.ms": 1}))
    api_sites = [s.id for s in master.sites if s.feed_mode == "api"]
    skus = [s.id for s in master.skus]
    rng = random.Random(7)
    try:
        # warm up: wait until one event makes it through both flows
        warm = _event(0, skus[0], api_sites[0], datetime.now(UTC))
        producer.produce(topics["feeds.api.v1"], json.dumps(warm).encode())
        producer.flush(10)
        deadline = time.monotonic() + 180
        while not watch.seen and time.monotonic() < deadline:
            time.sleep(0.05)  # poll period
        if not watch.seen:
            raise RuntimeError(f"flows did not start; see {run.log}")
        sent: list[tuple[float, str, int]] = []
        versions: dict[str, int] = dict(watch.seen)
        total = int(rate * seconds)
        start = time.perf_counter()
        for i in range(1, total + 1):
            due = start + i / rate
            if time.perf_counter() < due:
                # pace in ~1 ms steps: a busy-wait here took a whole core from the flows
                producer.poll(0)
                time.sleep(max(0.0, due - time.perf_counter()))
            sku = rng.choice(skus)
            versions[sku] = versions.get(sku, 0) + 1
            event = _event(i, sku, api_sites[i % len(api_sites)], datetime.now(UTC))
            producer.produce(topics["feeds.api.v1"], json.dumps(event).encode())
            sent.append((time.perf_counter(), sku, versions[sku]))
        producer.flush(30)
        offered = total / (time.perf_counter() - start)
        targets = versions
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(
            watch.seen.get(s, 0) < v for s, v in targets.items()
        ):
            time.sleep(0.1)  # poll period
    finally:
        watch.stop()
        for p in procs:
            _stop(p)
        delete_topics(run.bootstrap, topics.values())
    arrivals: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for at, sku, version in watch.arrivals:
        arrivals[sku].append((version, at))
    lat: list[float] = []
    missing = 0
    for sent_at, sku, version in sent:
        visible = next((at for v, at in arrivals[sku] if v >= version), None)
        if visible is None:
            missing += 1
        else:
            lat.append((visible - sent_at) * 1000)
    lat.sort()
    return {
        "offered_per_s": round(offered),
        "events": len(sent),
        "not_visible": missing,
        "p50_ms": round(lat[len(lat) // 2], 1) if lat else None,
        "p99_ms": round(lat[int(len(lat) * 0.99)], 1) if lat else None,
        "max_ms": round(lat[-1], 1) if lat else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--skus", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=2, help="throughput runs per variant")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()

    settings = BrokerSettings()
    bootstrap = settings.kafka_bootstrap
    broker: LocalBroker | None = None
    if not metadata_ready(bootstrap, timeout=5):
        broker = LocalBroker(settings)
        bootstrap = broker.up().bootstrap
    master = bench_master(args.skus)
    tmp = Path(tempfile.mkdtemp(prefix="e2e-bench-"))
    master_path = tmp / "master.yaml"
    master_path.write_text(dump_master_data(master))
    run = Run(bootstrap, master_path, tmp / "state", tmp / "flows.log")
    load_before = os.getloadavg()
    try:
        baseline = measure_baseline(bootstrap, messages=100_000, runs=1)

        variants = {
            "recovery": [],
            "recovery_10s": ["--snapshot-interval", "10"],
            "no_recovery": ["--no-recovery"],
        }
        results: dict[str, list[dict]] = {name: [] for name in variants}
        # interleaved, so a change in the machine's load hits every variant alike
        for _ in range(args.runs):
            for name, extra in variants.items():
                results[name].append(throughput(run, master, args.events, extra, 0, args.timeout))
        cluster_port = 23000 + os.getpid() % 1000
        # Two workers as two processes (threads share one GIL): for both flows, and for the
        # twin flow alone (the costlier one; normalize keeps one process)
        results["two_processes"] = [
            throughput(run, master, args.events, ["-p", "2"], cluster_port, args.timeout)
        ]
        results["twin_two_processes"] = [
            throughput(run, master, args.events, [], cluster_port, args.timeout, ["-p", "2"])
        ]

        def median(name: str, key: str) -> float:
            return statistics.median(r[key] for r in results[name])

        lat = latency(run, master, args.rate, args.latency_seconds, 0)
    finally:
        if broker is not None:
            broker.down()
    rec, norec = median("recovery", "events_per_s"), median("no_recovery", "events_per_s")
    cpu_rec = median("recovery", "flows_cpu_us_per_event")
    cpu_norec = median("no_recovery", "flows_cpu_us_per_event")
    # What one snapshot costs, from the 10 s runs (several snapshots each) against the runs
    # without recovery, and what that means at the shipped interval in a long run
    per_snapshot = statistics.median(
        (r10["seconds"] - r0["seconds"]) / max(1, r10["snapshot_epochs"])
        for r10, r0 in zip(results["recovery_10s"], results["no_recovery"], strict=True)
    )
    interval = DEFAULT_SNAPSHOT_INTERVAL_S
    result = {
        "e2e_events_per_s_1w": round(rec),
        "e2e_events_per_s_2w": round(median("two_processes", "events_per_s")),
        "e2e_events_per_s_2w_twin_only": round(median("twin_two_processes", "events_per_s")),
        "raw_consume_per_s": baseline["consume_per_s"],
        "latency_p50_ms": lat["p50_ms"],
        "latency_p99_ms": lat["p99_ms"],
        "e2e_events_per_s_recovery": round(rec),
        "e2e_events_per_s_no_recovery": round(norec),
        "recovery_cost_pct": round(100 * (1 - rec / norec), 1),
        "recovery_cpu_cost_pct": round(100 * (1 - cpu_norec / cpu_rec), 1),
        "snapshot_cost_s": round(per_snapshot, 2),
        "recovery_steady_cost_pct": round(100 * max(0.0, per_snapshot) / interval, 1),
        "e2e_vs_raw_consume": round(rec / baseline["consume_per_s"], 3),
        "details": {
            "events": args.events,
            "skus": args.skus,
            "sites": len(master.sites),
            "snapshot_interval_s": DEFAULT_SNAPSHOT_INTERVAL_S,
            "runs": results,
            "latency": lat,
            "latency_offered_rate": args.rate,
            "baseline": baseline,
            "1w_means": "one process per flow, one worker each, recovery at the shipped interval",
            "2w_twin_only_means": "normalize in 1 process, the twin flow in 2 (-p 2)",
            "2w_means": "2 processes per flow (-p 2): one Bytewax cluster each, one worker "
            "per process; threads (-w 2) would share one GIL",
            "recovery_steady_cost_means": "snapshot_cost_s (median over the 10 s runs of "
            "(their time - the no-recovery time) / their snapshots) per shipped interval: "
            "the share of a long run's time spent on snapshots",
            "throughput_clock": "first position seen -> every SKU at its final version",
            "cpu": "user+system CPU of both flow processes, start-up included (from /proc)",
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
    }
    publish("e2e_throughput", result)


if __name__ == "__main__":
    main()
