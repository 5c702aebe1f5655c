"""Is each site's feed up to date? Driven by the clock, so a silent site goes stale too.

A site is stale when ``now - last_seen > expected_interval_s * grace``, where ``last_seen`` is
the arrival time of anything from that site's feed (`observe`) and ``expected_interval_s``
comes from master data. A site never heard from counts from the first `evaluate` (or from
``started_at``), so a feed that never sends anything goes stale after the same delay.
`evaluate(now)` reports each fresh→stale and stale→fresh transition once, with a STALE_FEED
alert raised or cleared (id ``f"STALE_FEED::{site}:{n}"``, one per episode).

``resolution_s`` is the silence the caller cannot tell from a working feed: arrivals are
stamped per input batch and judged every few wall seconds, which on the demo's accelerated
clock (600 simulated seconds per wall second) is many simulated minutes. The allowed silence
is never below it, or a feed expected every minute would flap stale in a run without faults.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from twin.masterdata import MasterData
from twin.rules import alert_id
from twin.wire import Alert


@dataclass(frozen=True, slots=True)
class FreshnessChange:
    """A site's feed became stale (`fresh=False`) or fresh again, with its alert."""

    site: str
    fresh: bool
    at: datetime
    alert: Alert


class SiteFreshness:
    """Per-site feed freshness against master data's expected intervals."""

    __slots__ = (
        "_default",
        "_episodes",
        "_intervals",
        "_last_seen",
        "_stale",
        "_started",
        "grace",
        "resolution_s",
    )

    def __init__(
        self,
        master: MasterData | None = None,
        *,
        grace: float = 2.0,
        started_at: datetime | None = None,
        default_interval_s: float = 300.0,
        resolution_s: float = 0.0,
    ) -> None:
        self.grace = grace
        self.resolution_s = resolution_s
        self._intervals: dict[str, float] = {}
        if master is not None:
            self._intervals = {s.id: float(s.expected_interval_s) for s in master.sites}
        self._default = default_interval_s
        self._last_seen: dict[str, datetime] = {}
        self._stale: set[str] = set()
        self._episodes: dict[str, int] = {}
        self._started = started_at

    def sites(self) -> list[str]:
        """Master data's sites plus any other site heard from."""
        return sorted(set(self._intervals) | set(self._last_seen))

    def allowed_silence_s(self, site: str) -> float:
        return max(self._intervals.get(site, self._default) * self.grace, self.resolution_s)

    def observe(self, site: str, at: datetime) -> None:
        """Something arrived from `site`'s feed at `at` (arrival time, not event time)."""
        seen = self._last_seen.get(site)
        if seen is None or at > seen:
            self._last_seen[site] = at

    def last_seen(self, site: str) -> datetime | None:
        return self._last_seen.get(site)

    def is_fresh(self, site: str, now: datetime) -> bool:
        since = self._last_seen.get(site, self._started)
        if since is None:
            return True  # the clock has not started yet: nothing is overdue
        return (now - since).total_seconds() <= self.allowed_silence_s(site)

    def stale_sites(self) -> set[str]:
        """The stale sites as of the last `evaluate` (what the alerts say)."""
        return set(self._stale)

    def evaluate(self, now: datetime) -> list[FreshnessChange]:
        """Transitions since the last call, in site order; starts the clock on first call."""
        if self._started is None:
            self._started = now
        changes: list[FreshnessChange] = []
        for site in self.sites():
            fresh = self.is_fresh(site, now)
            was_fresh = site not in self._stale
            if fresh == was_fresh:
                continue
            if fresh:
                self._stale.discard(site)
                alert = self._alert(site, now, raised=False)
            else:
                self._stale.add(site)
                self._episodes[site] = self._episodes.get(site, 0) + 1
                alert = self._alert(site, now, raised=True)
            changes.append(FreshnessChange(site=site, fresh=fresh, at=now, alert=alert))
        return changes

    def _alert(self, site: str, now: datetime, *, raised: bool) -> Alert:
        seen = self._last_seen.get(site)
        allowed = self.allowed_silence_s(site)
        since = seen if seen is not None else self._started
        silent_s = (now - since).total_seconds() if since is not None else 0.0
        if raised:
            heard = f"last heard from at {_when(seen)}" if seen else "never heard from"
            explanation = (
                f"The feed of {site} is overdue: {heard}, {_span(silent_s)} of silence against "
                f"{_span(allowed)} allowed. Its figures may be missing movements; low stock "
                "there is reported as a suspected sync gap until it catches up."
            )
        else:
            back = _when(seen) if seen is not None else "?"
            explanation = f"The feed of {site} is back: data arrived at {back}."
        return Alert(
            id=alert_id("STALE_FEED", "", site, self._episodes.get(site, 0)),
            kind="STALE_FEED",
            severity="warning" if raised else "info",
            detected_at=now,
            explanation=explanation,
            state="raised" if raised else "cleared",
            site=site,
            details={"silent_s": round(silent_s, 3), "allowed_s": allowed},
        )


def _span(seconds: float) -> str:
    """A silence in the unit a person reads it in ("121 s", "22 min", "6.5 h")."""
    if seconds < 600:  # seconds still tell 121 from 120
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _when(at: datetime) -> str:
    """An instant as people read it in an alert: "2026-11-26 10:42:05 UTC"."""
    return at.strftime("%Y-%m-%d %H:%M:%S %Z").rstrip()
