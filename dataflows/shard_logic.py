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
  every process rebuilds from master data instead of storing it once per shard per epoch;
* dead-letters the events it does not apply for a reason a person must see (outside the
  horizon, an event id conflict, a contract breach; `dataflows.shard_dead_letters`), and
  never lets one event stop the shard: if the core raises on a batch, the batch is applied
  again one event at a time and the event it raises on is dead-lettered (`_apply_each`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
from bytewax.operators import StatefulBatchLogic

from dataflows import snapshots
from dataflows.dead_letters import DEFAULT_MAX_BYTES
from dataflows.failure_log import FailureLog
from dataflows.masterdata_source import SkuSitesChanged
from dataflows.messages import FreshnessSignal, ShardBatch, ShardEmit, ShardIn
from dataflows.metrics import BUCKETS, ShardFigures, TwinMetrics
from dataflows.shard_dead_letters import DEAD_LETTERED, FAILED, ShardDeadLetters
from infra.clock import DomainClock
from twin.events import EventType, InventoryEvent
from twin.masterdata import MasterData, MasterIndex
from twin.rules import RuleBook
from twin.shard import DUPLICATE, TwinConfig, TwinShard
from twin.site_stats import SitePartial
from twin.transfers import TransferCycles
from twin.windows import TumblingWindows, WindowConfig
from twin.wire import Alert


@dataclass(frozen=True)
class ShardTiming:
    """Wall-clock intervals: they pace the writes, whatever the domain clock's speed."""

    coalesce: timedelta
    metrics_interval: timedelta
    # False when the run has no recovery: Bytewax asks for snapshots every epoch anyway, and
    # pickling every shard for nobody was measurable
    persist: bool = True
    # the largest dead letter written (`FlowSettings.flow_dead_letter_max_bytes`)
    dead_letter_max_bytes: int = DEFAULT_MAX_BYTES


_log = logging.getLogger(__name__)
_SHIPPED, _RECEIVED = EventType.TRANSFER_SHIPPED, EventType.TRANSFER_RECEIVED


class ShardState:
    """Everything one shard key keeps: the twin, its windows, the interval's site figures."""

    def __init__(self, shard: TwinShard, windows: TumblingWindows) -> None:
        self.shard = shard
        self.windows = windows
        self.partials: dict[str, SitePartial] = {}
        self.late_reported: dict[str, int] = {}
        self.transfers = TransferCycles()
        # units on transfers the shard applied, for the conservation check (`invariants`)
        self.shipped = 0
        self.received = 0

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
        if not hasattr(state, "shipped"):  # from before the transfer ledger: what is in
            state.received = 0  # transit now is the balance the check starts from
            state.shipped = sum(
                b.in_transit for twin in state.shard.twins.values() for b in twin.sites.values()
            )
        return state

    def invariants(self) -> ShardFigures:
        """The shard's figures for the invariant checks: one pass over its SKU-sites."""
        in_transit = 0
        negative: dict[str, int] = {}
        for twin in self.shard.twins.values():
            for b in twin.sites.values():
                in_transit += b.in_transit
                if (
                    b.on_hand < 0
                    or b.receiving < 0
                    or b.reserved < 0
                    or b.picked < 0
                    or b.quarantined < 0
                    or b.in_transit < 0
                ):
                    for bucket in BUCKETS:
                        if getattr(b, bucket) < 0:
                            negative[bucket] = negative.get(bucket, 0) + 1
        return ShardFigures(self.shipped, self.received, in_transit, negative)


class ShardFactory:
    """Builds empty shard state. The rule book (master data's limits and lanes) is built
    once per process and shared by every shard, instead of once per shard."""

    def __init__(
        self,
        master: MasterData | MasterIndex | None,
        config: TwinConfig | None = None,
        window: WindowConfig | None = None,
    ) -> None:
        self.master = master
        self.config = config or TwinConfig()
        self.window = window or WindowConfig()
        self._rules: RuleBook | None = None
        # reads master-data changes up to the given offsets (`MasterDataFeed.catch_up_to`)
        self.catch_up_master: Callable[[dict[int, int]], object] | None = None

    def rules(self) -> RuleBook:
        if self._rules is None:
            self._rules = RuleBook.from_master(self.master, self.config.rules)
        return self._rules

    def new(self) -> ShardState:
        shard = TwinShard(None, self.config)
        shard.rules = self.rules()
        return ShardState(shard, TumblingWindows(self.window))


class ShardLogic(StatefulBatchLogic[ShardIn, ShardEmit, bytes]):
    def __init__(
        self,
        state: ShardState,
        timing: ShardTiming,
        clock: DomainClock,
        failures: FailureLog | None = None,
        metrics: TwinMetrics | None = None,
    ) -> None:
        self.state = state
        self.metrics = metrics  # the process's, shared by its shards
        self.factory: ShardFactory | None = None  # the builder's (its master-data catch-up)
        # Outcome codes since the last report: counted into `metrics` when the logic is woken
        # (at most every coalesce interval), as one C-level count per code. A counter update
        # per call (~1.4 us, a lock) cost more than the per-event work of a shard's few events.
        self.outcomes = bytearray()
        self.timing = timing
        self.wall = clock.wall  # scheduling: flush_at and metrics_at are wall-clock times
        self.domain_at = clock.at  # meaning: applied_at, positions' as_of, latencies
        self.flush_at: datetime | None = None
        self.metrics_at = self.wall() + timing.metrics_interval
        self._invariants_slot = metrics.invariants.slot() if metrics is not None else 0
        self.encode = msgspec.json.Encoder().encode
        self._why_failed: dict[str, str] = {}  # event id -> why the core raised on it
        self.failures = failures or FailureLog(_log)  # one per process's shards: see builder
        self.dead_letters = ShardDeadLetters(
            state.shard.config.position.horizon_s, timing.dead_letter_max_bytes
        )

    @classmethod
    def builder(
        cls,
        factory: ShardFactory,
        timing: ShardTiming,
        clock: DomainClock,
        metrics: TwinMetrics | None = None,
    ) -> Callable[[bytes | None], ShardLogic]:
        failures = FailureLog(_log)  # shared: one bug is logged once, not once per shard

        def build(resume: bytes | None) -> ShardLogic:
            state = ShardState.loads(resume, factory.rules()) if resume else factory.new()
            logic = cls(state, timing, clock, failures, metrics)
            logic.factory = factory
            return logic

        return build

    def on_batch(self, values: list[ShardIn]) -> tuple[Iterable[ShardEmit], bool]:
        wall = self.wall()  # the one clock reading of the call
        now = self.domain_at(wall)
        emit = ShardEmit()
        shard = self.state.shard
        for value in values:
            batch: ShardBatch | None
            if value.__class__ is ShardBatch:
                batch = value
                events = batch.events
            elif value.__class__ is list:
                batch, events = None, value
            elif value.__class__ is SkuSitesChanged:
                emit.alerts += self._judge_again(value, now)
                continue
            else:
                assert isinstance(value, FreshnessSignal)
                _changed, fresh_alerts = shard.on_freshness(value.site, value.fresh, value.at)
                emit.alerts += fresh_alerts
                continue
            try:
                result = shard.apply_batch(events, now)
                codes: bytes | bytearray = result.codes
                emit.alerts += result.alerts
            except Exception as exc:  # the core raised on some event: find it, apply the others
                self.failures.failed(exc, "applying a shard batch", "(applied again one by one)")
                codes = self._apply_each(events, batch, now, emit)
            self._account(events, codes, batch, now, emit)
            if self.metrics is not None:
                self.outcomes += codes
        if self.flush_at is None:
            if self.timing.coalesce <= timedelta(0):
                emit.positions = self._positions(now)
            else:
                self.flush_at = wall + self.timing.coalesce
        return _emitted(emit), StatefulBatchLogic.RETAIN

    def _judge_again(self, change: SkuSitesChanged, now: datetime) -> list[Alert]:
        """The rules again at SKU-sites whose policy changed, once this process's master data
        has the change (the feed catches up to the offsets the change came with)."""
        catch_up = self.factory.catch_up_master if self.factory is not None else None
        try:
            if catch_up is not None:
                catch_up(change.through)
        except Exception as exc:  # judged with what this process has; the next event redoes it
            self.failures.failed(exc, "catching up with master-data changes")
        shard = self.state.shard
        alerts: list[Alert] = []
        for sku, site in change.sku_sites:
            twin = shard.twins.get(sku)
            if twin is not None and site in twin.sites:
                alerts += shard.rules.evaluate(twin, site, shard.stale_sites, now)
        return alerts

    def _account(
        self,
        events: list[InventoryEvent],
        codes: bytes | bytearray,
        batch: ShardBatch | None,
        now: datetime,
        emit: ShardEmit,
    ) -> None:
        """Per event, after the core: site figures, dead letters, transfers and windows."""
        state = self.state
        shard = state.shard
        alerts = emit.alerts
        add_to_windows = state.windows.add
        observe_transfer = state.transfers.observe
        partials = state.partials
        for i, (event, code) in enumerate(zip(events, codes, strict=True)):
            # not applied for a reason to look at: an exception of the site, and a dead letter
            unapplied = code in DEAD_LETTERED
            if unapplied:
                emit.dead.append(self._letter(event, code, batch, i, now))
            try:
                site = event.site
                partial = partials.get(site)
                if partial is None:
                    partial = partials[site] = SitePartial(site)
                duplicate = code == DUPLICATE
                partial.observe(event, duplicate=duplicate, expired=unapplied, now=now)
                if unapplied or duplicate:
                    continue
                kind = event.type
                if kind is _SHIPPED:
                    state.shipped += int(event.qty)
                elif kind is _RECEIVED:
                    state.received += int(event.qty)
                cycle = observe_transfer(event)
                if cycle is not None:
                    _partial(partials, cycle[0]).transfer_cycle.add(cycle[1] * 1000.0)
                for window in add_to_windows(event):
                    emit.windows.append(window)
                    alerts += shard.on_window(window, now)
            except Exception as exc:  # the core has decided already: its figures are lost
                self.failures.failed(exc, "counting or windowing an event", event.event_id)

    def _apply_each(
        self,
        events: list[InventoryEvent],
        batch: ShardBatch | None,
        now: datetime,
        emit: ShardEmit,
    ) -> bytearray:
        """Apply `events` one at a time after `apply_batch` raised on them; the events the
        failed call had applied already are recognised by their ids (they come back as
        duplicates, so nothing is applied twice), and an event the core raises on alone is
        marked `FAILED` (dead-lettered). Its alerts of the failed call are lost."""
        codes = bytearray(len(events))
        apply_batch = self.state.shard.apply_batch
        for i, event in enumerate(events):
            try:
                result = apply_batch([event], now)
            except Exception as exc:
                self.failures.failed(exc, "applying an event", event.event_id)
                codes[i] = FAILED
                self._why_failed[event.event_id] = f"{type(exc).__name__}: {str(exc)[:300]}"
                continue
            codes[i] = result.codes[0]
            emit.alerts += result.alerts
        return codes

    def _letter(
        self,
        event: InventoryEvent,
        code: int,
        batch: ShardBatch | None,
        index: int,
        now: datetime,
    ) -> tuple[bytes | None, bytes]:
        failure = self._why_failed.pop(event.event_id, "") if code == FAILED else ""
        try:
            return self.dead_letters.letter(event, code, batch, index, now, failure)
        except Exception as exc:  # the letter's words failed: keep the record all the same
            self.failures.failed(exc, "explaining a dead letter", event.event_id)
            return self.dead_letters.letter(event, FAILED, batch, index, now, repr(exc)[:300])

    def _report_outcomes(self) -> None:
        if self.metrics is not None and self.outcomes:
            self.metrics.outcomes(self.outcomes)
            self.outcomes = bytearray()

    def on_notify(self) -> tuple[Iterable[ShardEmit], bool]:
        self._report_outcomes()
        wall = self.wall()
        now = self.domain_at(wall)
        emit = ShardEmit()
        if self.flush_at is not None and wall >= self.flush_at:
            self.flush_at = None
            emit.positions = self._positions(now)
        if wall >= self.metrics_at:
            self.metrics_at = wall + self.timing.metrics_interval
            emit.partials = self._partials()
            self._report_invariants()
        return _emitted(emit), StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[ShardEmit], bool]:
        # The input ended (bounded runs, tests): close the windows, write everything pending.
        self._report_outcomes()
        now = self.domain_at(self.wall())
        self.flush_at = None
        emit = ShardEmit()
        for window in self.state.windows.flush():
            emit.windows.append(window)
            emit.alerts += self.state.shard.on_window(window, now)
        emit.positions = self._positions(now)
        emit.partials = self._partials()
        self._report_invariants()
        return _emitted(emit), StatefulBatchLogic.RETAIN

    def _report_invariants(self) -> None:
        if self.metrics is None:
            return
        try:
            self.metrics.invariants.report(self._invariants_slot, self.state.invariants())
        except Exception as exc:  # a check that fails to run must not stop the shard
            self.failures.failed(exc, "checking the shard's invariants")

    def notify_at(self) -> datetime | None:
        # wall-clock times: Bytewax compares them with its own wall clock
        if self.flush_at is None:
            return self.metrics_at
        return min(self.flush_at, self.metrics_at)

    def snapshot(self) -> bytes:
        if not self.timing.persist:
            return b""
        if self.metrics is None:
            return self.state.dumps()
        started = time.perf_counter()
        data = self.state.dumps()
        self.metrics.shard_snapshot_seconds.observe(time.perf_counter() - started)
        return data

    def _positions(self, now: datetime) -> list[tuple[bytes | None, bytes]]:
        """The changed SKUs' positions, encoded for `twin.positions.v1` (key = SKU)."""
        shard = self.state.shard
        position = shard.position
        encode = self.encode
        records: list[tuple[bytes | None, bytes]] = [
            (sku.encode(), encode(position(sku, now))) for sku in shard.take_dirty()
        ]
        if self.metrics is not None and records:
            self.metrics.positions_written.inc(len(records))
        return records

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
