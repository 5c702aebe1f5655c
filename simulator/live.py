"""Live mode: the simulation in scaled real time, publishing raw feeds to Kafka, checked as
the running twin (the dataflows) publishes positions.

- `KafkaFeedSink` produces each delivered raw message to its feed topic with an idempotent
  producer (`enable.idempotence=true`, `acks=all`, from `infra.kafka_clients`).
- `LiveChecker` reads `twin.positions.v1` (and `twin.metrics.v1` for duplicates and DLQ
  counts per site) in a background thread and keeps the twin's ATP per SKU-site, so the
  sampler can compare it with ground truth as the run goes.
- At the end, once every feed has delivered, `run_live` waits (up to
  `live.quiescence_timeout_s`) for the twin to agree with ground truth, then reports.

Simulated time starts at the flows' clock's now (so the flows' freshness and windows see
plausible times), or just after the newest event the twin already holds, and runs `live.speed`
times faster than the wall clock. The flows' clock is the wall clock, unless the stack runs an
accelerated domain clock (`infra.clock`, `TWIN_CLOCK_ORIGIN` / `TWIN_CLOCK_SPEED`, what the
demo does): then the simulation runs at that clock's speed, locked to it, so that the flows see
each event arrive at about the simulated instant it occurred. A run that follows another on the
same twin (the demo's loop) continues from it: what the earlier run left open is cleared at
t = 0 (`PhysicalModel.reconcile`) and each SKU-site the twin holds keeps its on hand, with no
new opening count (`carried_on_hand`), so the twin finds no false count discrepancy.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import simpy.rt
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from infra.clock import ClockSettings, DomainClock
from infra.kafka_clients import consumer_config, producer_config
from infra.settings import BrokerSettings
from infra.topics import FEEDS_3PL, FEEDS_API, FEEDS_BATCH, TWIN_METRICS, TWIN_POSITIONS
from simulator.engine import REPO_ROOT, OnEvent, Simulation, make_recorder
from simulator.faults import demand_windows
from simulator.model import carried_on_hand
from simulator.network import Network, load_network
from simulator.report import build_report
from simulator.spec import RestartFault, Scenario
from simulator.truth import BUCKETS, GroundTruth
from twin.wire import SiteMetric, metric_decoder, position_decoder

RestartHook = Callable[[str, float], None]
_FEED_TOPIC = {"api": FEEDS_API, "batch": FEEDS_BATCH, "3pl": FEEDS_3PL}


class KafkaFeedSink:
    """Delivered raw messages → the feed topics (`topics` maps contract names to real ones)."""

    def __init__(self, bootstrap: str, topics: dict[str, str]) -> None:
        self.producer = Producer(producer_config(bootstrap))
        self.topic = {kind: topics.get(name, name) for kind, name in _FEED_TOPIC.items()}
        self.errors: list[str] = []
        self.acknowledged = 0  # raw records the brokers confirmed (acks=all)

    def __call__(self, at: float, kind: str, key: bytes, value: bytes, s: int) -> None:
        while True:
            try:
                self.producer.produce(self.topic[kind], value, key, on_delivery=self._delivered)
                break
            except BufferError:  # local queue full (e.g. broker restarting): wait, never drop
                self.producer.poll(0.1)
        self.producer.poll(0)

    def _delivered(self, err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            self.errors.append(str(err))
        else:
            self.acknowledged += 1

    def flush(self, timeout: float = 60.0) -> int:
        return self.producer.flush(timeout)


class LiveChecker:
    """The running twin as seen on its output topics, kept per SKU-site for comparison."""

    def __init__(
        self, bootstrap: str, topics: dict[str, str], network: Network, clock: Callable[[], float]
    ) -> None:
        self.network = network
        self.clock = clock  # current simulated second
        n_s, n_k = network.n_sites, network.n_skus
        self._mirror = np.zeros((n_s, n_k), dtype=np.int64)
        self._known = np.zeros((n_s, n_k), dtype=bool)
        self._last_seen: dict[tuple[int, int], datetime] = {}
        self._buckets: dict[tuple[int, int], dict[str, int]] = {}
        self._on_hand: dict[tuple[int, int], int] = {}
        self._offsets: dict[int, int] = {}
        self._newest: datetime | None = None
        self.latency_s: list[list[float]] = [[] for _ in range(n_s)]
        self.occurred_s: list[list[float]] = [[] for _ in range(n_s)]
        self.duplicates = [0] * n_s
        self.dlq = [0] * n_s
        self.positions = 0
        self._sku_pos = {sku: k for k, sku in enumerate(network.sku_ids)}
        self._site_pos = {site.id: site.index for site in network.sites}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._start_ts = 0.0
        group = f"sim-checker-{uuid.uuid4().hex[:8]}"
        self._bootstrap, self._group = bootstrap, group
        self.consumer = Consumer(
            consumer_config(bootstrap, group, **{"auto.offset.reset": "earliest"})
        )
        self.consumer.subscribe(
            [topics.get(TWIN_POSITIONS, TWIN_POSITIONS), topics.get(TWIN_METRICS, TWIN_METRICS)]
        )
        self._positions_topic = topics.get(TWIN_POSITIONS, TWIN_POSITIONS)
        self._thread = threading.Thread(target=self._run, name="sim-live-checker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def set_start(self, start: datetime) -> None:
        """The run's simulated start (its t = 0), for event-to-visible latencies."""
        with self._lock:
            self._start_ts = start.timestamp()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self.consumer.consume(500, timeout=0.2):
                if msg.error() is not None or msg.value() is None:
                    continue
                if msg.topic() == self._positions_topic:
                    self._on_position(msg.value())
                    with self._lock:
                        self._offsets[msg.partition()] = msg.offset()
                else:
                    self._on_metric(msg.value())

    def _on_position(self, raw: bytes) -> None:
        position = position_decoder.decode(raw)
        k = self._sku_pos.get(position.sku)
        if k is None:
            return
        now = self.clock()
        with self._lock:
            self.positions += 1
            for site, figures in position.sites.items():
                s = self._site_pos.get(site)
                if s is None:
                    continue
                self._mirror[s, k] = figures.atp
                self._known[s, k] = True
                self._on_hand[(s, k)] = figures.on_hand
                self._buckets[(s, k)] = {
                    "reserved": figures.reserved,
                    "picked": figures.picked,
                    "receiving": figures.receiving,
                    "quarantined": figures.quarantined,
                    "in_transit": figures.in_transit,
                }
                last = figures.last_event_at
                if last is not None and (self._newest is None or last > self._newest):
                    self._newest = last
                if last is not None and self._last_seen.get((s, k)) != last:
                    # Approximate event-to-visible: the latest event of this SKU-site became
                    # visible now (positions coalesce, so earlier ones are not seen singly).
                    self._last_seen[(s, k)] = last
                    occurred = last.timestamp() - self._start_ts
                    self.latency_s[s].append(max(0.0, now - occurred))
                    self.occurred_s[s].append(occurred)

    def _on_metric(self, raw: bytes) -> None:
        metric = metric_decoder.decode(raw)
        if not isinstance(metric, SiteMetric):
            return
        s = self._site_pos.get(metric.site)
        if s is None:
            return
        with self._lock:
            self.duplicates[s] += metric.duplicates
            self.dlq[s] += metric.dlq

    def catch_up(
        self, timeout_s: float = 30.0
    ) -> tuple[list[tuple[int, int, dict[str, int]]], datetime | None, dict[tuple[int, int], int]]:
        """Read what the twin already publishes; return the open buckets it holds.

        Positions from before this run (a twin that ran an earlier scenario on the same
        network) are the starting point; the sampler's agreement and latency figures start
        afresh after this. Also returns the newest event time the twin has seen and the on
        hand of every SKU-site it holds.
        """
        topic = self._positions_topic
        # A consumer of its own: the checker thread's consumer is busy in `consume`, and a
        # librdkafka handle must not be called from two threads at once.
        probe = Consumer(consumer_config(self._bootstrap, f"{self._group}-probe"))
        ends: dict[int, int] = {}
        deadline = time.monotonic() + timeout_s
        try:
            partitions = list(probe.list_topics(topic, timeout=10).topics[topic].partitions)
            while partitions and time.monotonic() < deadline:
                p = partitions[0]
                try:
                    _low, high = probe.get_watermark_offsets(
                        TopicPartition(topic, p), timeout=5, cached=False
                    )
                except KafkaException:  # a leader moving (new topic, restart): ask again
                    time.sleep(0.2)
                    continue
                if high > 0:
                    ends[p] = high
                partitions.pop(0)
        finally:
            probe.close()
        while time.monotonic() < deadline:
            with self._lock:
                if all(self._offsets.get(p, -1) + 1 >= end for p, end in ends.items()):
                    break
            time.sleep(0.05)  # polling the consumer thread's progress, with a deadline
        with self._lock:
            leftovers = [
                (s, k, b) for (s, k), b in sorted(self._buckets.items()) if any(b.values())
            ]
            self._known[:] = False
            for lat in (*self.latency_s, *self.occurred_s):
                lat.clear()
            self.positions = 0
            return leftovers, self._newest, dict(self._on_hand)

    def continue_from(self, sku_sites: Iterable[tuple[int, int]]) -> None:
        """These SKU-sites continue from the twin's figures (no opening count resets them):
        what it last published of them is already this run's, whether or not they move."""
        with self._lock:
            for s, k in sku_sites:
                self._known[s, k] = True

    def atp(self, s: int, k: int) -> int | None:
        """The running twin's ATP of one SKU-site as last published (None if never seen)."""
        with self._lock:
            return int(self._mirror[s, k]) if self._known[s, k] else None

    def atp_matrix(self) -> np.ndarray:
        with self._lock:
            return self._mirror.copy()

    def all_known(self) -> bool:
        with self._lock:
            return bool(self._known.all())

    def differences(self, truth: GroundTruth, limit: int = 20) -> dict[str, Any]:
        """Every SKU-site whose published buckets differ from the truth, bucket by bucket.

        `units_over` / `units_under` add up what the twin holds beyond / short of the truth
        over all buckets (an event applied twice shows as over, one lost as under);
        `examples` lists the first `limit` SKU-sites that differ, with both sides.
        """
        truth_buckets = truth.snapshot()
        over = under = wrong = 0
        examples: list[dict[str, Any]] = []
        with self._lock:
            for s in range(self.network.n_sites):
                for k in range(self.network.n_skus):
                    if not self._known[s, k]:
                        wrong += 1
                        if len(examples) < limit:
                            examples.append(self._example(s, k, None, truth_buckets))
                        continue
                    twin = {"on_hand": self._on_hand[(s, k)], **self._buckets[(s, k)]}
                    deltas = [twin[b] - int(truth_buckets[b][s, k]) for b in BUCKETS]
                    if any(deltas):
                        wrong += 1
                        over += sum(d for d in deltas if d > 0)
                        under -= sum(d for d in deltas if d < 0)
                        if len(examples) < limit:
                            examples.append(self._example(s, k, twin, truth_buckets))
        return {
            "sku_sites": self.network.n_sites * self.network.n_skus,
            "sku_sites_differing": wrong,
            "units_over": over,
            "units_under": under,
            "examples": examples,
        }

    def _example(
        self, s: int, k: int, twin: dict[str, int] | None, truth: dict[str, np.ndarray]
    ) -> dict[str, Any]:
        return {
            "sku": self.network.sku_ids[k],
            "site": self.network.sites[s].id,
            "twin": twin,
            "truth": {b: int(truth[b][s, k]) for b in BUCKETS},
        }


