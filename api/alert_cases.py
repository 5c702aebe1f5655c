"""Alert cases in one API replica: every alert joined with its case, listed and watched.

`CaseBook` keeps every alert of `twin.alerts.v1` this replica has read (the topic's retention
bounds them, not a count) and the latest case per alert from `twin.alert-cases.v1`. It lives
on the event loop like the view: the readers deliver to it there, the routes query it there.
Listing sorts the filtered alerts (most severe first, then count discrepancies by value at
risk, then newest) and pages with an opaque cursor naming the last item's sort key, so pages
never repeat or skip an item that stays put, and no list is capped.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from api.auth import Principal
from api.topic_reader import Targets, TopicReader
from twin.alert_cases import AlertCase, CaseState, case_decoder, effective_state
from twin.wire import Alert

log = logging.getLogger("api.alert_cases")

_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
SortKey = tuple[int, float, float, str]


def actor_name(principal: Principal) -> str:
    """The name an action is recorded under: the token's holder as `TWIN_API_TOKENS` names
    it, else the role and a short fingerprint of the token (never the token: a secret)."""
    if principal.name:
        return principal.name
    digest = hashlib.sha256(principal.token.encode()).hexdigest()[:8]
    return f"{principal.role.value}-{digest}"


def value_at_risk(alert: Alert) -> float | None:
    """What a count discrepancy is worth (its `value` detail); None for other kinds."""
    if alert.kind != "COUNT_DISCREPANCY":
        return None
    value = alert.details.get("value")
    return float(value) if isinstance(value, int | float) else None


def sort_key(alert: Alert) -> SortKey:
    return (
        _SEVERITY_RANK.get(alert.severity, 3),
        -(value_at_risk(alert) or 0.0),
        -alert.detected_at.timestamp(),
        alert.id,
    )


class InvalidCursor(ValueError):
    """A cursor this API did not hand out."""


def encode_cursor(key: SortKey) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> SortKey:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        rank, value, detected, alert_id = raw
        return (int(rank), float(value), float(detected), str(alert_id))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidCursor(f"invalid cursor {cursor!r}") from exc


@dataclass(frozen=True)
class CaseFilter:
    """What a listing keeps; every given criterion must hold."""

    state: CaseState | None = None  # None: every state
    condition: str | None = None  # "raised" or "cleared" (the twin's side of the alert)
    assignee: str | None = None
    unassigned: bool = False
    kind: str | None = None
    site: str | None = None
    sku: str | None = None
    severity: str | None = None


@dataclass(frozen=True)
class CasePage:
    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int  # how many match the filter, over all pages


def untouched_case(alert: Alert) -> AlertCase:
    """The case of an alert nobody acted on: open while raised, resolved once the twin
    cleared it (by the condition ending, with nothing in the trail)."""
    return AlertCase(alert_id=alert.id, state="resolved" if alert.state == "cleared" else "open")


class CaseBook:
    """Alerts and their cases in this replica, plus who is watching case changes."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.alerts: dict[str, Alert] = {}
        self.cases: dict[str, AlertCase] = {}
        self._watchers: set[asyncio.Queue[dict[str, Any]]] = set()

    # -- applying -------------------------------------------------------------------------

    def apply_alert(self, alert: Alert) -> None:
        self.alerts[alert.id] = alert

    def apply_case(self, case: AlertCase) -> bool:
        """Keep the case if newer than ours (at-least-once input); tell the watchers."""
        current = self.cases.get(case.alert_id)
        if current is not None and case.version <= current.version:
            return False
        self.cases[case.alert_id] = case
        item = self.item(case.alert_id)
        if item is not None:
            for queue in list(self._watchers):
                if queue.full():  # a watcher that fell behind misses nothing it can't re-read
                    continue
                queue.put_nowait({"type": "case", "item": item})
        return True

    def case_of(self, alert_id: str) -> AlertCase | None:
        case = self.cases.get(alert_id)
        if case is not None:
            return case
        alert = self.alerts.get(alert_id)
        return untouched_case(alert) if alert is not None else None

    # -- watching -------------------------------------------------------------------------

    def watch(self, max_queued: int = 1000) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(max_queued)
        self._watchers.add(queue)
        return queue

    def unwatch(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._watchers.discard(queue)

    # -- queries --------------------------------------------------------------------------

    def item(self, alert_id: str, *, with_trail: bool = False) -> dict[str, Any] | None:
        """The alert with its case (state, assignee, snooze) and value at risk."""
        alert = self.alerts.get(alert_id)
        case = self.case_of(alert_id)
        if alert is None or case is None:
            return None
        body: dict[str, Any] = msgspec.to_builtins(alert)
        body["condition"] = alert.state
        body["value_at_risk"] = value_at_risk(alert)
        body["case"] = {
            "state": effective_state(case, self.clock()),
            "assignee": case.assignee,
            "snoozed_until": case.snoozed_until.isoformat() if case.snoozed_until else None,
            "version": case.version,
            "updated_at": case.updated_at.isoformat() if case.updated_at else None,
        }
        if with_trail:
            body["case"]["trail"] = msgspec.to_builtins(case.trail)
        return body

    def list(self, where: CaseFilter, *, limit: int, cursor: str | None = None) -> CasePage:
        after = decode_cursor(cursor) if cursor is not None else None
        now = self.clock()
        keyed = []
        for alert in self.alerts.values():
            if not _alert_matches(alert, where):
                continue
            case = self.case_of(alert.id)
            if case is None or not _case_matches(case, where, now):
                continue
            keyed.append((sort_key(alert), alert.id))
        keyed.sort()
        total = len(keyed)
        start = 0
        if after is not None:
            start = _bisect_after(keyed, after)
        window = keyed[start : start + limit]
        items = [item for _, alert_id in window if (item := self.item(alert_id)) is not None]
        more = start + limit < total
        next_cursor = encode_cursor(window[-1][0]) if more and window else None
        return CasePage(items, next_cursor, total)


def _bisect_after(keyed: list[tuple[SortKey, str]], after: SortKey) -> int:
    lo, hi = 0, len(keyed)
    while lo < hi:
        mid = (lo + hi) // 2
        if keyed[mid][0] <= after:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _alert_matches(alert: Alert, where: CaseFilter) -> bool:
    return (
        (where.kind is None or alert.kind == where.kind)
        and (where.site is None or alert.site == where.site)
        and (where.sku is None or alert.sku == where.sku)
        and (where.severity is None or alert.severity == where.severity)
        and (where.condition is None or alert.state == where.condition)
    )


def _case_matches(case: AlertCase, where: CaseFilter, now: datetime) -> bool:
    if where.state is not None and effective_state(case, now) != where.state:
        return False
    if where.unassigned and case.assignee is not None:
        return False
    return where.assignee is None or case.assignee == where.assignee


class CaseReader(TopicReader[CaseBook]):
    """Reads `twin.alert-cases.v1` from the beginning into the case book (every replica)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(bootstrap, name="alert-cases", log=log)
        self.topic = topic

    def _assignment(self, consumer: Consumer) -> tuple[list[TopicPartition], Targets]:
        info = consumer.list_topics(self.topic, timeout=10).topics.get(self.topic)
        assignment: list[TopicPartition] = []
        targets: Targets = {}
        if info is None or info.error is not None:
            log.warning("alert-cases topic missing; no cases", extra={"topic": self.topic})
            return assignment, targets
        for partition in info.partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=10
            )
            assignment.append(TopicPartition(self.topic, partition, OFFSET_BEGINNING))
            if high > low:
                targets[(self.topic, partition)] = high
        return assignment, targets

    def _batch(self, msgs: Sequence[Any]) -> list[AlertCase]:
        batch: list[AlertCase] = []
        for msg in msgs:
            value = msg.value() if msg.error() is None else None
            if value is None:
                continue
            try:
                batch.append(case_decoder.decode(value))
            except msgspec.DecodeError:
                log.warning("undecodable alert case", extra={"offset": msg.offset()})
        return batch

    @staticmethod
    def _deliver(target: CaseBook, batch: list[Any]) -> None:
        for case in batch:
            target.apply_case(case)
