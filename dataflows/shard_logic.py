"""The Bytewax stateful logic of one twin shard: a thin adapter around `twin.shard.TwinShard`.

Why shards and not one Bytewax key per SKU (or per SKU-site window): Bytewax keeps a logic
object, a notification time and a snapshot row per key, and exchanges every item by key.
Measured with bytewax 0.21.1 on this machine, `stateful_map` with one key per SKU-site fell
from 380k to 73-100k events/s between 100 and 200k keys, and `fold_window` with one key per
SKU-site collapsed to ~1.2k events/s at 200k keys. Keying Bytewax by a stable shard of the SKU
(`dataflows.keys.shard_of`) and keeping per-SKU positions and per-SKU-per-site windows *inside*
the shard's state (`twin.windows.TumblingWindows`, one watermark per shard) ran 346k events/s
(207k windowed) at 200k SKU-sites. Semantics stay exact: every event of a SKU goes to the one
shard that owns it, so per-SKU order, dedupe and versions are those of per-SKU keys.

On top of the pure shard the logic:
* coalesces positions: a changed SKU is written at most once per `coalesce` interval with
  its latest state, and never held back longer than that (`notify_at`);
* keeps two clocks apart (`infra.clock`): events are applied, and positions dated, on
  the domain clock; flushes and reports are scheduled on the wall clock, which is what
  Bytewax compares `notify_at` with. Both come from one wall-clock reading per call;
* folds applied events into the shard's event-time windows and feeds closed windows to the
  shard's ANOMALY rule;
* reports per-site partial metrics from the same pass every `metrics_interval`, for the
  site-keyed step to merge across shards;
* snapshots as pickled bytes (immutable at once), without the master-data rule book, which
  every process rebuilds from master data instead of storing it once per shard per epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
from bytewax.operators import StatefulBatchLogic

from dataflows import snapshots
from dataflows.messages import FreshnessSignal, ShardEmit, ShardIn
from infra.clock import DomainClock
from twin.events import InventoryEvent
from twin.masterdata import MasterData
from twin.position import DUPLICATE, EXPIRED
from twin.rules import RuleBook
from twin.shard import REJECTED, TwinConfig, TwinShard
from twin.site_stats import SitePartial
from twin.transfers import TransferCycles
from twin.windows import TumblingWindows, WindowConfig


@dataclass(frozen=True)
class ShardTiming:
    """Wall-clock intervals: they pace the writes, whatever the domain clock's speed."""

    coalesce: timedelta
    metrics_interval: timedelta
    # False when the run has no recovery: Bytewax asks for snapshots every epoch anyway, and
    # pickling every shard for nobody was measurable
    persist: bool = True


class ShardState:
    """Everything one shard key keeps: the twin, its windows, the interval's site figures."""

    def __init__(self, shard: TwinShard, windows: TumblingWindows) -> None:
        self.shard = shard
        self.windows = windows
        self.partials: dict[str, SitePartial] = {}
        self.late_reported: dict[str, int] = {}
        self.transfers = TransferCycles()

    def dumps(self) -> bytes:
        rules = self.shard.rules
        self.shard.rules = None  # type: ignore[assignment]
        try:
            return snapshots.dumps(self)
        finally:
            self.shard.rules = rules

    @staticmethod
    def loads(data: bytes, rules: RuleBook) -> ShardState:
        state: ShardState = snapshots.loads(data)
        state.shard.rules = rules
        if not hasattr(state, "transfers"):  # a snapshot from before transfer cycles
            state.transfers = TransferCycles()
        return state


class ShardFactory:
    """Builds empty shard state. The rule book (master data's limits and lanes) is built
    once per process and shared by every shard, instead of once per shard."""

    def __init__(
        self,
        master: MasterData | None,
        config: TwinConfig | None = None,
        window: WindowConfig | None = None,
    ) -> None:
        self.master = master
        self.config = config or TwinConfig()
        self.window = window or WindowConfig()
        self._rules: RuleBook | None = None

    def rules(self) -> RuleBook:
        if self._rules is None:
            self._rules = RuleBook.from_master(self.master, self.config.rules)
        return self._rules

    def new(self) -> ShardState:
        shard = TwinShard(None, self.config)
        shard.rules = self.rules()
        return ShardState(shard, TumblingWindows(self.window))


