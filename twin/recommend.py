"""What to do about a LOW_STOCK: transfer from the site with most excess, or purchase.

A transfer source must have a lane into the short site and a fresh feed (excess seen
through a stale feed is not stock one can count on). Its excess is its ATP above its own
target. The transfer quantity is ``min(excess, need)`` where ``need`` brings the short site
back to its target; the expected arrival is ``now`` plus the lane's transit time. With no
such source the recommendation is a purchase of ``need``. The value is quantity * unit
value, and a value above the approval threshold needs a person's approval.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from twin.wire import Recommendation


@dataclass(frozen=True, slots=True)
class LaneIn:
    """A transfer lane into a site, seen from the destination."""

    from_site: str
    transit_s: float


@dataclass(frozen=True, slots=True)
class SkuLimits:
    """The planning figures of one SKU (from master data)."""

    reorder_point: Mapping[str, int]
    target: Mapping[str, int]
    unit_value: float


def recommend(
    *,
    site: str,
    atp_by_site: Mapping[str, int],
    limits: SkuLimits,
    lanes_in: Sequence[LaneIn],
    fresh: Callable[[str], bool],
    now: datetime,
    approval_value_threshold: float,
) -> Recommendation:
    """The recommendation for a SKU that is short at `site`."""
    atp = atp_by_site.get(site, 0)
    goal = max(limits.target.get(site, 0), limits.reorder_point.get(site, 0))
    need = max(goal - atp, 1)

    best: tuple[int, str, LaneIn] | None = None
    for lane in lanes_in:
        src = lane.from_site
        if src == site or not fresh(src):
            continue
        src_goal = limits.target.get(src, limits.reorder_point.get(src, 0))
        excess = atp_by_site.get(src, 0) - src_goal
        if excess <= 0:
            continue
        # most excess wins; ties go to the alphabetically first site, so it is deterministic
        if best is None or excess > best[0] or (excess == best[0] and src < best[1]):
            best = (excess, src, lane)

    if best is not None:
        excess, src, lane = best
        qty = min(excess, need)
        value = qty * limits.unit_value
        return Recommendation(
            action="transfer",
            from_site=src,
            to_site=site,
            qty=qty,
            value=value,
            needs_approval=value > approval_value_threshold,
            expected_arrival=now + timedelta(seconds=lane.transit_s),
            reason=(
                f"{src} holds {excess} units above its target; moving {qty} brings {site} "
                f"{'back to' if qty == need else 'closer to'} its target of {goal}."
            ),
        )
    value = need * limits.unit_value
    return Recommendation(
        action="purchase",
        to_site=site,
        qty=need,
        value=value,
        needs_approval=value > approval_value_threshold,
        reason=(
            f"No site with a lane into {site} has stock above its target; "
            f"buy {need} to bring {site} back to its target of {goal}."
        ),
    )
