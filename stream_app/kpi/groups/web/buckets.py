"""Day-bucketed, additive aggregates of one partition's web events and sessions.

Every figure the web group exports is a sum over the days of a window, so the partition
keeps, per label, a count per calendar day; a read sums at most 30 days per label (its
cost does not grow with the number of visitors). Session figures are moved between days
when a visitor's sessions change (:meth:`WebBuckets.session`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence

OTHER = "other"
#: upper bounds of the time-on-page histogram (seconds) and of the scroll histogram (%)
TIME_ON_PAGE_BUCKETS = (5, 10, 30, 60, 180, 600, 1800)
SCROLL_BUCKETS = (25, 50, 75, 90, 100)
#: the time-on-page bounds in milliseconds (engaged_ms)
TOP_MS = tuple(b * 1000 for b in TIME_ON_PAGE_BUCKETS)


def window_sum(counts: Counter[int], first: int, last: int) -> int:
    """Sum of ``counts`` over the days ``first .. last``."""
    return sum(n for day, n in counts.items() if first <= day <= last)


class Labels:
    """A bounded label: the first ``limit`` distinct values keep their name, later new ones
    fold into ``other`` (which values keep theirs depends on arrival order)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        #: the values that keep their label (each maps to its one shared instance)
        self.known: dict[str, str] = {}

    def fold(self, value: str) -> str:
        """The label of ``value`` (the shared instance of a known value: events that keep
        the value refer to it rather than each to its own copy)."""
        known = self.known
        label = known.get(value)
        if label is not None:
            return label
        if len(known) < self.limit:
            known[value] = value
            return value
        return OTHER

    def label(self, value: str) -> str:
        """The label of a value already seen by :meth:`fold` (no side effect)."""
        return value if value in self.known else OTHER


class PerLabel:
    """label -> day -> count."""

    def __init__(self) -> None:
        self.by_label: dict[str, Counter[int]] = {}

    def add(self, label: str, day: int, n: int = 1) -> None:
        counts = self.by_label.get(label)
        if counts is None:
            counts = self.by_label[label] = Counter()
        left = counts[day] + n
        if left:
            counts[day] = left
        else:
            del counts[day]

    def in_window(self, first: int, last: int) -> dict[str, int]:
        """label -> count over ``first .. last``, labels with a non-zero count only."""
        out = {}
        for label, counts in self.by_label.items():
            n = window_sum(counts, first, last)
            if n:
                out[label] = n
        return out

    def prune(self, before: int) -> None:
        for label, counts in list(self.by_label.items()):
            for day in [d for d in counts if d < before]:
                del counts[day]
            if not counts:
                del self.by_label[label]


class Histogram:
    """day -> counts per bucket (the last one: above every bound) and the sum."""

    def __init__(self, bounds: Sequence[int]) -> None:
        self.bounds = tuple(bounds)
        self.by_day: dict[int, list[int]] = {}

    def add(self, day: int, value: int) -> None:
        row = self.by_day.get(day)
        if row is None:
            row = self.by_day[day] = [0] * (len(self.bounds) + 2)
        row[bisect_left(self.bounds, value)] += 1
        row[-1] += value

    def in_window(self, first: int, last: int) -> list[int]:
        """Counts per bucket, then the sum, over ``first .. last``."""
        total = [0] * (len(self.bounds) + 2)
        for day, row in self.by_day.items():
            if first <= day <= last:
                for i, n in enumerate(row):
                    total[i] += n
        return total

    def prune(self, before: int) -> None:
        for day in [d for d in self.by_day if d < before]:
            del self.by_day[day]


def prune_counter(counts: Counter[int], before: int) -> None:
    for day in [d for d in counts if d < before]:
        del counts[day]


class WebBuckets:
    """The partition's web aggregates by calendar day."""

    def __init__(self) -> None:
        self.visitors: Counter[int] = Counter()  # visitors by the day of their last page view
        self.pageviews = PerLabel()  # path
        self.sessions: Counter[int] = Counter()
        self.session_pageviews: Counter[int] = Counter()
        self.bounced: Counter[int] = Counter()
        self.entries = PerLabel()  # path
        self.exits = PerLabel()  # path
        self.time_on_page = Histogram(TOP_MS)  # engaged_ms
        self.scroll = Histogram(SCROLL_BUCKETS)  # max_scroll_pct
        self.deep_scrolls: Counter[int] = Counter()
        self.impressions = PerLabel()  # link
        self.clicks = PerLabel()  # link
        self.answers: dict[str, PerLabel] = {}  # survey -> answer

    def session(
        self, day: int, pageviews: int, bounced: bool, entry: str, exit_: str, sign: int
    ) -> None:
        """Add (``sign`` 1) or take back (-1) a counted session's figures to its ``day``
        (entry and exit: the labels of its paths)."""
        _bump(self.sessions, day, sign)
        _bump(self.session_pageviews, day, sign * pageviews)
        if bounced:
            _bump(self.bounced, day, sign)
        self.entries.add(entry, day, sign)
        self.exits.add(exit_, day, sign)

    def answer(self, survey: str, label: str, day: int) -> None:
        per = self.answers.get(survey)
        if per is None:
            per = self.answers[survey] = PerLabel()
        per.add(label, day)

    def prune(self, before: int) -> None:
        """Forget every day before ``before`` (out of any window from now on)."""
        for counts in (
            self.visitors,
            self.sessions,
            self.session_pageviews,
            self.bounced,
            self.deep_scrolls,
        ):
            prune_counter(counts, before)
        for per in self._per_labels():
            per.prune(before)
        self.time_on_page.prune(before)
        self.scroll.prune(before)

    def _per_labels(self) -> Iterable[PerLabel]:
        yield from (self.pageviews, self.entries, self.exits, self.impressions, self.clicks)
        yield from self.answers.values()


def _bump(counts: Counter[int], day: int, n: int) -> None:
    left = counts[day] + n
    if left:
        counts[day] = left
    else:
        del counts[day]
