"""The web group: visitors, page views, sessions, bounce, pages per session, entry and exit
pages, time on page, scroll depth, click-through and visit surveys (docs/kpis.md#group-web).

State per visitor (:class:`WebState`), over the last ``30 + ceil(gap)`` days: its sessions
as mergeable summaries (:mod:`stream_app.kpi.groups.web.sessions`: an event joins the
sessions within the gap of its time, bridging two when it is within the gap of both, so
any arrival order of the same events gives the same sessions), and the facts of its
events (day, type and fields, no time or event id) from which a recovered worker puts the
per-event day counts back. A visitor not changed since the last settle is kept packed (its
stored form, :func:`stream_app.kpi.groups.web.state.pack`).

Partition aggregates (:class:`WebBuckets`): counts by calendar day. Per-event figures
(page views, time on page, scroll, links, answers) are added when an event is applied;
session figures when a visitor's sessions change, in :meth:`WebGroup.settle` (once per
batch, or earlier for the visitor changed least recently once :data:`HOT_VISITORS` are
changed): a new or changed session is *published* (its figures added to its day), a
published one is never changed in place but replaced, and the figures of the one
replaced are taken back. A read sums day counts and never visits a visitor.

Bounded: facts older than the visitor's latest day minus ``30 + ceil(gap)`` days are
dropped, with the sessions that end before them (a session that goes on into the kept
days stays whole), and a visitor whose latest event is that much older than the
partition's latest web event is forgotten (its key leaves the core). Neither can change a
30-day window read as of a time on or after those latest days: whatever is dropped is
more than the gap before the window starts, and a session kept whole has its day there.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from stream_app.contract import Event
from stream_app.kpi.daycount import count_in_window, move
from stream_app.kpi.families import Family
from stream_app.kpi.group import KpiGroup, ReadContext
from stream_app.kpi.groups.web.buckets import (
    OTHER,
    SCROLL_BUCKETS,
    TIME_ON_PAGE_BUCKETS,
    TOP_MS,
    Labels,
    WebBuckets,
    window_sum,
)
from stream_app.kpi.groups.web.sessions import (
    CODES,
    LINK_CLICKED,
    LINK_SHOWN,
    PAGE_LEFT,
    PAGE_VIEWED,
    SURVEY_ANSWERED,
    Session,
    add_event,
)
from stream_app.kpi.groups.web.state import (
    WebState,
    add_fact,
    drop_facts_before,
    dump,
    iter_facts,
    load,
    pack,
    packed_state,
    sessions_of,
    unpack,
)
from stream_app.kpi.settings import KpiSettings
from stream_app.kpi.shared import shared_int
from stream_app.timeutil import day_of, from_us

WINDOWS = (1, 7, 30)
LONGEST = 30
SURVEY_ANSWERS_FIXED = {"task_completion": ("no", "yes")}
#: visitors kept unpacked between two settles at most: past it, the one changed least
#: recently is settled and packed at once (memory stays bounded whatever the batch size or
#: the time between two commits in a backlog; replay settles only at its end). An unpacked
#: visitor is transient memory, and the state allocated meanwhile is scattered among it:
#: 16384 kept 102-112 MB resident per 100k visitors, 4096 88, 2048 79, at the same
#: throughput down to 4096 (1024 took ~15 % more CPU: visitors packed, then unpacked again)
HOT_VISITORS = 4096
_QUARTER_US = 900_000_000  # every UTC offset in use is a multiple of 15 minutes


class WebGroup(KpiGroup[WebState]):
    """Web engagement KPIs over one partition's visitors."""

    name = "web"
    types = frozenset(CODES)
    key_field = "visitor_id"
    reads_states = False  # reads sum day counts: they never visit a visitor
    freezes = True  # a settled visitor is packed: its key is kept as one bytes object

    def __init__(self, settings: KpiSettings) -> None:
        super().__init__(settings)
        self.tz = settings.tz
        self.gap_us = settings.web_session_gap_s * 1_000_000
        self.engaged_ms = settings.web_engaged_ms
        self.deep_pct = settings.web_deep_scroll_pct
        #: days kept behind a visitor's latest day (the longest window plus the gap)
        self.keep_days = LONGEST + -(-settings.web_session_gap_s // 86_400)
        self.paths = Labels(settings.web_path_limit)
        self.links = Labels(settings.web_link_limit)
        self.intents = Labels(settings.web_answer_limit)
        self.buckets = WebBuckets()
        #: visitors whose sessions changed since the last settle (their unpublished
        #: sessions go into the day counts there), and the published sessions replaced or
        #: dropped since (their figures leave the day counts there)
        self.changed: dict[str, WebState] = {}
        #: visitors kept unpacked between two settles (:data:`HOT_VISITORS`, or the core's
        #: bound of thawed visitors when higher: :meth:`keep_thawed`)
        self.hot_visitors = HOT_VISITORS
        self.removed: list[Session] = []
        self._names: dict[str, str] = {}
        #: thawed visitors by their latest day (to forget idle ones without scanning them
        #: all; the core's store of frozen visitors finds the frozen ones by the same day:
        #: :meth:`idle_day`); dicts used as sets: a large set grows 4-fold, taking twice a
        #: dict's bytes
        self.by_latest: dict[int, dict[str, None]] = {}
        self.max_day: int | None = None
        self._pruned_before: int | None = None
        self._forgotten: list[str] = []
        self._days: dict[int, int] = {}

    # -- helpers ------------------------------------------------------------------
    def day_of_us(self, us: int) -> int:
        """Calendar day of epoch µs in the configured timezone (cached per 15 minutes)."""
        quarter = us // _QUARTER_US
        day = self._days.get(quarter)
        if day is None:
            if len(self._days) > 100_000:
                self._days.clear()
            day = self._days[quarter] = day_of(from_us(quarter * _QUARTER_US), self.tz)
        return day

    def new(self) -> WebState:
        return WebState()

    def keep_thawed(self, keys: int) -> None:
        # a visitor the core keeps thawed is not packed earlier by the group: a replay
        # keeping more visitors thawed packs and unpacks them as seldom
        self.hot_visitors = max(HOT_VISITORS, keys)

    # -- updates ------------------------------------------------------------------
    def apply(self, key: str, state: WebState, event: Event, day: int) -> None:
        if state.packed is not None:
            unpack(state)
        code = CODES[event.type]
        us = event.us
        eid = ""
        b: Any = None
        if code == PAGE_VIEWED:
            path = event.path
            label = self.paths.known.get(path)  # the shared copy of a known path
            if label is None:
                label = self.paths.fold(path)
                if label is not OTHER:
                    path = label
            else:
                path = label
            a: Any = path
            eid = event.event_id
            _count(self.buckets.pageviews.by_label, label, day)
            pv_day = state.pv_day
            if pv_day is None or day > pv_day:
                move(self.buckets.visitors, pv_day, day)
                state.pv_day = shared_int(day)
        elif code == PAGE_LEFT:
            a, b = event.engaged_ms, event.max_scroll_pct
            self._leave(day, a, b)
        elif code in (LINK_SHOWN, LINK_CLICKED):
            label = self._link(code, event.link, day)
            a = event.link if label is OTHER else label
        else:
            a = self._name(event.survey)
            label = self._answer(a, event.answer, day)
            b = event.answer if label is OTHER else label
        latest = state.latest_day
        if latest is None or day > latest:
            self._set_latest(key, state, shared_int(day))
        elif day < latest - self.keep_days:
            self._changed(key, state)  # unpacked: packed again by the next settle
            return  # counted on its day; too old to matter to any session of a window
        add_fact(state.facts, day * 8 + code, a, b)
        sessions = state.sessions
        last = sessions[-1] if sessions else None
        if last is not None and last.last_us <= us <= last.last_us + self.gap_us:
            # the usual case: the visitor's latest event, within the gap of its last session
            if last.published:
                self.removed.append(last)
                last = sessions[-1] = last.copy()
            last.add(us, code, eid, a)
        else:
            removed = add_event(sessions, us, code, eid, a, self.gap_us)
            if removed:
                self.removed.extend(removed)
        changed = self.changed
        if key not in changed:
            self._changed(key, state)
        else:  # now the most recently changed (the last to be packed early)
            del changed[key]
            changed[key] = state

    def _changed(self, key: str, state: WebState) -> None:
        changed = self.changed
        changed[key] = state
        if len(changed) > self.hot_visitors:  # settle the visitor changed least recently
            first = next(iter(changed))
            self._publish(changed.pop(first))

    def _leave(self, day: int, engaged_ms: int, scroll: int) -> None:
        b = self.buckets
        row = b.time_on_page.by_day.get(day)
        if row is None:
            row = b.time_on_page.by_day[day] = [0] * (len(TOP_MS) + 2)
        row[bisect_left(TOP_MS, engaged_ms)] += 1
        row[-1] += engaged_ms
        row = b.scroll.by_day.get(day)
        if row is None:
            row = b.scroll.by_day[day] = [0] * (len(SCROLL_BUCKETS) + 2)
        row[bisect_left(SCROLL_BUCKETS, scroll)] += 1
        row[-1] += scroll
        if scroll >= self.deep_pct:
            b.deep_scrolls[day] += 1

    def _link(self, code: int, link: str, day: int) -> str:
        per = self.buckets.clicks if code == LINK_CLICKED else self.buckets.impressions
        label = self.links.known.get(link)
        if label is None:
            label = self.links.fold(link)
        _count(per.by_label, label, day)
        return label

    def _name(self, value: str) -> str:
        """The shared instance of a survey name or a fixed answer (bounded by the contract)."""
        return self._names.setdefault(value, value)

    def _answer(self, survey: str, answer: str, day: int) -> str:
        fixed = survey in SURVEY_ANSWERS_FIXED
        label = self._name(answer) if fixed else self.intents.fold(answer)
        self.buckets.answer(survey, label, day)
        return label

    def _unindex(self, key: str, day: int | None) -> None:
        """Take ``key`` out of :attr:`by_latest` (``day``: its latest day)."""
        if day is not None:
            peers = self.by_latest.get(day)
            if peers is not None:
                peers.pop(key, None)
                if not peers:
                    del self.by_latest[day]

    def _index(self, key: str, day: Any) -> None:
        peers = self.by_latest.get(day)
        if peers is None:
            peers = self.by_latest[day] = {}
        peers[key] = None

    def _set_latest(self, key: str, state: WebState, day: Any) -> None:
        # ``day``: the shared int object of the day (typed Any: kept, not boxed anew)
        self._unindex(key, state.latest_day)
        state.latest_day = day
        self._index(key, day)
        if self.max_day is None or day > self.max_day:
            self.max_day = day
        # forget what is more than ``keep_days`` before: the facts of those days, and the
        # sessions that end before them (a session that reaches into the kept days stays
        # whole: its day is earlier than any window that can still be read)
        cutoff = day - self.keep_days
        sessions = state.sessions
        if sessions and self.day_of_us(sessions[0].last_us) < cutoff:
            k = 1
            while k < len(sessions) and self.day_of_us(sessions[k].last_us) < cutoff:
                k += 1
            self.removed.extend(s for s in sessions[:k] if s.published)
            del sessions[:k]
        if state.facts:
            drop_facts_before(state.facts, cutoff)

    def settle(self) -> None:
        removed, self.removed = self.removed, []
        for session in removed:
            self._count_session(session, -1)
        changed, self.changed = self.changed, {}
        for state in changed.values():
            self._publish(state)
        self._forget_idle()

    def _publish(self, state: WebState) -> None:
        """Put a changed visitor's new sessions into the day counts, and pack it."""
        for session in state.sessions:
            if not session.published:
                self._count_session(session, 1)
                session.published = True
        pack(state)

    def _count_session(self, session: Session, sign: int) -> None:
        """Add (1) or take back (-1) a session's figures to the day of its first event."""
        if session.pageviews:
            label = self.paths.label
            self.buckets.session(
                self.day_of_us(session.first_us),
                session.pageviews,
                session.bounced(self.engaged_ms),
                label(session.entry),  # type: ignore[arg-type]
                label(session.exit),  # type: ignore[arg-type]
                sign,
            )

    def idle_day(self, state: WebState) -> int | None:
        return state.latest_day

    def idle_before(self) -> int | None:
        return None if self.max_day is None else self.max_day - self.keep_days

    def _forget_idle(self) -> None:
        if self.max_day is None:
            return
        before = self.max_day - self.keep_days
        for day in [d for d in self.by_latest if d < before]:
            self._forgotten.extend(self.by_latest.pop(day))
        if self._pruned_before is None or before > self._pruned_before:
            self._pruned_before = before
            self.buckets.prune(before - 1)

    def take_forgotten(self) -> list[str]:
        forgotten, self._forgotten = self._forgotten, []
        return forgotten

    def forget(self, key: str, state: WebState) -> None:
        """Take a forgotten visitor's sessions and last page view out of the aggregates."""
        self.changed.pop(key, None)
        self._unindex(key, state.latest_day)  # a frozen one, thawed to be forgotten
        for session in sessions_of(state):
            if session.published:
                self._count_session(session, -1)
        move(self.buckets.visitors, state.pv_day, None)

    def attach(self, key: str, state: WebState) -> None:
        unpack(state)
        latest: int | None = None
        for _i, day, code, a, b in iter_facts(state.facts):
            if code == PAGE_VIEWED:
                self.buckets.pageviews.add(self.paths.fold(a), day)
                if state.pv_day is None or day > state.pv_day:
                    state.pv_day = shared_int(day)
            elif code == PAGE_LEFT:
                self._leave(day, a, b)
            elif code in (LINK_SHOWN, LINK_CLICKED):
                self._link(code, a, day)
            elif code == SURVEY_ANSWERED:
                self._answer(self._name(a), b, day)
            if latest is None or day > latest:
                latest = day
        move(self.buckets.visitors, None, state.pv_day)
        if state.sessions:
            last = self.day_of_us(state.sessions[-1].last_us)
            latest = last if latest is None else max(latest, last)
        if latest is not None:
            self._set_latest(key, state, shared_int(latest))
        for session in state.sessions:
            self._count_session(session, 1)
            session.published = True
        pack(state)

    def freeze(self, key: str, state: WebState) -> Any:
        """A visitor's packed form and its latest and page-view days (a changed visitor is
        settled first, as past :data:`HOT_VISITORS`); it leaves :attr:`by_latest`."""
        if state.packed is None:
            if self.changed.get(key) is state:
                del self.changed[key]
            self._publish(state)
        self._unindex(key, state.latest_day)
        return [state.packed, state.latest_day, state.pv_day]

    def thaw(self, key: str, raw: Any, stored: bool) -> WebState:
        state = packed_state(raw[0], raw[1], raw[2])
        latest = state.latest_day
        if stored and latest is not None:
            self._index(key, latest)
        return state

    # -- reads --------------------------------------------------------------------
    def families(self, ctx: ReadContext, states: Mapping[str, WebState]) -> list[Family]:
        b = self.buckets
        today = ctx.as_of_day
        first30 = ctx.first_day(LONGEST)
        visitors = Family(
            "cs_web_visitors",
            "gauge",
            "Distinct visitors with a page_viewed in the window.",
        )
        sessions = Family("cs_web_sessions", "gauge", "Sessions whose day is in the window.")
        session_pv = Family(
            "cs_web_session_pageviews",
            "gauge",
            "page_viewed events of the sessions whose day is in the window.",
        )
        bounced = Family(
            "cs_web_bounced_sessions",
            "gauge",
            "Bounced sessions (one page view, no click, engaged < CS_WEB_ENGAGED_MS) of the "
            "window.",
        )
        pageviews = Family("cs_web_pageviews", "gauge", "page_viewed events in the window.")
        for days in WINDOWS:
            window = f"{days}d"
            first = ctx.first_day(days)
            visitors.add(count_in_window(b.visitors, today, days), window=window)
            sessions.add(window_sum(b.sessions, first, today), window=window)
            session_pv.add(window_sum(b.session_pageviews, first, today), window=window)
            bounced.add(window_sum(b.bounced, first, today), window=window)
        by_path = {days: b.pageviews.in_window(ctx.first_day(days), today) for days in WINDOWS}
        for path in sorted(by_path[LONGEST]):
            for days in WINDOWS:
                pageviews.add(by_path[days].get(path, 0), path=path, window=f"{days}d")
        entries = _per_label(
            "cs_web_entries",
            "Sessions of the window by entry path.",
            "path",
            b.entries.in_window(first30, today),
        )
        exits = _per_label(
            "cs_web_exits",
            "Sessions of the window by exit path.",
            "path",
            b.exits.in_window(first30, today),
        )
        impressions = _per_label(
            "cs_web_link_impressions",
            "link_shown events in the window.",
            "link",
            b.impressions.in_window(first30, today),
        )
        clicks = _per_label(
            "cs_web_link_clicks",
            "link_clicked events in the window.",
            "link",
            b.clicks.in_window(first30, today),
        )
        answers = Family(
            "cs_visit_survey_answers", "gauge", "visit_survey_answered events in the window."
        )
        for survey in sorted({*SURVEY_ANSWERS_FIXED, *b.answers}):
            per = b.answers.get(survey)
            counts = per.in_window(first30, today) if per is not None else {}
            for answer in sorted({*SURVEY_ANSWERS_FIXED.get(survey, ()), *counts}):
                answers.add(counts.get(answer, 0), survey=survey, answer=answer, window="30d")
        top = Family(
            "cs_web_time_on_page_seconds",
            "gaugehistogram",
            "Engaged seconds of the page_left events of the 30d window.",
        )
        _histogram(top, TIME_ON_PAGE_BUCKETS, b.time_on_page.in_window(first30, today), 1000)
        scroll = Family(
            "cs_web_scroll_depth_percent",
            "gaugehistogram",
            "max_scroll_pct of the page_left events of the 30d window.",
        )
        _histogram(scroll, SCROLL_BUCKETS, b.scroll.in_window(first30, today), 1)
        deep = Family(
            "cs_web_deep_scrolls",
            "gauge",
            "page_left events of the window with max_scroll_pct >= CS_WEB_DEEP_SCROLL_PCT.",
        )
        deep.add(window_sum(b.deep_scrolls, first30, today), window="30d")
        return [
            visitors, pageviews, sessions, session_pv, bounced, entries, exits,
            top, scroll, deep, impressions, clicks, answers,
        ]  # fmt: skip

    def describe(self, state: WebState, ctx: ReadContext) -> dict[str, Any]:
        today = ctx.as_of_day
        first = ctx.first_day(LONGEST)
        out = []
        sessions = sessions_of(state)
        for s in sessions:
            if s.counts and first <= self.day_of_us(s.first_us) <= today:
                out.append(
                    {
                        "start": from_us(s.first_us).isoformat(),
                        "end": from_us(s.last_us).isoformat(),
                        "entry": s.entry,
                        "exit": s.exit,
                        "pageviews": s.pageviews,
                        "engaged_seconds": s.engaged_ms / 1000,
                        "clicks": s.clicks,
                        "bounced": s.bounced(self.engaged_ms),
                    }
                )
        last = sessions[-1].last_us if sessions else None
        return {
            "last_seen": from_us(last).isoformat() if last is not None else None,
            "sessions_30d": len(out),
            "sessions": out,
        }

    def dump(self, state: WebState) -> Any:
        return dump(state)

    def load(self, raw: Any) -> WebState:
        return load(raw, self.gap_us, self.day_of_us)


def _count(by_label: dict[str, Counter[int]], label: str, day: int) -> None:
    """One more of ``label`` on ``day`` (:meth:`PerLabel.add` of 1, inlined)."""
    counts = by_label.get(label)
    if counts is None:
        counts = by_label[label] = Counter()
    counts[day] = counts.get(day, 0) + 1


def _per_label(name: str, doc: str, label: str, counts: Mapping[str, int]) -> Family:
    fam = Family(name, "gauge", doc)
    for value in sorted(counts):
        fam.add(counts[value], window="30d", **{label: value})
    return fam


def _histogram(fam: Family, bounds: tuple[int, ...], row: list[int], scale: int) -> None:
    """Cumulative ``_bucket`` samples of a row of per-bucket counts (then the sum, in units
    of ``1/scale``), plus ``_gcount`` and ``_gsum``."""
    running = 0
    for bound, n in zip([*bounds, None], row[:-1], strict=True):
        running += n
        fam.add(running, "_bucket", le="+Inf" if bound is None else repr(float(bound)))
    fam.add(running, "_gcount")
    fam.add(Fraction(row[-1], scale) if scale != 1 else row[-1], "_gsum")
