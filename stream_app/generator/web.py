"""The company's web site: a marketing site for anonymous (and returning) visitors, and the
in-app pages of its customers' signed-in users.

A visit is a run of page views, each followed (usually) by a ``page_left`` with the
engaged time and the deepest scroll, sometimes a marked link shown and clicked, and now
and then a visit survey answer. Some visitors come back just under or just over 30
minutes after their previous event (the session gap), some tabs stay open for hours before
their ``page_left`` (a session of its own, without a page view), and visits run past
midnight (events of the next UTC day are carried over to it).
"""

from __future__ import annotations

from math import exp
from random import Random

from stream_app.generator.accounts import Account, work_time
from stream_app.generator.clock import US_PER_HOUR, US_PER_SEC, UTC_TZ, Tz, make_tz, new_id
from stream_app.generator.sink import DaySink

#: marketing pages and their popularity (the blog has a long tail of posts)
MARKETING = (
    ("/", 30.0),
    ("/pricing", 12.0),
    ("/features", 9.0),
    ("/customers", 4.0),
    ("/signup", 5.0),
    ("/contact", 2.0),
    ("/about", 1.5),
    ("/docs", 6.0),
    ("/docs/getting-started", 3.0),
    ("/docs/api", 2.0),
    *((f"/blog/post-{i}", 6.0 / (i + 1)) for i in range(40)),
)
APP = (
    ("/app", 20.0),
    ("/app/dashboards", 14.0),
    ("/app/reports", 9.0),
    ("/app/search", 6.0),
    ("/app/alerts", 4.0),
    ("/app/settings", 3.0),
    ("/app/billing", 1.5),
    ("/app/team", 1.5),
)
MARKETING_LINKS = ("hero_start_trial", "pricing_talk_to_sales", "blog_newsletter", "webinar_banner")
APP_LINKS = ("upgrade_banner", "invite_teammates", "whats_new", "help_center")
INTENTS = (
    ("evaluate_product", 35.0),
    ("compare_pricing", 25.0),
    ("read_docs", 15.0),
    ("get_support", 10.0),
    ("careers", 5.0),
    ("just_browsing", 10.0),
)
REFERRERS = (
    "https://www.google.com/",
    "https://www.linkedin.com/",
    "https://news.ycombinator.com/",
)
#: marketing visitors per account per weekday (the web is less weekly than B2B use)
VISITORS_PER_ACCOUNT = 0.35
_WEEKEND = 0.55
_OFFSETS = (0, 60, 120, -300, -480, 330)
_POOL = 5_000  # returning anonymous visitors remembered
_GAP_S = 1800


def _cumulative(weighted: tuple[tuple[str, float], ...]) -> tuple[list[str], list[float]]:
    names, cuts, total = [], [], 0.0
    for name, weight in weighted:
        total += weight
        names.append(name)
        cuts.append(total)
    return names, cuts


