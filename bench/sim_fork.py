"""Fork from now: how long from the live twin's positions to a simulation's first event.

Writes a positions topic as the twin flow does (one record per SKU, every site's buckets),
then times, a few times each, alternately:
- `fork_seconds`: read the topic to its recorded end offsets (`simulator.fork.fork_live`),
  load the master data and open the simulation from the positions (its first events, the
  opening counts, are emitted when `Simulation.start` returns);
- the baseline: the same network opened from generated stock (no Kafka), as a run that does
  not fork starts.
Medians; `fork_vs_generated` is their ratio. Needs the broker (TWIN_KAFKA_BOOTSTRAP).

    python -m bench.sim_fork --sites 20 --skus 10000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import simpy
from confluent_kafka import Producer

from bench.publish import publish
from infra.kafka_clients import delete_topics, ensure_topics, producer_config
from infra.settings import BrokerSettings
from infra.topics import TWIN_POSITIONS, TopicSpec
from simulator.engine import Simulation
from simulator.fork import fork_live
from simulator.network import load_network
from simulator.spec import NetworkSpec, Scenario
from twin.masterdata_csv_write import write_bundle
from twin.masterdata_gen import generate_columns
from twin.wire import NetworkTotals, Position, SitePosition


def _write_positions(bootstrap: str, topic: str, skus: list[str], sites: list[str]) -> None:
    producer = Producer(producer_config(bootstrap))
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    for i, sku in enumerate(skus):
        figures = {
            site: SitePosition(on_hand=40 + (i + s) % 30, reserved=(i + s) % 3,
                               atp=40 + (i + s) % 30 - (i + s) % 3, last_event_at=now)
            for s, site in enumerate(sites)
        }  # fmt: skip
        value = Position(sku=sku, version=1, as_of=now, sites=figures, network=NetworkTotals())
        while True:
            try:
                producer.produce(topic, msgspec.json.encode(value), sku.encode())
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(120) == 0


def _open(scenario: Scenario) -> float:
    began = time.perf_counter()
    sim = Simulation(scenario, 1, simpy.Environment(), network=load_network(scenario.network))
    sim.start()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bootstrap = BrokerSettings().kafka_bootstrap
    columns = generate_columns(sites=args.sites, skus=args.skus, seed=1)
    topic = f"{TWIN_POSITIONS}.bench{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 6, {"cleanup.policy": "compact"})])
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "bundle"
        write_bundle(columns, bundle)
        network = load_network(NetworkSpec(path=str(bundle)))
        sites = [s.id for s in network.sites]
        try:
            _write_positions(bootstrap, topic, network.sku_ids, sites)
            base = Scenario(name="bench-fork", network=NetworkSpec(path=str(bundle)))
            forks: list[dict[str, float]] = []
            generated: list[float] = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                forked = fork_live(
                    base, bootstrap=bootstrap, master_data=bundle, topics={TWIN_POSITIONS: topic}
                )
                read_s = time.perf_counter() - began
                open_s = _open(forked)
                forks.append({"read_s": read_s, "open_s": open_s, "total_s": read_s + open_s})
                generated.append(_open(base))
        finally:
            delete_topics(bootstrap, [topic])
    fork_s = statistics.median(f["total_s"] for f in forks)
    generated_s = statistics.median(generated)
    result: dict[str, Any] = {
        "fork_seconds": round(fork_s, 3),
        "fork_read_seconds": round(statistics.median(f["read_s"] for f in forks), 3),
        "fork_open_seconds": round(statistics.median(f["open_s"] for f in forks), 3),
        "generated_open_seconds": round(generated_s, 3),
        "fork_vs_generated": round(fork_s / generated_s, 2),
        "network": f"{args.sites} sites x {args.skus} SKUs ({args.sites * args.skus} SKU-sites)",
        "repeat": args.repeat,
    }
    publish("sim_fork", result)


if __name__ == "__main__":
    main()