class ShardLogic(StatefulBatchLogic[ShardIn, ShardEmit, bytes]):
    def __init__(self, state: ShardState, timing: ShardTiming, clock: DomainClock) -> None:
        self.state = state
        self.timing = timing
        self.wall = clock.wall  # scheduling: flush_at and metrics_at are wall-clock times
        self.domain_at = clock.at  # meaning: applied_at, positions' as_of, latencies
        self.flush_at: datetime | None = None
        self.metrics_at = self.wall() + timing.metrics_interval
        self.encode = msgspec.json.Encoder().encode

    @classmethod
    def builder(
        cls, factory: ShardFactory, timing: ShardTiming, clock: DomainClock
    ) -> Callable[[bytes | None], ShardLogic]:
        def build(resume: bytes | None) -> ShardLogic:
            state = ShardState.loads(resume, factory.rules()) if resume else factory.new()
            return cls(state, timing, clock)

        return build

    def on_batch(self, values: list[ShardIn]) -> tuple[Iterable[ShardEmit], bool]:
        wall = self.wall()  # the one clock reading of the call
        now = self.domain_at(wall)
        emit = ShardEmit()
        alerts = emit.alerts
        state = self.state
        shard = state.shard
        apply_batch = shard.apply_batch
        add_to_windows = state.windows.add
        observe_transfer = state.transfers.observe
        partials = state.partials
        for value in values:
            if value.__class__ is list:
                events: list[InventoryEvent] = value  # type: ignore[assignment]
                result = apply_batch(events, now)
                if result.alerts:
                    alerts += result.alerts
                for event, code in zip(events, result.codes, strict=True):
                    site = event.site
                    partial = partials.get(site)
                    if partial is None:
                        partial = partials[site] = SitePartial(site)
                    duplicate = code == DUPLICATE
                    # expired, or (never expected: the decode step checks the contract first)
                    # rejected by the core; either way not applied, an exception of the site
                    unapplied = code in (EXPIRED, REJECTED)
                    partial.observe(event, duplicate=duplicate, expired=unapplied, now=now)
                    if not duplicate and not unapplied:
                        cycle = observe_transfer(event)
                        if cycle is not None:
                            _partial(partials, cycle[0]).transfer_cycle.add(cycle[1] * 1000.0)
                        for window in add_to_windows(event):
                            emit.windows.append(window)
                            alerts += shard.on_window(window, now)
            else:
                assert isinstance(value, FreshnessSignal)
                _changed, fresh_alerts = shard.on_freshness(value.site, value.fresh, value.at)
                alerts += fresh_alerts
        if self.flush_at is None:
            if self.timing.coalesce <= timedelta(0):
                emit.positions = self._positions(now)
            else:
                self.flush_at = wall + self.timing.coalesce
        return _emitted(emit), StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[Iterable[ShardEmit], bool]:
        wall = self.wall()
        now = self.domain_at(wall)
        emit = ShardEmit()
        if self.flush_at is not None and wall >= self.flush_at:
            self.flush_at = None
            emit.positions = self._positions(now)
        if wall >= self.metrics_at:
            self.metrics_at = wall + self.timing.metrics_interval
            emit.partials = self._partials()
        return _emitted(emit), StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[ShardEmit], bool]:
        # The input ended (bounded runs, tests): close the windows, write everything pending.
        now = self.domain_at(self.wall())
        self.flush_at = None
        emit = ShardEmit()
        for window in self.state.windows.flush():
            emit.windows.append(window)
            emit.alerts += self.state.shard.on_window(window, now)
        emit.positions = self._positions(now)
        emit.partials = self._partials()
        return _emitted(emit), StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        # wall-clock times: Bytewax compares them with its own wall clock
        if self.flush_at is None:
            return self.metrics_at
        return min(self.flush_at, self.metrics_at)

    def snapshot(self) -> bytes:
        return self.state.dumps() if self.timing.persist else b""

    def _positions(self, now: datetime) -> list[tuple[bytes | None, bytes]]:
        """The changed SKUs' positions, encoded for `twin.positions.v1` (key = SKU)."""
        shard = self.state.shard
        position = shard.position
        encode = self.encode
        return [(sku.encode(), encode(position(sku, now))) for sku in shard.take_dirty()]

    def _partials(self) -> list[SitePartial]:
        state = self.state
        # late events are counted by the windows; report what is new since the last report
        for site, total in state.windows.late_by_site.items():
            new = total - state.late_reported.get(site, 0)
            if new:
                _partial(state.partials, site).late_events += new
                state.late_reported[site] = total
        partials, state.partials = state.partials, {}
        return list(partials.values())


def _partial(partials: dict[str, SitePartial], site: str) -> SitePartial:
    partial = partials.get(site)
    if partial is None:
        partial = partials[site] = SitePartial(site)
    return partial


def _emitted(emit: ShardEmit) -> list[ShardEmit]:
    return [emit] if emit else []
