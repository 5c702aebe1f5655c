"""Normalizers: the three raw feed formats of DESIGN turned into canonical events.

`Normalizer(master).normalize(feed, raw)` gives `NormalizeResult(events, rejections)`;
each format lives in its own module (`api`, `batch`, `threepl`), shared pieces in `common`.
"""

from twin.normalize.common import NormalizeResult, RawEvent, Rejection, dead_letter
from twin.normalize.normalizer import FEEDS, Feed, Normalizer

__all__ = [
    "FEEDS",
    "Feed",
    "NormalizeResult",
    "Normalizer",
    "RawEvent",
    "Rejection",
    "dead_letter",
]
