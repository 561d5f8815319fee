"""A visitor's web events, kept compactly and sorted by event time, and the sessions they
make (pure functions: no partition state).

One web event is a tuple ``(us, code, event_id, a, b)`` (see :data:`PAGE_VIEWED` …):

- ``page_viewed``: ``a`` = path, ``b`` = None, ``event_id`` kept (the tie-break of entry
  and exit pages at equal ``ts``);
- ``page_left``: ``a`` = engaged_ms, ``b`` = max_scroll_pct;
- ``link_shown`` / ``link_clicked``: ``a`` = link;
- ``visit_survey_answered``: ``a`` = survey, ``b`` = answer.

Other types keep ``event_id`` as ``""``: nothing depends on their order at an equal time.
Tuples sort by time, then type code, then event id, so the same set of events gives the same
list whatever the arrival order.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PAGE_VIEWED, PAGE_LEFT, LINK_SHOWN, LINK_CLICKED, SURVEY_ANSWERED = range(5)
CODES = {
    "page_viewed": PAGE_VIEWED,
    "page_left": PAGE_LEFT,
    "link_shown": LINK_SHOWN,
    "link_clicked": LINK_CLICKED,
    "visit_survey_answered": SURVEY_ANSWERED,
}

WebEvent = tuple[int, int, str, Any, Any]


@dataclass(slots=True)
class Session:
    """One session: a maximal run of a visitor's events, each at most the gap after the
    previous one. ``day`` and the labels are filled in by the group (they need the timezone
    and the partition's label folding)."""

    first_us: int
    last_us: int
    pageviews: int
    clicks: int
    engaged_ms: int
    entry: str | None  # path of the first page_viewed (None: no page view)
    exit: str | None  # path of the last page_viewed
    day: int = 0
    entry_label: str = ""
    exit_label: str = ""

    @property
    def counts(self) -> bool:
        """A session counts only if it holds at least one page_viewed."""
        return self.pageviews > 0

    def bounced(self, engaged_ms: int) -> bool:
        """Exactly one page view, no click, and less engaged time than ``engaged_ms``."""
        return self.pageviews == 1 and self.clicks == 0 and self.engaged_ms < engaged_ms


def build_sessions(events: Sequence[WebEvent], gap_us: int, start: int = 0) -> list[Session]:
    """The sessions of ``events[start:]`` (sorted by time): a new one begins wherever an
    event is more than ``gap_us`` after the previous one."""
    out: list[Session] = []
    n = len(events)
    i = start
    while i < n:
        # one session: the run of events from ``i`` each at most the gap after the last
        first = prev = events[i][0]
        pageviews = clicks = engaged = 0
        entry = exit_ = None
        while i < n:
            us, code, _eid, a, _b = events[i]
            if us - prev > gap_us:
                break
            prev = us
            if code == PAGE_VIEWED:
                pageviews += 1
                if entry is None:
                    entry = a
                exit_ = a
            elif code == PAGE_LEFT:
                engaged += a
            elif code == LINK_CLICKED:
                clicks += 1
            i += 1
        out.append(Session(first, prev, pageviews, clicks, engaged, entry, exit_))
    return out


def insert(events: list[WebEvent], event: WebEvent) -> None:
    """Add ``event`` at its place by time (appending when it is the latest, the usual case)."""
    if not events or events[-1] <= event:
        events.append(event)
    else:
        events.insert(bisect_left(events, event), event)


def first_at_or_after(events: Sequence[WebEvent], us: int) -> int:
    """Index of the first event with time >= ``us``."""
    return bisect_left(events, (us,))


def resession(
    events: Sequence[WebEvent], sessions: list[Session], since_us: int, gap_us: int
) -> tuple[list[Session], list[Session]]:
    """Rebuild ``sessions`` (in place) after events at or after ``since_us`` were added:
    only the sessions that can touch them (the last one ending within the gap before
    ``since_us``, and every later one) are rebuilt. Returns (removed, added)."""
    i = len(sessions)
    while i > 0 and sessions[i - 1].last_us >= since_us - gap_us:
        i -= 1
    start_us = since_us if i == len(sessions) else min(sessions[i].first_us, since_us)
    added = build_sessions(events, gap_us, first_at_or_after(events, start_us))
    removed = sessions[i:]
    sessions[i:] = added
    return removed, added