class WebSite:
    """Web events, one UTC day at a time: :meth:`begin_day`, then :meth:`app_day` for each
    account that is a customer that day, then :meth:`marketing_day`."""

    def __init__(
        self,
        rng: Random,
        accounts: int,
        app_visits: float = 1.0,
        pages_per_visit: float | None = None,
    ) -> None:
        #: the marketing site's stream; ``rng`` is the stream in use (site or an account's)
        self.site_rng = self.rng = rng
        self.app_visits = app_visits
        #: chance of one more page view (app, marketing): a geometric number of pages
        keep_on = 1.0 - 1.0 / pages_per_visit if pages_per_visit else None
        self.keep_on = (0.6, 0.5) if keep_on is None else (keep_on, keep_on)
        self.visitors = max(1, round(accounts * VISITORS_PER_ACCOUNT))
        self.pool: list[str] = []
        #: events after the end of the day they were generated in: (ts_us, tz, event)
        self.carry: list[tuple[int, Tz, dict[str, object]]] = []
        self._marketing = _cumulative(MARKETING)
        self._app = _cumulative(APP)
        self._intents = _cumulative(INTENTS)
        self._tzs = [make_tz(o) for o in _OFFSETS]
        self._last = 0  # the latest event time of the visit being generated

    def _pick(self, table: tuple[list[str], list[float]]) -> str:
        names, cuts = table
        x = self.rng.random() * cuts[-1]
        for name, cut in zip(names, cuts, strict=True):
            if x < cut:
                return name
        return names[-1]

    def begin_day(self, sink: DaySink) -> None:
        """Emit the visits of earlier days that run into this one."""
        carried, self.carry = self.carry, []
        for ts, tz, event in carried:
            self._emit(sink, ts, tz, event)

    def marketing_day(self, sink: DaySink, weekend: bool) -> None:
        """The day's visits of the marketing site (anonymous and returning visitors)."""
        self.rng = self.site_rng
        rng = self.rng
        n = round(self.visitors * (_WEEKEND if weekend else 1.0) * (0.8 + 0.4 * rng.random()))
        for _ in range(n):
            self._marketing_visit(sink)

    def app_day(self, acct: Account, rng: Random, sink: DaySink, weekend: bool) -> None:
        """The day's in-app page views of ``acct``'s signed-in users (a customer that day);
        ``rng`` is the account's own web stream, so other accounts do not shift it."""
        self.rng = rng
        for j in acct.members:
            user = acct.users[j]
            chance = user.propensity * (0.03 if weekend else 0.1) * self.app_visits
            if rng.random() >= chance:
                continue
            start = work_time(rng, sink.day_start, acct.local_off_us)
            if start < user.joined_us + 3600 * US_PER_SEC:
                continue
            visitor = "vis_" + user.user_id.removeprefix("usr_")
            ids = {"account_id": acct.account_id, "user_id": user.user_id}
            end = self._visit(sink, visitor, start, acct.sdk_tz, app=True, ids=ids)
            self._maybe_return(sink, visitor, end, acct.sdk_tz, app=True, ids=ids)

    def _marketing_visit(self, sink: DaySink) -> None:
        rng = self.rng
        if self.pool and rng.random() < 0.3:
            visitor = self.pool[int(rng.random() * len(self.pool))]
        else:
            visitor = "anon_" + new_id(rng)[:20]
            if len(self.pool) < _POOL:
                self.pool.append(visitor)
            else:
                self.pool[int(rng.random() * _POOL)] = visitor
        offset = self._tzs[int(rng.random() * len(self._tzs))]
        start = work_time(rng, sink.day_start, -offset[0] * 1_000)
        referrer = REFERRERS[int(rng.random() * len(REFERRERS))] if rng.random() < 0.6 else None
        end = self._visit(sink, visitor, start, UTC_TZ, app=False, referrer=referrer)
        self._maybe_return(sink, visitor, end, UTC_TZ, app=False)

    def _maybe_return(
        self,
        sink: DaySink,
        visitor: str,
        end: int,
        tz: Tz,
        *,
        app: bool,
        ids: dict[str, str] | None = None,
    ) -> None:
        """Some visitors come back: just under or just over the 30-minute gap, or hours later."""
        rng = self.rng
        x = rng.random()
        if x < 0.06:  # within a minute of the gap, on either side (1780 .. 1820 s)
            back = end + (_GAP_S - 20 + int(rng.random() * 41)) * US_PER_SEC
        elif x < 0.2:
            back = end + int((1.0 + rng.random() * 6.0) * US_PER_HOUR)
        else:
            return
        self._visit(sink, visitor, back, tz, app=app, ids=ids)

    def _visit(
        self,
        sink: DaySink,
        visitor: str,
        t: int,
        tz: Tz,
        *,
        app: bool,
        ids: dict[str, str] | None = None,
        referrer: str | None = None,
    ) -> int:
        """Emit one visit starting at ``t``; returns the time of its last event."""
        rng = self.rng
        rand = rng.random
        pages = 1
        keep_on = self.keep_on[0] if app else self.keep_on[1]
        while pages < 12 and rand() < keep_on:
            pages += 1
        table = self._app if app else self._marketing
        links = APP_LINKS if app else MARKETING_LINKS
        self._last = t
        for k in range(pages):
            path = self._pick(table)
            view: dict[str, object] = {"type": "page_viewed", "path": path}
            if k == 0 and referrer is not None:
                view["referrer"] = referrer
            if ids:
                view.update(ids)
            self._add(sink, t, tz, visitor, view)
            clicked = False
            if rand() < (0.25 if app else 0.4):
                link = links[int(rand() * len(links))]
                self._add(sink, t + 300_000, tz, visitor, {"type": "link_shown", "link": link})
                if rand() < 0.07:
                    clicked = True
                    at = t + int((1.0 + rand() * 20.0) * US_PER_SEC)
                    self._add(sink, at, tz, visitor, {"type": "link_clicked", "link": link})
            # engaged time: log-normal, median ~25 s; a one-page visit is often a glance
            # (median ~8 s: about half of them stay under 10 s)
            mu = 8.99 if pages == 1 else 10.1
            engaged = min(3_600_000, int(exp(rng.gauss(mu, 1.3))))
            dwell = engaged * 1_000 + int((2.0 + rand() * 40.0) * US_PER_SEC)
            scroll = min(100, int(15 + engaged / 800 + rand() * 40))
            leave = t + dwell
            if rand() < 0.02:  # tab left open for hours, then closed
                leave += int((2.0 + rand() * 8.0) * US_PER_HOUR)
            if rand() >= 0.04:  # a few page_left events never arrive (browser crash)
                fields = {"type": "page_left", "path": path, "engaged_ms": engaged}
                fields["max_scroll_pct"] = scroll
                self._add(sink, leave, tz, visitor, fields)
            if clicked or k + 1 < pages:
                t += dwell + int((1.0 + rand() * 5.0) * US_PER_SEC)
        if rand() < 0.04:
            if app:
                answer = "yes" if rand() < 0.78 else "no"
                fields2: dict[str, object] = {"survey": "task_completion", "answer": answer}
            else:
                fields2 = {"survey": "intent", "answer": self._pick(self._intents)}
            answered = {"type": "visit_survey_answered", **fields2}
            self._add(sink, t + 2 * US_PER_SEC, tz, visitor, answered)
        return self._last

    def _add(self, sink: DaySink, ts: int, tz: Tz, visitor: str, fields: dict[str, object]) -> None:
        event: dict[str, object] = {
            "event_id": new_id(self.rng),
            "type": fields.pop("type"),
            "ts": "",
            "visitor_id": visitor,
        }
        event.update(fields)
        if ts > self._last:
            self._last = ts
        self._emit(sink, ts, tz, event)

    def _emit(self, sink: DaySink, ts: int, tz: Tz, event: dict[str, object]) -> None:
        if ts >= sink.day_end:
            self.carry.append((ts, tz, event))
        else:
            sink.add(ts, event, tz)
