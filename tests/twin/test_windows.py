"""Tumbling event-time windows with exact figures, late events, and latency percentiles."""

from __future__ import annotations

import random
from datetime import timedelta

from tests.twin.factories import T0, at, ev
from twin.windows import (
    LatencyAccumulator,
    TumblingWindows,
    WindowAcc,
    WindowConfig,
    window_builder,
    window_fold,
    window_index,
    window_merge,
    window_metric,
)

# T0 is 10:00 UTC, a multiple of 15 minutes since the epoch: windows start at T0 + k*900 s
CFG = WindowConfig(size_s=900, lateness_s=60)


def figures(metrics: list) -> list[tuple]:  # type: ignore[type-arg]
    return [
        (m.sku, m.site, m.window_start, m.demand, m.receipts, m.movements, m.late_events)
        for m in metrics
    ]


def test_windows_close_when_the_watermark_passes_their_end() -> None:
    w = TumblingWindows(CFG)
    assert w.add(ev("SHIPPED", 3, t=10)) == []
    assert w.add(ev("SHIPPED", 4, t=500)) == []
    assert w.add(ev("RECEIVED", 20, t=899)) == []
    assert w.add(ev("PICKED", 4, t=600, site="WH-02")) == []
    assert w.add(ev("SHIPPED", 1, t=950)) == []  # watermark 890: nothing closes yet
    closed = w.add(ev("RESERVED", 2, t=960))  # watermark 900 = end of the first window
    assert figures(closed) == [
        ("SKU-1", "WH-01", T0, 7, 20, 3, 0),
        ("SKU-1", "WH-02", T0, 0, 0, 1, 0),
    ]
    assert closed[0].window_end == T0 + timedelta(minutes=15)
    assert figures(w.flush()) == [("SKU-1", "WH-01", at(900), 1, 0, 2, 0)]


def test_an_event_within_the_allowed_lateness_still_counts_in_its_window() -> None:
    w = TumblingWindows(CFG)
    w.add(ev("SHIPPED", 1, t=100))
    w.add(ev("SHIPPED", 1, t=930))  # watermark 870
    assert w.add(ev("SHIPPED", 5, t=880)) == []  # older, but its window is still open
    closed = w.add(ev("SHIPPED", 1, t=1000))
    assert figures(closed) == [("SKU-1", "WH-01", T0, 6, 0, 2, 0)]
    assert w.late_total == 0


def test_late_events_are_counted_and_reported_in_the_next_window_to_close() -> None:
    w = TumblingWindows(CFG)
    w.add(ev("SHIPPED", 2, t=100))
    closed = w.add(ev("SHIPPED", 1, t=1000))  # watermark 940: first window closed
    assert figures(closed) == [("SKU-1", "WH-01", T0, 2, 0, 1, 0)]
    assert w.add(ev("SHIPPED", 9, t=50)) == []  # late: its window is closed
    assert w.add(ev("SHIPPED", 9, t=60, site="WH-02")) == []  # late, for another site
    assert w.late_total == 2
    assert w.late_by_site == {"WH-01": 1, "WH-02": 1}
    closed = w.add(ev("SHIPPED", 1, t=1900))
    assert figures(closed) == [
        ("SKU-1", "WH-01", at(900), 1, 0, 1, 1),  # the late demand is not added, but counted
        ("SKU-1", "WH-02", at(900), 0, 0, 0, 1),
    ]


def test_advance_closes_windows_without_new_events() -> None:
    w = TumblingWindows(CFG)
    w.add(ev("SHIPPED", 2, t=100))
    assert w.advance(at(899)) == []
    assert figures(w.advance(at(900))) == [("SKU-1", "WH-01", T0, 2, 0, 1, 0)]
    assert w.advance(at(500)) == []  # never back
    assert w.open_windows() == 0


def test_windows_align_to_a_fixed_epoch() -> None:
    w = TumblingWindows(WindowConfig(size_s=3600, lateness_s=0, align_to=at(-1800)))
    w.add(ev("SHIPPED", 1, t=0))
    (m,) = w.flush()
    assert (m.window_start, m.window_end) == (at(-1800), at(1800))
    assert window_index(at(1800), timedelta(hours=1), at(-1800)) == 1


def test_builder_fold_and_merge_agree_with_folding_everything_at_once() -> None:
    events = [ev(t, q) for t, q in [("SHIPPED", 3), ("RECEIVED", 8), ("PICKED", 2)] * 3]
    whole = window_builder()
    for e in events:
        whole = window_fold(whole, e)
    left, right = window_builder(), window_builder()
    for e in events[:4]:
        left = window_fold(left, e)
    for e in events[4:]:
        right = window_fold(right, e)
    assert window_merge(left, right) == whole == WindowAcc(9, 24, 9, 0)
    m = window_metric("SKU-1", "WH-01", T0, at(900), whole)
    assert (m.demand, m.receipts, m.movements) == (9, 24, 9)


def test_latency_percentiles_are_within_two_percent_with_bounded_buckets() -> None:
    rnd = random.Random(7)
    samples = [rnd.lognormvariate(5, 1.2) for _ in range(20_000)]
    acc = LatencyAccumulator()
    for x in samples:
        acc.add(x)
    ordered = sorted(samples)
    stats = acc.stats()
    for q, got in ((0.5, stats.p50_ms), (0.95, stats.p95_ms), (0.99, stats.p99_ms)):
        true = ordered[int(q * len(ordered)) - 1]
        assert abs(got - true) / true < 0.02, (q, got, true)
    assert stats.max_ms == round(max(samples), 3)
    assert stats.count == 20_000
    assert len(acc.buckets) < 1000


def test_latency_accumulators_merge() -> None:
    a, b, both = LatencyAccumulator(), LatencyAccumulator(), LatencyAccumulator()
    for i in range(1, 101):
        (a if i % 2 else b).add(float(i))
        both.add(float(i))
    assert a.merge(b).stats() == both.stats()


def test_latency_from_timestamps_and_clock_skew() -> None:
    acc = LatencyAccumulator()
    acc.add_between(T0, T0 + timedelta(milliseconds=250))
    acc.add_between(T0, T0 - timedelta(seconds=1))  # recorded before it occurred: skew
    assert acc.count == 2
    assert acc.quantile(0.5) == 0.0
    assert abs(acc.quantile(1.0) - 250) / 250 < 0.01
    assert LatencyAccumulator().stats().p99_ms == 0.0


def test_an_event_after_not_after_is_counted_but_does_not_move_the_watermark() -> None:
    w = TumblingWindows(CFG)
    w.add(ev("SHIPPED", 1, t=10))
    assert w.add(ev("SHIPPED", 7, t=10**7), not_after=at(3600)) == []
    assert w.watermark == at(10 - 60)
    assert w.add(ev("SHIPPED", 2, t=20)) == []  # not late
    assert w.late_total == 0
    assert figures(w.flush()) == [
        ("SKU-1", "WH-01", T0, 3, 0, 2, 0),
        ("SKU-1", "WH-01", T0 + timedelta(seconds=10**7 // 900 * 900), 7, 0, 1, 0),
    ]
