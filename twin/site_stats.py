"""Per-site feed-health figures gathered in the shards' pass and merged per site.

A `SitePartial` is what one shard saw of one site over one reporting interval; partials of
the same site from every shard merge (`merge`) into the site's `SiteMetric`. The figures
themselves (latency histograms) are `LatencyAccumulator`s; this module counts and carries
them. Pure, like the rest of the core: the dataflows call it, the clock is passed in.
"""

from __future__ import annotations

from datetime import datetime

from twin.events import InventoryEvent
from twin.windows import LatencyAccumulator
from twin.wire import SiteMetric


class SitePartial:
    """Counts and latency histograms of one site over one interval (mergeable)."""

    __slots__ = (
        "duplicates",
        "events",
        "exceptions",
        "last_event_at",
        "late_events",
        "posting",
        "site",
        "transfer_cycle",
        "visible",
    )

    def __init__(self, site: str) -> None:
        self.site = site
        self.events = 0
        self.duplicates = 0
        self.exceptions = 0
        self.late_events = 0
        self.posting = LatencyAccumulator()
        self.visible = LatencyAccumulator()
        # transfers received here: shipped -> received, in event time (ms, like latencies)
        self.transfer_cycle = LatencyAccumulator()
        self.last_event_at: datetime | None = None

    def observe(
        self, event: InventoryEvent, *, duplicate: bool, expired: bool, now: datetime
    ) -> None:
        """One event of this site as the shard handled it at `now` (the flows' domain clock)."""
        self.events += 1
        if duplicate:
            self.duplicates += 1
            return
        if expired:
            # older than the twin's event-time horizon: not applied, an exception to look at
            self.exceptions += 1
            return
        occurred = event.occurred_at
        if event.recorded_at is not None:
            self.posting.add_between(occurred, event.recorded_at)
        self.visible.add_between(occurred, now)
        if self.last_event_at is None or occurred > self.last_event_at:
            self.last_event_at = occurred

    def merge(self, other: SitePartial) -> None:
        self.events += other.events
        self.duplicates += other.duplicates
        self.exceptions += other.exceptions
        self.late_events += other.late_events
        self.posting.merge(other.posting)
        self.visible.merge(other.visible)
        self.transfer_cycle.merge(other.transfer_cycle)
        if other.last_event_at is not None and (
            self.last_event_at is None or other.last_event_at > self.last_event_at
        ):
            self.last_event_at = other.last_event_at

    def to_metric(self, as_of: datetime, *, fresh: bool, dlq: int) -> SiteMetric:
        return SiteMetric(
            site=self.site,
            as_of=as_of,
            events=self.events,
            duplicates=self.duplicates,
            exceptions=self.exceptions,
            dlq=dlq,
            late_events=self.late_events,
            posting_latency=self.posting.stats(),
            visible_latency=self.visible.stats(),
            transfer_cycle_s_p50=(
                round(self.transfer_cycle.quantile(0.5) / 1000.0, 1)
                if self.transfer_cycle.count
                else None
            ),
            last_event_at=self.last_event_at,
            fresh=fresh,
        )
