"""Live mode: the simulation in scaled real time, publishing raw feeds to Kafka, checked as
the running twin (the dataflows) publishes positions.

- `KafkaFeedSink` produces each delivered raw message to its feed topic with an idempotent
  producer (`enable.idempotence=true`, `acks=all`, from `infra.kafka_clients`).
- `LiveChecker` reads `twin.positions.v1` (and `twin.metrics.v1` for duplicates and DLQ
  counts per site) in a background thread and keeps the twin's ATP per SKU-site, so the
  sampler can compare it with ground truth as the run goes.
- At the end, once every feed has delivered, `run_live` waits (up to
  `live.quiescence_timeout_s`) for the twin to agree with ground truth, then reports.

Simulated time starts at the wall-clock instant of the run (so the flows' freshness and
windows see plausible times) and runs `live.speed` times faster than the wall clock.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import simpy.rt
from confluent_kafka import Consumer, KafkaError, Producer

from infra.kafka_clients import consumer_config, producer_config
from infra.settings import BrokerSettings
from infra.topics import FEEDS_3PL, FEEDS_API, FEEDS_BATCH, TWIN_METRICS, TWIN_POSITIONS
from simulator.engine import OnEvent, Simulation, make_recorder
from simulator.network import Network
from simulator.report import build_report
from simulator.spec import RestartFault, Scenario
from twin.wire import SiteMetric, metric_decoder, position_decoder

RestartHook = Callable[[str, float], None]
_FEED_TOPIC = {"api": FEEDS_API, "batch": FEEDS_BATCH, "3pl": FEEDS_3PL}


class KafkaFeedSink:
    """Delivered raw messages → the feed topics (`topics` maps contract names to real ones)."""

    def __init__(self, bootstrap: str, topics: dict[str, str]) -> None:
        self.producer = Producer(producer_config(bootstrap))
        self.topic = {kind: topics.get(name, name) for kind, name in _FEED_TOPIC.items()}
        self.errors: list[str] = []

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
        self.consumer = Consumer(
            consumer_config(bootstrap, group, **{"auto.offset.reset": "earliest"})
        )
        self.consumer.subscribe(
            [topics.get(TWIN_POSITIONS, TWIN_POSITIONS), topics.get(TWIN_METRICS, TWIN_METRICS)]
        )
        self._positions_topic = topics.get(TWIN_POSITIONS, TWIN_POSITIONS)
        self._thread = threading.Thread(target=self._run, name="sim-live-checker", daemon=True)

    def start(self, start: datetime) -> None:
        self._start_ts = start.timestamp()
        self._thread.start()

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
                last = figures.last_event_at
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
) -> dict[str, Any]:
    """Run in scaled real time against Kafka and the running dataflows; see the module doc."""
    bootstrap = bootstrap or BrokerSettings().kafka_bootstrap
    topics = topics or {}
    start = datetime.now(UTC).replace(microsecond=0)
    scenario = scenario.model_copy(update={"start": start})
    speed = scenario.live.speed
    env = simpy.rt.RealtimeEnvironment(factor=1.0 / speed, strict=False)
    sim = Simulation(scenario, seed, env, on_event=on_event)
    wall0 = time.monotonic()
    checker = LiveChecker(
        bootstrap, topics, sim.network, lambda: (time.monotonic() - wall0) * speed
    )
    sink = KafkaFeedSink(bootstrap, topics)
    sim.sinks.append(sink)
    recorder = make_recorder(sim, checker)
    checker.start(start)
    restarts: list[dict[str, Any]] = []
    try:
        clock = sim.start(twin_atp=checker.atp, run_tag=_base36(int(start.timestamp())))
        env.process(sim.sampler(recorder, scenario.report.sample_minutes * 60.0))
        for fault in sim.faults.restarts:
            env.process(_restart(env, fault, restart_hook, restarts))
        env.run(until=clock)
        sink.flush()
        quiet = _await_agreement(sim, checker, scenario.live.quiescence_timeout_s, wall0, speed)
        sim.publish(recorder.sample(quiet))
    finally:
        for thread in [r.pop("_thread") for r in restarts if "_thread" in r]:
            thread.join(timeout=120)
        checker.stop()
    assert sim.model is not None
    header = sim.header("live")
    header["live"] = {
        "speed": speed,
        "positions_seen": checker.positions,
        "producer_errors": sink.errors[:20],
        "restarts": restarts,
        "agreed_at_quiescence": sum(recorder.samples[-1].site_exact)
        == sim.network.n_sites * sim.network.n_skus,
    }
    return build_report(
        recorder.data(sim.faults, sim.model.stats),
        header=header,
        windows=sim.faults.windows(sim.end_s),
        recovered_accuracy=scenario.report.recovered_accuracy,
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
