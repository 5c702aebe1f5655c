"""A sorted set of ids that a listing can walk from any key, in order, a page at a time.

The view adds SKUs in the order the positions topic delivers them (hash order), so a plain
sorted list with `insort` would move half the list per new SKU: minutes for a catalogue
loaded at startup. New ids go to a small sorted side list instead, merged into the main list
once it grows past `merge_at` (amortized cost per add: a few hundred pointer moves). A
removal only marks the id dead; dead ids are skipped while walking and dropped when they
become a sizeable share of the lists.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator


def _walk(ids: list[str], start: int) -> Iterator[str]:
    # By index rather than islice, which would step over the first `start` ids one by one.
    for i in range(start, len(ids)):
        yield ids[i]


class SortedIds:
    def __init__(self, merge_at: int = 4096) -> None:
        self._merge_at = merge_at
        self._main: list[str] = []
        self._recent: list[str] = []
        self._listed: set[str] = set()
        self._dead: set[str] = set()

    def __len__(self) -> int:
        return len(self._listed) - len(self._dead)

    def __contains__(self, key: object) -> bool:
        return key in self._listed and key not in self._dead

    def add(self, key: str) -> None:
        if key in self._listed:
            self._dead.discard(key)
            return
        self._listed.add(key)
        bisect.insort(self._recent, key)
        if len(self._recent) > self._merge_at:
            self._main = list(heapq.merge(self._main, self._recent))
            self._recent = []

    def discard(self, key: str) -> None:
        if key in self._listed and key not in self._dead:
            self._dead.add(key)
            if len(self._dead) > max(self._merge_at, len(self._listed) // 2):
                self._compact()

    def _compact(self) -> None:
        self._main = sorted(self._listed - self._dead)
        self._recent = []
        self._listed = set(self._main)
        self._dead = set()

    def iter_from(self, key: str, *, inclusive: bool = True) -> Iterator[str]:
        """Live ids at or after `key` (strictly after when not inclusive), ascending.

        Meant to be consumed at once, with no change to the set in between (the view is
        only touched from the event loop).
        """
        find = bisect.bisect_left if inclusive else bisect.bisect_right
        merged = heapq.merge(
            _walk(self._main, find(self._main, key)), _walk(self._recent, find(self._recent, key))
        )
        dead = self._dead
        if not dead:
            return merged
        return (k for k in merged if k not in dead)
