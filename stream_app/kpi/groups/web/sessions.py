"""A visitor's sessions, kept as mergeable summaries (pure functions: no partition state).

A session is a maximal run of a visitor's events, each at most the gap after the previous
one. Adding an event never splits a session: the event joins every session whose
``[first - gap, last + gap]`` holds its time (at most two, adjacent: then it bridges them),
or starts a session of its own. So a session's figures are sums, minima and maxima over
its events, and a summary of them (:class:`Session`) merges exactly, whatever the arrival
order: :func:`add_event` gives the sessions a full build from the sorted events would give
(:func:`build_sessions`, kept for the stored form of earlier versions and as the
reference of the tests).

Events in the sorted form are tuples ``(us, code, event_id, a, b)`` (see
:data:`PAGE_VIEWED` …): ``page_viewed``: ``a`` = path, ``event_id`` kept (the tie-break of
entry and exit pages at equal ``ts``); ``page_left``: ``a`` = engaged_ms, ``b`` =
max_scroll_pct; ``link_shown`` / ``link_clicked``: ``a`` = link; ``visit_survey_answered``:
``a`` = survey, ``b`` = answer. Tuples sort by time, then type code, then event id, so the
entry of a session is its page view with the smallest ``(us, event_id, path)`` and the exit
the one with the largest: a summary keeps those keys, nothing else of its events.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
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


class Session:
    """The summary of one session: first and last event time, page views, clicks, engaged
    time, and the entry and exit page views (path, time, event id: the tie-break).

    ``published``: its figures are in the partition's day counts (the group then never
    changes it in place: a change replaces it by a copy, and the group takes the old one's
    figures back)."""

    __slots__ = (
        "clicks",
        "engaged_ms",
        "entry",
        "entry_eid",
        "entry_us",
        "exit",
        "exit_eid",
        "exit_us",
        "first_us",
        "last_us",
        "pageviews",
        "published",
    )

    def __init__(
        self,
        first_us: int,
        last_us: int,
        pageviews: int = 0,
        clicks: int = 0,
        engaged_ms: int = 0,
        entry: str | None = None,  # path of the first page_viewed (None: no page view)
        entry_us: int = 0,
        entry_eid: str = "",
        exit_: str | None = None,  # path of the last page_viewed
        exit_us: int = 0,
        exit_eid: str = "",
        published: bool = False,
    ) -> None:
        self.first_us = first_us
        self.last_us = last_us
        self.pageviews = pageviews
        self.clicks = clicks
        self.engaged_ms = engaged_ms
        self.entry = entry
        self.entry_us = entry_us
        self.entry_eid = entry_eid
        self.exit = exit_
        self.exit_us = exit_us
        self.exit_eid = exit_eid
        self.published = published

    def key(self) -> tuple[Any, ...]:
        """Every figure (not ``published``): equal keys, equal sessions."""
        return (
            self.first_us,
            self.last_us,
            self.pageviews,
            self.clicks,
            self.engaged_ms,
            self.entry,
            self.entry_us if self.entry is not None else 0,
            self.entry_eid if self.entry is not None else "",
            self.exit,
            self.exit_us if self.exit is not None else 0,
            self.exit_eid if self.exit is not None else "",
        )

    def __repr__(self) -> str:
        return f"Session{self.key()!r}"

    def copy(self) -> Session:
        """An unpublished copy (to change a published session)."""
        return Session(
            self.first_us,
            self.last_us,
            self.pageviews,
            self.clicks,
            self.engaged_ms,
            self.entry,
            self.entry_us,
            self.entry_eid,
            self.exit,
            self.exit_us,
            self.exit_eid,
        )

    @property
    def counts(self) -> bool:
        """A session counts only if it holds at least one page_viewed."""
        return self.pageviews > 0

    def bounced(self, engaged_ms: int) -> bool:
        """Exactly one page view, no click, and less engaged time than ``engaged_ms``."""
        return self.pageviews == 1 and self.clicks == 0 and self.engaged_ms < engaged_ms

    # -- changes (only of an unpublished session) ------------------------------------
    def add(self, us: int, code: int, eid: str, a: Any) -> None:
        """Count one event of this session (its time within the gap of the session)."""
        if us < self.first_us:
            self.first_us = us
        elif us > self.last_us:
            self.last_us = us
        if code == PAGE_VIEWED:
            self.pageviews += 1
            entry = self.entry
            if entry is None:
                self.entry = self.exit = a
                self.entry_us = self.exit_us = us
                self.entry_eid = self.exit_eid = eid
                return
            e_us = self.entry_us
            if us < e_us or (us == e_us and (eid, a) < (self.entry_eid, entry)):
                self.entry, self.entry_us, self.entry_eid = a, us, eid
            x_us = self.exit_us
            if us > x_us or (us == x_us and (eid, a) > (self.exit_eid, self.exit)):
                self.exit, self.exit_us, self.exit_eid = a, us, eid
        elif code == PAGE_LEFT:
            self.engaged_ms += a
        elif code == LINK_CLICKED:
            self.clicks += 1

    def absorb(self, later: Session) -> None:
        """Merge ``later`` (a session after this one) into this one."""
        if later.last_us > self.last_us:
            self.last_us = later.last_us
        if later.first_us < self.first_us:
            self.first_us = later.first_us
        self.pageviews += later.pageviews
        self.clicks += later.clicks
        self.engaged_ms += later.engaged_ms
        if later.entry is None:
            return
        if self.entry is None or (later.entry_us, later.entry_eid, later.entry) < (
            self.entry_us,
            self.entry_eid,
            self.entry,
        ):
            self.entry, self.entry_us, self.entry_eid = (
                later.entry,
                later.entry_us,
                later.entry_eid,
            )
        if self.exit is None or (later.exit_us, later.exit_eid, later.exit) > (
            self.exit_us,
            self.exit_eid,
            self.exit,
        ):
            self.exit, self.exit_us, self.exit_eid = later.exit, later.exit_us, later.exit_eid


def add_event(
    sessions: list[Session], us: int, code: int, eid: str, a: Any, gap_us: int
) -> list[Session]:
    """Add one event to ``sessions`` (sorted by time, in place): it joins the sessions
    within the gap of its time (bridging two when it is within the gap of both) or starts
    one. Published sessions are replaced by changed copies, never changed in place; returns
    the published sessions taken out (their figures must leave the day counts)."""
    i = len(sessions)
    while i > 0 and sessions[i - 1].last_us + gap_us >= us:
        i -= 1
    # sessions[i:] end within the gap before ``us`` or later; the first one or two of
    # them may hold it
    n = len(sessions)
    if i == n or sessions[i].first_us - gap_us > us:
        session = Session(us, us)
        session.add(us, code, eid, a)
        sessions.insert(i, session)
        return []
    removed: list[Session] = []
    session = sessions[i]
    if session.published:
        removed.append(session)
        session = sessions[i] = session.copy()
    session.add(us, code, eid, a)
    if i + 1 < n and sessions[i + 1].first_us - gap_us <= us:  # a bridge: merge the next
        later = sessions.pop(i + 1)
        if later.published:
            removed.append(later)
        session.absorb(later)
    return removed


def build_sessions(events: Sequence[WebEvent], gap_us: int, start: int = 0) -> list[Session]:
    """The sessions of ``events[start:]`` (sorted by time): a new one begins wherever an
    event is more than ``gap_us`` after the previous one."""
    out: list[Session] = []
    n = len(events)
    i = start
    while i < n:
        # one session: the run of events from ``i`` each at most the gap after the last
        first = prev = events[i][0]
        session = Session(first, first)
        while i < n:
            us, code, eid, a, _b = events[i]
            if us - prev > gap_us:
                break
            prev = us
            session.add(us, code, eid, a)
            i += 1
        out.append(session)
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
    ``since_us``, and every later one) are rebuilt. Returns (removed, added).

    (The events-based way of earlier versions, kept as a reference of the tests.)"""
    i = len(sessions)
    while i > 0 and sessions[i - 1].last_us >= since_us - gap_us:
        i -= 1
    start_us = since_us if i == len(sessions) else min(sessions[i].first_us, since_us)
    added = build_sessions(events, gap_us, first_at_or_after(events, start_us))
    removed = sessions[i:]
    sessions[i:] = added
    return removed, added