def local_broker_restart_hook(bootstrap: str) -> RestartHook:
    """A restart hook for the project's own local broker (what `invtwin sim run` uses).

    It restarts the broker only when this machine runs it (`invtwin kafka up`); flows are
    run by someone else (the demo, a test, an operator), who passes their own hook.
    """
    from infra.broker import LocalBroker

    def restart(target: str, down_seconds: float) -> None:
        if target != "broker":
            raise RuntimeError(
                f"cannot restart the {target} flow from here: its process belongs to whoever "
                "started it; pass run_scenario(restart_hook=...)"
            )
        broker = LocalBroker(BrokerSettings(kafka_bootstrap=bootstrap))
        if broker.pid() is None:
            raise RuntimeError(f"no local broker process behind {bootstrap} to restart")
        broker.down()
        resume = time.monotonic() + down_seconds
        while time.monotonic() < resume:
            time.sleep(0.1)  # the outage itself: the broker stays down this long on purpose
        broker.up()

    return restart


def run_live(
    scenario: Scenario,
    seed: int,
    *,
    on_event: OnEvent | None = None,
    bootstrap: str | None = None,
    topics: dict[str, str] | None = None,
    restart_hook: RestartHook | None = None,
    clock: DomainClock | None = None,
) -> dict[str, Any]:
    """Run in scaled real time against Kafka and the running dataflows; see the module doc.

    `clock` is the flows' domain clock (default: what `TWIN_CLOCK_*` say, else the wall clock).
    """
    bootstrap = bootstrap or BrokerSettings().kafka_bootstrap
    topics = topics or {}
    network = load_network(scenario.network, base_dir=REPO_ROOT)
    domain = clock or ClockSettings().domain_clock()
    # On an accelerated clock its speed wins over the scenario's: simulated time that drifted
    # from the flows' clock would show as false latencies and staleness.
    speed = domain.speed if domain.accelerated else scenario.live.speed
    wall0 = [time.monotonic()]
    checker = LiveChecker(bootstrap, topics, network, lambda: (time.monotonic() - wall0[0]) * speed)
    checker.start()
    restarts: list[dict[str, Any]] = []
    try:
        leftovers, newest, on_hand = checker.catch_up()
        carried = carried_on_hand(on_hand, leftovers, network.n_sites)
        checker.continue_from(sk for sk, q in carried.items() if q >= 0)
        # Simulated time runs ahead of the wall clock: a run that follows another on the same
        # twin starts after everything the earlier one reported, or its opening counts
        # would be older than the earlier run's movements.
        start = domain()
        if newest is not None:
            start = max(start, newest + timedelta(seconds=1))
        start = start.replace(microsecond=0)
        checker.set_start(start)
        scenario = scenario.model_copy(update={"start": start})
        env = simpy.rt.RealtimeEnvironment(factor=1.0 / speed, strict=False)
        sim = Simulation(scenario, seed, env, network=network, on_event=on_event)
        sink = KafkaFeedSink(bootstrap, topics)
        sim.sinks.append(sink)
        recorder = make_recorder(sim, checker)
        wall0[0] = time.monotonic()
        if domain.accelerated:
            # Lock simulated time to the flows' clock: t = 0 is the wall instant at which the
            # domain clock read `start`, so the time spent setting up is caught up at once
            # rather than left as a lag the flows would count as latency.
            behind_s = (domain() - start).total_seconds()
            wall0[0] -= max(0.0, behind_s) / speed
            env.real_start = wall0[0]  # simpy's anchor of simulated t = 0 (monotonic clock)
        end = sim.start(
            twin_atp=checker.atp,
            run_tag=_base36(int(start.timestamp())),
            reconcile=leftovers,
            carried=carried,
        )
        env.process(sim.sampler(recorder, scenario.report.sample_minutes * 60.0))
        for fault in sim.faults.restarts:
            env.process(_restart(env, fault, restart_hook, restarts))
        env.run(until=end)
        sink.flush()
        quiet = _await_agreement(sim, checker, scenario.live.quiescence_timeout_s, wall0[0], speed)
        sim.publish(recorder.sample(quiet))
        differences = checker.differences(sim.truth)
    finally:
        for thread in [r.pop("_thread") for r in restarts if "_thread" in r]:
            thread.join(timeout=120)
        checker.stop()
    assert sim.model is not None
    header = sim.header("live")
    header["live"] = {
        "speed": speed,
        "domain_clock": domain.env() or None,
        "reconciled_sku_sites": len(leftovers),
        "continued_sku_sites": sum(1 for q in carried.values() if q >= 0),
        "positions_seen": checker.positions,
        "producer_errors": sink.errors[:20],
        "records_acknowledged": sink.acknowledged,
        "restarts": restarts,
        "agreed_at_quiescence": sum(recorder.samples[-1].site_exact)
        == sim.network.n_sites * sim.network.n_skus,
        "differences": differences,
    }
    return build_report(
        recorder.data(sim.faults, sim.model.stats),
        header=header,
        windows=sim.faults.windows(sim.end_s),
        recovered_accuracy=scenario.report.recovered_accuracy,
        demand_windows=demand_windows(scenario),
    )


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _await_agreement(
    sim: Simulation, checker: LiveChecker, timeout_s: float, wall0: float, speed: float
) -> float:
    """Poll until the twin's ATP equals the truth everywhere, or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    truth = sim.truth
    while time.monotonic() < deadline:
        if checker.all_known() and np.array_equal(checker.atp_matrix(), truth.atp()):
            break
        time.sleep(0.2)  # polling a condition with a deadline, not waiting for a guess
    return (time.monotonic() - wall0) * speed


def _restart(
    env: simpy.Environment,
    fault: RestartFault,
    hook: RestartHook | None,
    log: list[dict[str, Any]],
) -> Any:
    yield env.timeout(fault.at_hour * 3600.0)
    entry: dict[str, Any] = {"target": fault.target, "at_hour": fault.at_hour}
    if hook is None:
        entry["performed"] = False
        entry["note"] = "no restart hook given: run_scenario(restart_hook=...) performs it"
        log.append(entry)
        return

    def perform() -> None:
        began = time.monotonic()
        try:
            hook(fault.target, fault.down_seconds)
            entry["performed"] = True
        except Exception as exc:  # reported, never hidden: the run still finishes
            entry["performed"] = False
            entry["error"] = f"{type(exc).__name__}: {exc}"
        entry["wall_seconds"] = round(time.monotonic() - began, 2)

    # The hook blocks (stop, wait, start): feeds keep flowing meanwhile, as in real life.
    thread = threading.Thread(target=perform, name=f"restart-{fault.target}", daemon=True)
    entry["_thread"] = thread
    log.append(entry)
    thread.start()
