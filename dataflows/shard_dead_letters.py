"""What a twin shard dead-letters, and the words it uses: events it received but did not apply.

Each `twin.shard` outcome that needs a person gets an error code and a message saying what
to do:

* `EXPIRED` -> `outside_horizon`: older than the SKU's event-time horizon (exactness is kept
  within it, DESIGN.md "Exactness horizon");
* `CONFLICT` -> `event_id_conflict`: the event id was applied before with other business
  content; this event was not merged into it;
* `REJECTED` -> the contract's own code (`twin.validation.validate_event`);
* `FAILED` (this module's, not the core's) -> `processing_failed`: the core raised on it.

The letter carries the consumed record's exact bytes and coordinates when the shard got them
(`ShardBatch`), else the event's canonical encoding and no coordinates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import msgspec

from dataflows.dead_letters import dead_letter_message
from dataflows.kafka_io import RawRecord, SinkRecord
from dataflows.messages import ShardBatch
from twin.errors import FieldError
from twin.events import InventoryEvent
from twin.shard import CONFLICT, EXPIRED, REJECTED
from twin.validation import validate_event

# the core raised on this event when applied alone (never a code of `twin.shard`'s)
FAILED: Final = 255
DEAD_LETTERED: Final = frozenset((EXPIRED, CONFLICT, REJECTED, FAILED))

_NO_SOURCE = RawRecord(None, None, "", -1, -1)


class ShardDeadLetters:
    """Builds the dead letters of one shard's outcomes (one per shard logic)."""

    def __init__(self, horizon_s: float, max_bytes: int) -> None:
        self.horizon_days = horizon_s / 86_400
        self.max_bytes = max_bytes
        self.encoder = msgspec.json.Encoder()

    def letter(
        self,
        event: InventoryEvent,
        code: int,
        batch: ShardBatch | None,
        index: int,
        now: datetime,
        failure: str = "",
    ) -> SinkRecord:
        error_code, message, errors = self._reason(event, code, failure)
        if batch is None:
            original, source = self.encoder.encode(event), _NO_SOURCE
        else:
            source = batch.record(index)
            original = source.value or b""
        return dead_letter_message(
            self.encoder,
            error_code=error_code,
            message=message,
            original=original,
            source=source,
            now=now,
            errors=errors,
            site=event.site,
            max_bytes=self.max_bytes,
        )

    def _reason(
        self, event: InventoryEvent, code: int, failure: str
    ) -> tuple[str, str, list[FieldError]]:
        if code == EXPIRED:
            return (
                "outside_horizon",
                f"event {event.event_id} occurred at {event.occurred_at.isoformat()}, more than "
                f"{self.horizon_days:g} days before the newest event of SKU {event.sku}: not "
                "applied (exactness is kept within that horizon). If the movement is real, "
                "correct the position with a COUNTED at the site",
                [],
            )
        if code == CONFLICT:
            return (
                "event_id_conflict",
                f"event id {event.event_id} was applied before with other business content "
                "(type, sku, site, qty, uom, occurred_at or transfer fields); this event was "
                "not applied. If it is a different movement, send it with a new event id",
                [],
            )
        if code == REJECTED:
            errors = validate_event(event)
            return (
                errors[0].code if errors else "rejected",
                "this event breaks the canonical contract and was not applied: "
                + ("; ".join(e.message for e in errors) or "the twin refused it"),
                errors,
            )
        return (
            "processing_failed",
            f"the twin flow failed on event {event.event_id} ({failure}); it was not applied. "
            "Report it with its coordinates; once fixed, replay it from here",
            [],
        )
