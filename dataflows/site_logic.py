"""Bytewax stateful logics of the twin flow's site-level steps: freshness and site metrics.

Freshness (`FreshnessLogic`, one Bytewax key for the whole network): a quiet feed is exactly
the failure to catch, so staleness cannot wait for the next event of that site. The logic
holds `twin.freshness.SiteFreshness` and re-evaluates it on a timer (`notify_at`), whether
or not anything arrived. It is one key on purpose: a per-site key only exists once that site
has sent something, so a site silent since start-up would never be judged. The volume is
tiny: each worker sends it one `SiteSeen` per site per input batch, not one item per event.
An optional tick source (a Bytewax polling source) builds it even when no event arrives.

Both judge and date on the domain clock and schedule on the wall clock (`infra.clock`):
with a demo's accelerated clock a site silent for a few wall seconds has been silent for
simulated hours, while the next check still comes `check_every` of wall time later.

Site metrics (`SiteMetricsLogic`, keyed by site): merges the shards' per-site partial
metrics, the freshness changes and the dead-letter counts into one `SiteMetric` per site per
reporting interval, plus one at once whenever the site's freshness changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from bytewax.operators import StatefulBatchLogic

from dataflows import snapshots
from dataflows.messages import DlqCount, FreshnessSignal, ShardOut, SiteSeen, Tick
from infra.clock import DomainClock
from twin.freshness import SiteFreshness
from twin.masterdata import MasterData
from twin.site_stats import SitePartial


class FreshnessLogic(StatefulBatchLogic[SiteSeen | Tick, ShardOut, bytes]):
    def __init__(
        self, freshness: SiteFreshness, check_every: timedelta, clock: DomainClock
    ) -> None:
        self.freshness = freshness
        self.check_every = check_every  # wall-clock time
        self.clock = clock
        self.next_check = clock.wall()

    @classmethod
    def builder(
        cls, master: MasterData, check_every: timedelta, clock: DomainClock
    ) -> Callable[[bytes | None], FreshnessLogic]:
        # Silence shorter than two checks cannot be told from the checks' own spacing; on an
        # accelerated clock that spacing is simulated minutes (`SiteFreshness.resolution_s`).
        resolution_s = 2 * check_every.total_seconds() * clock.speed

        def build(resume: bytes | None) -> FreshnessLogic:
            freshness = snapshots.loads(resume) if resume is not None else SiteFreshness(master)
            freshness.resolution_s = resolution_s  # a setting, not state: also on resume
            return cls(freshness, check_every, clock)

        return build

    def on_batch(self, values: list[SiteSeen | Tick]) -> tuple[Iterable[ShardOut], bool]:
        for value in values:
            if isinstance(value, SiteSeen):
                self.freshness.observe(value.site, value.at)
        return self._evaluate(), StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[Iterable[ShardOut], bool]:
        return self._evaluate(), StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        return self.next_check

    def snapshot(self) -> bytes:
        return snapshots.dumps(self.freshness)

    def _evaluate(self) -> list[ShardOut]:
        wall = self.clock.wall()
        now = self.clock.at(wall)
        self.next_check = wall + self.check_every
        out: list[ShardOut] = []
        for change in self.freshness.evaluate(now):
            out.append(("freshness", FreshnessSignal(change.site, change.fresh, change.at)))
            out.append(("alert", change.alert))
        return out


class SiteMetricsLogic(
    StatefulBatchLogic[SitePartial | FreshnessSignal | DlqCount, ShardOut, bytes]
):
    def __init__(self, state: SiteMetricsState, every: timedelta, clock: DomainClock):
        self.state = state
        self.every = every  # wall-clock time
        self.clock = clock
        self.next_report = clock.wall() + every

    @classmethod
    def builder(
        cls, every: timedelta, clock: DomainClock
    ) -> Callable[[bytes | None], SiteMetricsLogic]:
        def build(resume: bytes | None) -> SiteMetricsLogic:
            state = snapshots.loads(resume) if resume is not None else SiteMetricsState()
            return cls(state, every, clock)

        return build

    def on_batch(
        self, values: list[SitePartial | FreshnessSignal | DlqCount]
    ) -> tuple[Iterable[ShardOut], bool]:
        out: list[ShardOut] = []
        for value in values:
            if isinstance(value, FreshnessSignal):
                self.state.fresh = value.fresh
                self.state.site = value.site
                # a change is reported at once; it closes the interval so that summing the
                # site's metrics never counts an event twice
                out.append(self._report(value.at, reset=True))
            elif isinstance(value, DlqCount):
                self.state.site = value.site
                self.state.dlq += value.count
            else:
                self.state.site = value.site
                self.state.partial.merge(value)
                seen = value.last_event_at
                if seen is not None and (
                    self.state.last_event_at is None or seen > self.state.last_event_at
                ):
                    self.state.last_event_at = seen
        return out, StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[Iterable[ShardOut], bool]:
        wall = self.clock.wall()
        self.next_report = wall + self.every
        return [self._report(self.clock.at(wall), reset=True)], StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[ShardOut], bool]:
        return [self._report(self.clock(), reset=True)], StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        return self.next_report

    def snapshot(self) -> bytes:
        return snapshots.dumps(self.state)

    def _report(self, now: datetime, *, reset: bool) -> ShardOut:
        state = self.state
        state.partial.site = state.site
        state.partial.last_event_at = state.last_event_at
        metric = state.partial.to_metric(now, fresh=state.fresh, dlq=state.dlq)
        if reset:
            state.partial = SitePartial(state.site)
            state.dlq = 0
        return ("site_metric", metric)


class SiteMetricsState:
    def __init__(self) -> None:
        self.site = ""
        self.fresh = True
        self.dlq = 0
        self.last_event_at: datetime | None = None
        self.partial = SitePartial("")
