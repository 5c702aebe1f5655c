"""Mean, 95% confidence interval and worst case of a figure over independent replications.

The interval is Student's t on the replication values: mean ± t(0.975, n-1) · s / √n, with
s the sample standard deviation. It says where the scenario's expected figure lies given
the n seeds run (it narrows like 1/√n), not where one day's figure will fall: that is what
`worst` (and the min-max over replications) is for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

Worse = Literal["high", "low"]
_Z975 = 1.959963984540054
_TABLE = {3: 3.182446305284263, 4: 2.7764451051977987}


def t_975(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom (two-sided 95%).

    Exact for 1 and 2 degrees of freedom, tabled for 3 and 4, the Cornish-Fisher expansion
    in 1/df from 5 on (Abramowitz & Stegun 26.7.5; within 0.001 of the tables).
    """
    if df < 1:
        raise ValueError("a t quantile needs at least one degree of freedom")
    if df == 1:
        return math.tan(math.pi * 0.475)
    if df == 2:
        p = 0.975
        return (2 * p - 1) * math.sqrt(2.0 / (4 * p * (1 - p)))
    if df in _TABLE:
        return _TABLE[df]
    z = _Z975
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    n = float(df)
    return z + g1 / n + g2 / n**2 + g3 / n**3 + g4 / n**4


def mean_ci95(values: Sequence[float]) -> tuple[float, float | None]:
    """(mean, half-width of its 95% interval); the half-width is None for one value."""
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = math.fsum(values) / n
    if n == 1:
        return mean, None
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, t_975(n - 1) * math.sqrt(var / n)


def summarize(
    values: Sequence[float], worse: Worse, bounds: tuple[float | None, float | None] = (None, None)
) -> dict[str, Any]:
    """Mean, 95% interval, worst and best of one figure over replications (rounded).

    `bounds` are the figure's possible range (a count is never negative, an accuracy never
    above 1): the interval is cut there rather than claim impossible values.
    """
    mean, half = mean_ci95(values)
    worst, best = (max(values), min(values)) if worse == "high" else (min(values), max(values))
    low_bound, high_bound = bounds
    ci = None
    if half is not None:
        low, high = mean - half, mean + half
        low = low if low_bound is None else max(low, low_bound)
        high = high if high_bound is None else min(high, high_bound)
        ci = [_r(low), _r(high)]
    return {
        "mean": _r(mean),
        "ci95": ci,
        "half_width": None if half is None else _r(half),
        "worst": _r(worst),
        "best": _r(best),
        "n": len(values),
    }


def _r(value: float) -> float:
    return round(float(value), 4)
