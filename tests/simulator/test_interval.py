"""The replications' interval: Student t, narrowing like 1/sqrt(n), covering the true mean."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.interval import mean_ci95, summarize, t_975

# Two-sided 95% quantiles of Student's t, from the published tables.
T_TABLE = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
           9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021,
           60: 2.000, 120: 1.980}  # fmt: skip


@pytest.mark.parametrize(("df", "expected"), sorted(T_TABLE.items()))
def test_t_quantile_matches_the_tables(df, expected):
    assert t_975(df) == pytest.approx(expected, abs=0.0015)


def test_the_interval_is_the_t_interval_of_the_sample():
    values = [3.0, 5.0, 4.0, 6.0, 2.0]
    mean, half = mean_ci95(values)
    assert mean == 4.0
    assert half == pytest.approx(2.776445 * statistics.stdev(values) / math.sqrt(5))
    assert mean_ci95([7.0]) == (7.0, None)


def _trial(rng: random.Random, n: int, mu: float, sigma: float) -> tuple[float, float]:
    mean, half = mean_ci95([rng.gauss(mu, sigma) for _ in range(n)])
    assert half is not None
    return mean, half


def test_the_interval_narrows_like_one_over_sqrt_n_and_covers_the_true_mean():
    # A toy model with a known answer: replications drawn from N(10, 2).
    rng = random.Random(20261204)
    mu, sigma, trials = 10.0, 2.0, 400
    widths: dict[int, float] = {}
    for n in (5, 20, 80):
        covered = 0
        total_half = 0.0
        for _ in range(trials):
            mean, half = _trial(rng, n, mu, sigma)
            covered += mean - half <= mu <= mean + half
            total_half += half
        widths[n] = total_half / trials
        # 95% nominal; 400 trials put the observed share within about +-2.2% of it.
        assert 0.92 <= covered / trials <= 0.98, (n, covered)
        # The expected half-width is about t * sigma * c4 / sqrt(n).
        assert widths[n] == pytest.approx(t_975(n - 1) * sigma / math.sqrt(n), rel=0.1)
    assert widths[5] > widths[20] > widths[80]
    # Four times the replications, half the width (t shrinks a little too).
    assert widths[20] / widths[80] == pytest.approx(2.0 * t_975(19) / t_975(79), rel=0.08)


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=50))
def test_the_mean_lies_in_its_interval_and_worst_is_an_observed_extreme(values):
    stats = summarize(values, "high")
    low, high = stats["ci95"]
    assert low - 1e-3 <= stats["mean"] <= high + 1e-3
    assert stats["worst"] == round(max(values), 4)
    assert summarize(values, "low")["worst"] == round(min(values), 4)
    assert stats["n"] == len(values)


def test_identical_replications_have_a_zero_width_interval():
    stats = summarize([0.97, 0.97, 0.97], "low")
    assert stats["ci95"] == [0.97, 0.97] and stats["half_width"] == 0.0


def test_the_interval_is_cut_at_the_figures_possible_range():
    stats = summarize([0.0, 0.0, 9.0], "high", (0.0, None))
    assert stats["ci95"][0] == 0.0 and stats["ci95"][1] > 9.0
    assert summarize([0.99, 1.0, 1.0], "low", (0.0, 1.0))["ci95"][1] == 1.0
