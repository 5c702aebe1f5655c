"""Ingest's checks beyond the contract: master data and the event-time horizon.

A 202 means the twin will apply the event, so ingest refuses here what the flows would
dead-letter later, and nothing they would accept:

- master data (when the API has it: `TWIN_MASTER_DATA`, kept current from `masterdata.v1` by
  `api.master_data`, so a SKU published a second ago is accepted): the record goes through the API
  feed's own canonicalization (`twin.normalize.common.canonicalize`, scope = the event's
  site), so a site-local item code that is an alias at that site is accepted, and an unknown
  SKU or site, a unit the SKU does not have, or a quantity that is not whole in base units is
  refused with the normalizer's own error codes (`unknown_sku`, `unknown_site`,
  `unknown_uom`, `fractional_qty`, `bad_qty`);
- the horizon: an event older than `horizon_s` before the newest event the API's view has
  seen for the SKU (any site) would be dead-lettered as `outside_horizon`; refused with code
  `outside_horizon`. For a SKU the view has no position of, the twin would apply any time (the
  first event sets the SKU's horizon), so only the contract's sane range applies (checked by
  `twin.validation`). The twin does not let an event dated more than a day after its clock
  move the horizon (`twin.shard.ShardConfig.future_tolerance_s`); when the view's newest
  event of a SKU is such a one, the API cannot tell the twin's reference and checks nothing,
  so one bad timestamp never makes the API refuse every later event of the SKU.

Without master data only the horizon is checked here (the contract checks still run): the
flows then decide alone, as before, and an unknown SKU is dead-lettered there.

What cannot be known at once: the view lags the twin by the flows' latency, so an event of
a SKU whose newer events are still in flight can still be dead-lettered `outside_horizon`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec

from api.view import TwinView
from twin.errors import FieldError
from twin.events import InventoryEvent
from twin.masterdata import MasterIndex
from twin.normalize.common import RawEvent, canonicalize

# What the twin tolerates ahead of its clock before an event stops moving a SKU's horizon
# (`twin.shard.ShardConfig.future_tolerance_s`, its default).
FUTURE_TOLERANCE = timedelta(hours=24)


class IngestChecker:
    """Every master-data and horizon error of a batch of contract-valid events."""

    def __init__(
        self,
        index: MasterIndex | None,
        view: TwinView,
        horizon_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.index = index
        self.view = view
        self.horizon = timedelta(seconds=horizon_s)
        self.clock = clock  # the stack's domain clock, the twin's

    def errors(self, events: list[InventoryEvent], *, array: bool) -> list[FieldError]:
        found: list[FieldError] = []
        for i, event in enumerate(events):
            prefix = f"[{i}]." if array else ""
            found.extend(_prefixed(self._event_errors(event), prefix))
        return found

    def _event_errors(self, event: InventoryEvent) -> list[FieldError]:
        sku = event.sku
        errors: list[FieldError] = []
        if self.index is not None:
            raw = RawEvent(**msgspec.structs.asdict(event))
            outcome = canonicalize(self.index, raw, scope=event.site, source=event.source)
            if isinstance(outcome, list):
                errors.extend(outcome)
            else:
                sku = outcome.sku
        newest = self._newest_event_at(sku)
        if newest is not None and event.occurred_at < newest - self.horizon:
            days = self.horizon.total_seconds() / 86_400
            errors.append(
                FieldError(
                    field="occurred_at",
                    value=event.occurred_at.isoformat(),
                    code="outside_horizon",
                    message=(
                        f"more than {days:g} days before the newest event of SKU {sku} "
                        f"({newest.isoformat()}): the twin would not apply it; correct the "
                        "position with a new COUNTED or ADJUSTED instead"
                    ),
                )
            )
        return errors

    def _newest_event_at(self, sku: str) -> datetime | None:
        position = self.view.positions.get(sku)
        if position is None:
            return None
        stamps = [s.last_event_at for s in position.sites.values() if s.last_event_at]
        if not stamps:
            return None
        newest = max(stamps)
        return newest if newest <= self.clock() + FUTURE_TOLERANCE else None


def _prefixed(errors: list[FieldError], prefix: str) -> list[FieldError]:
    if not prefix:
        return errors
    return [msgspec.structs.replace(e, field=prefix + e.field) for e in errors]
