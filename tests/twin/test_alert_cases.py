"""The alert case state machine: valid transitions, clear refusals, and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.alert_cases import (
    CASE_ACTIONS,
    AlertCase,
    CaseAction,
    InvalidAction,
    apply_action,
    case_decoder,
    case_encoder,
    effective_state,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def act(action: str, at: datetime = T0, **kwargs: object) -> CaseAction:
    return CaseAction(action=action, who="operator-ana", at=at, **kwargs)  # type: ignore[arg-type]


def test_acknowledge_assign_resolve_reopen_records_who_what_when() -> None:
    case = AlertCase(alert_id="a1")
    case = apply_action(case, act("acknowledge"))
    case = apply_action(case, act("assign", T0 + timedelta(minutes=1), assignee=" Ben "))
    case = apply_action(case, act("comment", T0 + timedelta(minutes=2), comment="on it"))
    case = apply_action(case, act("resolve", T0 + timedelta(minutes=3), comment="recounted"))
    assert (case.state, case.assignee, case.version) == ("resolved", "Ben", 4)
    case = apply_action(case, act("reopen", T0 + timedelta(minutes=4)))
    assert case.state == "open" and case.assignee == "Ben"
    assert [(e.action, e.state, e.who) for e in case.trail] == [
        ("acknowledge", "acknowledged", "operator-ana"),
        ("assign", "acknowledged", "operator-ana"),
        ("comment", "acknowledged", "operator-ana"),
        ("resolve", "resolved", "operator-ana"),
        ("reopen", "open", "operator-ana"),
    ]
    assert case.trail[1].assignee == "Ben"
    assert case.trail[3].comment == "recounted"
    assert case.updated_at == T0 + timedelta(minutes=4)


def test_a_snooze_lapses_back_to_open_at_its_time() -> None:
    until = T0 + timedelta(hours=2)
    case = apply_action(AlertCase(alert_id="a1"), act("snooze", until=until))
    assert case.state == "snoozed" and case.snoozed_until == until
    assert effective_state(case, until - timedelta(seconds=1)) == "snoozed"
    assert effective_state(case, until) == "open"
    # a lapsed snooze acts as open: it can be acknowledged, and the snooze time is dropped
    woken = apply_action(case, act("acknowledge", until + timedelta(minutes=1)))
    assert woken.state == "acknowledged" and woken.snoozed_until is None


@pytest.mark.parametrize(
    ("action", "kwargs", "field"),
    [
        ("assign", {}, "assignee"),
        ("assign", {"assignee": "  "}, "assignee"),
        ("comment", {}, "comment"),
        ("snooze", {}, "until"),
        ("snooze", {"until": T0 - timedelta(minutes=1)}, "until"),
        ("snooze", {"until": datetime(2026, 3, 2)}, "until"),  # noqa: DTZ001 (naive on purpose)
        ("acknowledge", {"until": T0 + timedelta(hours=1)}, "until"),
        ("resolve", {"assignee": "Ben"}, "assignee"),
        ("comment", {"comment": "x" * 2001}, "comment"),
    ],
)
def test_bad_arguments_name_the_field(action: str, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidAction) as refused:
        apply_action(AlertCase(alert_id="a1"), act(action, **kwargs))
    assert refused.value.field == field


def test_transitions_a_state_does_not_allow_are_refused() -> None:
    resolved = apply_action(AlertCase(alert_id="a1"), act("resolve"))
    for action, kwargs in (
        ("acknowledge", {}),
        ("resolve", {}),
        ("assign", {"assignee": "Ben"}),
        ("snooze", {"until": T0 + timedelta(hours=1)}),
    ):
        with pytest.raises(InvalidAction, match="resolved") as refused:
            apply_action(resolved, act(action, **kwargs))
        assert refused.value.field == "action"
    with pytest.raises(InvalidAction, match="open"):
        apply_action(AlertCase(alert_id="a1"), act("reopen"))


def test_a_case_survives_its_wire_form() -> None:
    case = apply_action(AlertCase(alert_id="a1"), act("assign", assignee="Ben", comment="yours"))
    assert case_decoder.decode(case_encoder.encode(case)) == case


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(CASE_ACTIONS), st.integers(min_value=1, max_value=120)),
        max_size=25,
    )
)
def test_any_sequence_keeps_the_case_consistent(steps: list[tuple[str, int]]) -> None:
    """Whatever operators do, an accepted action bumps the version by one and adds one trail
    entry whose state is the case's; a refused one changes nothing."""
    case, now = AlertCase(alert_id="a1"), T0
    for action, minutes in steps:
        now += timedelta(minutes=minutes)
        kwargs: dict[str, object] = {
            "assign": {"assignee": "Ben"},
            "comment": {"comment": "note"},
            "snooze": {"until": now + timedelta(minutes=30)},
        }.get(action, {})
        try:
            after = apply_action(case, act(action, now, **kwargs))
        except InvalidAction:
            continue
        assert after.version == case.version + 1 == len(after.trail)
        assert after.trail[-1].state == after.state
        assert (after.state == "snoozed") == (after.snoozed_until is not None)
        assert after.trail[:-1] == case.trail
        case = after
