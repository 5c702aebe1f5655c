"""Tumbling windows at the ends of the representable time range: no event time can raise.

A window's end, a watermark (latest event time minus the lateness) and the next close time
are computed by adding to or subtracting from event times; at 9999-12-31 or 0001-01-01 that
arithmetic leaves Python's datetime range. The windows hold such values at the range's ends
instead of raising `OverflowError` (which once stopped the twin flow for good).
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.twin.factories import ev
from twin.windows import TumblingWindows, WindowConfig

CFG = WindowConfig(size_s=900, lateness_s=300)
LAST = datetime.max.replace(tzinfo=UTC)
FIRST = datetime.min.replace(tzinfo=UTC)


def at_time(when: datetime, qty: int = 1, site: str = "WH-01"):
    return msgspec.structs.replace(ev("SHIPPED", qty, site=site), occurred_at=when)


def test_an_event_in_the_last_window_of_year_9999_is_folded_and_flushed() -> None:
    windows = TumblingWindows(CFG)
    assert windows.add(at_time(datetime(9999, 12, 31, 23, 45, tzinfo=UTC), 3)) == []
    (metric,) = windows.flush()
    assert metric.window_start == datetime(9999, 12, 31, 23, 45, tzinfo=UTC)
    assert metric.window_end == LAST  # the end held at the last representable instant
    assert metric.demand == 3


def test_a_first_event_at_year_1_closes_nothing_and_later_events_still_close_windows() -> None:
    windows = TumblingWindows(CFG)
    assert windows.add(at_time(datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC))) == []
    assert windows.watermark == FIRST
    closed = windows.add(at_time(datetime(2026, 1, 1, tzinfo=UTC)))
    assert [m.window_start for m in closed] == [FIRST]  # the year-1 window, now closed


def test_the_very_first_and_last_instants_are_windowed_without_raising() -> None:
    windows = TumblingWindows(CFG)
    closed = []
    for when in (FIRST, LAST, FIRST, LAST):
        closed += windows.add(at_time(when))
    assert windows.late_total == 1  # the second FIRST: its window closed when LAST came
    assert sum(m.movements for m in closed + windows.flush()) == 3


@settings(max_examples=300, deadline=None)
@given(
    times=st.lists(
        st.datetimes(FIRST.replace(tzinfo=None), LAST.replace(tzinfo=None), timezones=st.just(UTC)),
        min_size=1,
        max_size=20,
    ),
    size_s=st.sampled_from([1.0, 900.0, 86_400.0]),
    lateness_s=st.sampled_from([0.0, 300.0, 7 * 86_400.0]),
)
def test_any_event_times_are_windowed_without_raising_and_every_event_is_counted_once(
    times: list[datetime], size_s: float, lateness_s: float
) -> None:
    windows = TumblingWindows(WindowConfig(size_s=size_s, lateness_s=lateness_s))
    closed = []
    for when in times:
        closed += windows.add(at_time(when))
    closed += windows.flush()
    assert sum(m.movements for m in closed) + windows.late_total == len(times)
