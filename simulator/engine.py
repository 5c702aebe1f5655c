"""One simulation run: the physical model, the feeds, the delivery clock and the sampler.

`Simulation` wires the parts for either mode; what differs between offline and live is the
environment (`simpy.Environment` or `simpy.rt.RealtimeEnvironment`), the sink the delivery
clock hands raw messages to, and the twin view the sampler compares with ground truth.
Delivered messages are hashed in order (`stream_digest`): the same seed gives the same
bytes in the same order.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from simulator.faults import FaultPlan
from simulator.feeds import Delivery, Feed, make_feed
from simulator.model import PhysicalModel, TwinAtp
from simulator.network import Network, load_network
from simulator.report import Recorder, TwinView
from simulator.spec import Scenario
from simulator.truth import GroundTruth

HOUR = 3600.0
DELIVERY_TICK_S = 5.0
_EPS = 1e-3
# A run that cannot drain within this long after its end has a bug, not a backlog.
MAX_DRAIN_S = 14 * 24 * HOUR
REPO_ROOT = Path(__file__).resolve().parents[1]

# A sink takes one delivered raw message: (at sim s, feed kind, key, value, site index).
Sink = Callable[[float, str, bytes, bytes, int], None]
OnEvent = Callable[[dict[str, Any]], None]


class Simulation:
    """A scenario's network, truth, feeds and processes on one SimPy environment."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        env: simpy.Environment,
        *,
        network: Network | None = None,
        on_event: OnEvent | None = None,
        entropy: list[int] | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.env = env
        self.on_event = on_event
        self.network = network or load_network(scenario.network, base_dir=REPO_ROOT)
        net = self.network
        self.truth = GroundTruth(net.n_sites, net.n_skus)
        self.faults = FaultPlan.from_scenario(scenario)
        # `entropy` (e.g. [seed, shard]) gives each SKU shard of a run its own streams.
        root = np.random.SeedSequence(entropy if entropy is not None else seed)
        model_seed, *feed_seeds = root.spawn(1 + net.n_sites)
        self.feeds: list[Feed] = [
            make_feed(
                net,
                site,
                scenario.feeds.for_site(site.id, site.feed_mode),
                self.faults,
                random.Random(int(feed_seeds[site.index].generate_state(1)[0])),
                scenario.start,
            )
            for site in net.sites
        ]
        self._model_seed = model_seed
        self.model: PhysicalModel | None = None
        self.sinks: list[Sink] = []
        self.stream = hashlib.sha256()
        self.delivered_messages = 0
        self.delivered_records = 0
        self.done = False
        self.end_s = scenario.duration_hours * HOUR
        self.quiet_at: float | None = None

    def start(
        self,
        twin_atp: TwinAtp | None = None,
        run_tag: str = "",
        reconcile: list[tuple[int, int, dict[str, int]]] | None = None,
        carried: dict[tuple[int, int], int] | None = None,
    ) -> simpy.Process:
        """Start the physical processes and the delivery clock; returns the clock process.

        `reconcile` and `carried` continue from a running twin (`PhysicalModel.start`)."""
        self.model = PhysicalModel(
            self.env,
            self.scenario,
            self.network,
            self.truth,
            self.feeds,
            self._model_seed,
            twin_atp=twin_atp,
            run_tag=run_tag,
        )
        self.model.start(carried)
        if reconcile:
            self.model.reconcile(reconcile)
        return self.env.process(self._delivery_clock())

    @property
    def stream_digest(self) -> str:
        return self.stream.hexdigest()

    def drained(self) -> bool:
        """Demand has stopped and every feed has delivered everything that happened.

        Movements still on their way (a transfer on the road, a supplier's truck) are left
        in flight: they have not happened, so truth and twin can already agree.
        """
        return self.env.now >= self.end_s and all(feed.pending() == 0 for feed in self.feeds)

    def _delivery_clock(self) -> Any:
        # The clock ticks just after each grid instant, so movements scheduled on the grid
        # (waves, demand ticks) are pushed before it looks. When nothing is waiting in any
        # feed it sleeps until the next thing the environment has scheduled: a long drain
        # (a 72 h transfer still on the road) costs a few steps, not thousands of ticks.
        env = self.env
        tick = DELIVERY_TICK_S
        k = 1
        yield env.timeout(tick + _EPS)
        while True:
            self.deliver_due(env.now)
            if self.drained() or env.now > self.end_s + MAX_DRAIN_S:
                self.quiet_at = env.now
                self.done = True
                return
            nxt = min(min(feed.next_due() for feed in self.feeds), env.peek())
            k = max(k + 1, math.ceil((nxt - _EPS) / tick)) if nxt < math.inf else k + 1
            yield env.timeout(max(k * tick + _EPS - env.now, 0.0))

    def deliver_due(self, now: float) -> None:
        due: list[Delivery] = []
        for feed in self.feeds:
            feed.collect(now, due)
        # One order for all sites: by delivery time, then site, then the feed's own order.
        due.sort(key=lambda d: (d[0], d[5], d[1]))
        update = self.stream.update
        sinks = self.sinks
        for at, _seq, kind, key, value, s, records in due:
            update(kind.encode() + b"|" + key + b"|" + value + b"\n")
            self.delivered_messages += 1
            self.delivered_records += records
            for sink in sinks:
                sink(at, kind, key, value, s)

    def sampler(self, recorder: Recorder, every_s: float) -> Any:
        """Sample twin-vs-truth just after each interval boundary until the run is done."""
        env = self.env
        yield env.timeout(every_s + 1e-6)
        while not self.done:
            self.publish(recorder.sample(env.now))
            yield env.timeout(every_s)

    def publish(self, metrics: dict[str, Any]) -> None:
        """Stream a progress event and the sample's metrics event to `on_event`."""
        if self.on_event is None:
            return
        t = metrics["sim_time_s"]
        self.on_event(
            {
                "type": "progress",
                "sim_time_s": t,
                "pct": round(min(100.0, 100.0 * t / self.end_s), 2),
                "events": self.model.stats["events"] if self.model else 0,
            }
        )
        self.on_event(metrics)

    def header(self, mode: str) -> dict[str, Any]:
        net = self.network
        model = self.model
        return {
            "scenario": self.scenario.name,
            "description": self.scenario.description,
            "mode": mode,
            "seed": self.seed,
            "start": self.scenario.start.isoformat(),
            "duration_hours": self.scenario.duration_hours,
            "quiescent_at_hours": round((self.quiet_at or self.env.now) / HOUR, 4),
            "network": {
                "sites": [
                    {"id": s.id, "feed_mode": s.feed_mode, "partner": s.partner} for s in net.sites
                ],
                "skus": net.n_skus,
                "sku_sites": net.n_skus * net.n_sites,
            },
            "events": {
                "physical": model.stats["events"] if model else 0,
                "messages": self.delivered_messages,
                "records": self.delivered_records,
            },
            "stream_sha256": self.stream_digest,
        }


def make_recorder(sim: Simulation, twin: TwinView) -> Recorder:
    return Recorder(network=sim.network, truth=sim.truth, twin=twin, active_until_s=sim.end_s)
