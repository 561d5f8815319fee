"""The simulated company: all accounts, advanced one UTC day at a time."""

from __future__ import annotations

from operator import itemgetter
from random import Random

from stream_app.generator.accounts import (
    ACTIVE,
    PAST_DUE,
    PAYING,
    Account,
    make_account,
)
from stream_app.generator.activity import activity_day
from stream_app.generator.backoffice import Backoffice
from stream_app.generator.billing import billing_day
from stream_app.generator.clock import US_PER_DAY, US_PER_HOUR, derived_rng
from stream_app.generator.commerce import Commerce
from stream_app.generator.config import GeneratorConfig
from stream_app.generator.sink import DaySink, Item
from stream_app.generator.support import pending_day, support_day
from stream_app.generator.web import WebSite
from stream_app.timeutil import to_us

_BY_TIME = itemgetter(0)  # the sort is stable: ties stay in generation order
_WEEKEND_FACTOR = 0.22  # B2B: little use on Saturdays and Sundays


class Company:
    """Accounts and their users; :meth:`simulate_day` yields one UTC day of events.

    The simulation starts on the UTC day containing the window start ``end - days`` and
    can run on past ``end`` indefinitely (that is how :class:`LiveSimulation` continues it).
    Each account has four random streams: lifecycle (billing), support desk (tickets,
    surveys, scheduled events), self-serve commerce (:mod:`.commerce`) and product
    activity; the company's own spend, social and employee events have one more
    (:mod:`.backoffice`), and so has the web site (:class:`WebSite`: the marketing site,
    and one stream per account for its users' in-app pages). Activity and web visits change
    no state, so a day
    simulated with ``activity=False`` leaves the company exactly as a full day would; the
    activity streams are salted with ``activity_stream`` so that a continuation ("live")
    never replays the ids of the history's activity.
    """

    def __init__(self, cfg: GeneratorConfig, activity_stream: str = "history") -> None:
        cfg = cfg.resolved()
        self.cfg = cfg
        start, end = cfg.window()
        self.start_us, self.end_us = to_us(start), to_us(end)
        self.next_day = self.start_us // US_PER_DAY
        self.accounts: list[Account] = []
        seen: set[str] = set()
        for idx in range(cfg.accounts):
            acct = make_account(cfg, idx, self.start_us, self.end_us)
            if acct.account_id in seen:  # 40 random bits: practically never
                acct.account_id = f"{acct.account_id}{idx:x}"
            seen.add(acct.account_id)
            self.accounts.append(acct)
        self._spike_us: int | None = None
        if cfg.churn_spike_at is not None:
            self._spike_us = to_us(cfg.churn_spike_at)
        self._spike_len = max(1, int(cfg.churn_spike_hours * US_PER_HOUR))
        self._activity_stream = activity_stream
        self._activity_rngs: dict[int, Random] = {}
        self._web = WebSite(
            derived_rng(cfg.seed, "web", activity_stream),
            cfg.accounts,
            cfg.web_app_visits,
            cfg.web_pages_per_visit,
        )
        self._web_rngs: dict[int, Random] = {}
        self._commerce = Commerce(cfg)
        self._backoffice = Backoffice(cfg)

    def simulate_day(self, activity: bool = True) -> list[Item]:
        """Advance one UTC day; its events sorted by time (ts not yet formatted)."""
        day = self.next_day
        self.next_day += 1
        day_start = day * US_PER_DAY
        sink = DaySink(day_start, day_start + US_PER_DAY)
        self._maybe_spike(sink)
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
        factor = _WEEKEND_FACTOR if weekday >= 5 else 1.0
        # commerce follows the statuses at the day's start: an event later in the day (a
        # churn spike) changes nothing before it
        statuses = [acct.status for acct in self.accounts]
        web = self._web
        if activity:
            web.begin_day(sink)
        for acct in self.accounts:
            # a customer at any time of the day uses the product that day (the day it signs
            # up, converts, or cancels included)
            active = acct.status in ACTIVE
            billing_day(acct, sink)
            active = active or acct.status in ACTIVE
            if not active and not (acct.pending and acct.pending[0][0] < sink.day_end):
                continue
            support_day(acct, acct.support_rng, sink, factor, active)
            pending_day(acct, acct.support_rng, sink, active)
            if activity and active:
                activity_day(acct, self._activity_rng(acct.idx), sink, factor)
                web.app_day(acct, self._web_rng(acct.idx), sink, weekday >= 5)
        self._commerce.day(self.accounts, statuses, sink)
        self._backoffice.day(sink)
        if activity:
            web.marketing_day(sink, weekday >= 5)
        sink.items.sort(key=_BY_TIME)
        return sink.items

    def _activity_rng(self, idx: int) -> Random:
        rng = self._activity_rngs.get(idx)
        if rng is None:
            rng = derived_rng(self.cfg.seed, "activity", self._activity_stream, idx)
            self._activity_rngs[idx] = rng
        return rng

    def _web_rng(self, idx: int) -> Random:
        rng = self._web_rngs.get(idx)
        if rng is None:
            rng = derived_rng(self.cfg.seed, "web", self._activity_stream, idx)
            self._web_rngs[idx] = rng
        return rng

    def _maybe_spike(self, sink: DaySink) -> None:
        """Pick the spike's cancellations when the day containing its start begins."""
        start = self._spike_us
        if start is None or start >= sink.day_end or start + self._spike_len <= sink.day_start:
            return
        self._spike_us = None
        begin = max(start, sink.day_start)
        span = start + self._spike_len - begin
        paying = [a for a in self.accounts if a.status in (PAYING, PAST_DUE)]
        rng = derived_rng(self.cfg.seed, "spike")
        chosen = rng.sample(paying, round(self.cfg.churn_spike_share * len(paying)))
        for acct in chosen:
            acct.spike_cancel_us = begin + int(rng.random() * span)
