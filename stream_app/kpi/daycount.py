"""Counts of entries by day: the incremental aggregate behind "distinct X in the window"."""

from __future__ import annotations

from collections import Counter


def move(counts: Counter[int], old: int | None, new: int | None) -> None:
    """An entry's day changes from ``old`` to ``new`` (either may be None: added/removed)."""
    if old is not None:
        left = counts[old] - 1
        if left:
            counts[old] = left
        else:
            del counts[old]
    if new is not None:
        counts[new] += 1


def count_in_window(counts: Counter[int], as_of_day: int, days: int) -> int:
    """Entries whose day falls in the ``days``-day window ending on ``as_of_day``."""
    first = as_of_day - days + 1
    return sum(n for day, n in counts.items() if first <= day <= as_of_day)
