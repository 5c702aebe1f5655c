"""An alert case: what operators did about an alert, as a small state machine with an audit trail.

States: open → acknowledged → resolved, with snoozed (until a time) beside them and reopen
going back to open. Assigning and commenting keep the state. Every accepted action appends a
trail entry (who, what, when) and bumps `version`, so a reader that sees the same case twice
(at-least-once delivery, or two replicas writing) keeps the higher version.

The whole case travels as one record (the compacted topic keeps only the latest per alert,
so the latest record must carry the whole trail).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

CaseState = Literal["open", "acknowledged", "snoozed", "resolved"]
CaseActionKind = Literal["acknowledge", "assign", "comment", "snooze", "resolve", "reopen"]

CASE_STATES: tuple[CaseState, ...] = ("open", "acknowledged", "snoozed", "resolved")
CASE_ACTIONS: tuple[CaseActionKind, ...] = (
    "acknowledge",
    "assign",
    "comment",
    "snooze",
    "resolve",
    "reopen",
)
MAX_COMMENT = 2000
MAX_NAME = 128

# The states each state-changing action may start from (assign and comment: any but resolved
# for assign, any at all for comment).
_FROM: dict[CaseActionKind, frozenset[CaseState]] = {
    "acknowledge": frozenset({"open", "snoozed"}),
    "assign": frozenset({"open", "acknowledged", "snoozed"}),
    "comment": frozenset(CASE_STATES),
    "snooze": frozenset({"open", "acknowledged", "snoozed"}),
    "resolve": frozenset({"open", "acknowledged", "snoozed"}),
    "reopen": frozenset({"resolved", "snoozed", "acknowledged"}),
}
_TO: dict[CaseActionKind, CaseState | None] = {
    "acknowledge": "acknowledged",
    "assign": None,  # keeps the state
    "comment": None,
    "snooze": "snoozed",
    "resolve": "resolved",
    "reopen": "open",
}


class TrailEntry(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One accepted action: who (the caller's name), what, when, and its arguments."""

    at: datetime
    who: str
    action: CaseActionKind
    state: CaseState  # the state after the action
    assignee: str | None = None
    comment: str | None = None
    until: datetime | None = None


class AlertCase(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The operators' side of one alert (the alert itself comes from the twin)."""

    alert_id: str
    state: CaseState = "open"
    assignee: str | None = None
    snoozed_until: datetime | None = None
    version: int = 0
    updated_at: datetime | None = None
    trail: list[TrailEntry] = []


class CaseAction(msgspec.Struct, kw_only=True):
    """What an operator asks for; `who` and `at` are filled by the caller's side."""

    action: CaseActionKind
    who: str
    at: datetime
    assignee: str | None = None
    comment: str | None = None
    until: datetime | None = None


class InvalidAction(ValueError):
    """The action does not apply: a missing or bad argument (`field` names it) or a state it
    cannot start from (`field` is "action")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def effective_state(case: AlertCase, now: datetime) -> CaseState:
    """A snooze that has run out reads as open again (no record needed to wake it)."""
    if case.state == "snoozed" and case.snoozed_until is not None and case.snoozed_until <= now:
        return "open"
    return case.state


def apply_action(case: AlertCase, action: CaseAction) -> AlertCase:
    """The case after `action`, or `InvalidAction`. The input case is left unchanged."""
    _check_arguments(action)
    current = effective_state(case, action.at)
    if current not in _FROM[action.action]:
        raise InvalidAction("action", f"cannot {action.action} a case that is {current}")
    state = _TO[action.action] or current
    named = (action.assignee or "").strip() or None
    assignee = named if action.action == "assign" else case.assignee
    until = action.until if action.action == "snooze" else None
    entry = TrailEntry(
        at=action.at,
        who=action.who,
        action=action.action,
        state=state,
        assignee=named,
        comment=action.comment,
        until=until,
    )
    return AlertCase(
        alert_id=case.alert_id,
        state=state,
        assignee=assignee,
        # a new snooze sets the time; assigning or commenting keeps a running one
        snoozed_until=(until or case.snoozed_until) if state == "snoozed" else None,
        version=case.version + 1,
        updated_at=action.at,
        trail=[*case.trail, entry],
    )


def _check_arguments(action: CaseAction) -> None:
    if not action.who.strip():
        raise InvalidAction("who", "an action needs the name of who did it")
    if action.comment is not None and len(action.comment) > MAX_COMMENT:
        raise InvalidAction("comment", f"a comment is at most {MAX_COMMENT} characters")
    if action.action == "assign":
        name = (action.assignee or "").strip()
        if not name:
            raise InvalidAction("assignee", "assign needs an assignee (a person's name)")
        if len(name) > MAX_NAME:
            raise InvalidAction("assignee", f"an assignee is at most {MAX_NAME} characters")
    elif action.assignee is not None:
        raise InvalidAction("assignee", f"{action.action} takes no assignee")
    if action.action == "comment" and not (action.comment or "").strip():
        raise InvalidAction("comment", "comment needs a non-empty comment")
    if action.action == "snooze":
        if action.until is None:
            raise InvalidAction("until", "snooze needs until (a time with a zone)")
        if action.until.tzinfo is None:
            raise InvalidAction("until", "until needs a time zone")
        if action.until <= action.at:
            raise InvalidAction("until", "until must be later than now")
    elif action.until is not None:
        raise InvalidAction("until", f"{action.action} takes no until")


case_encoder = msgspec.json.Encoder()
case_decoder = msgspec.json.Decoder(AlertCase)
