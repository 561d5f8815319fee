"""An account's health facts as of a day, and how they move on while no event comes.

:func:`build_timeline` collects, as of day D, the dated facts that are in their windows
(sorted days of active users, features, slow resolutions, failed payments, contractions
and cancellations, and the users' latest NPS/CSAT answers). Without new events, the
facts of a later day D' follow from it alone: an item counts while ``D' <= day + 29``
(30-day windows) or ``D' <= day + sentiment_days - 1``, and recency is ``D' - last
activity``. :meth:`FactTimeline.band_until` uses that to find how long the account's band
holds, so a scrape on a new day re-evaluates only the accounts whose band may change.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final

from stream_app.kpi.groups.health.score import CHURNED, HealthFacts, band_of, component_scores
from stream_app.kpi.groups.health.score import weighted_score as score_of
from stream_app.kpi.groups.health.settings import HealthSettings
from stream_app.kpi.groups.health.state import RISK_WINDOW_DAYS, HealthState, billing_days
from stream_app.kpi.groups.health.support import support_facts

NEVER: Final = 1 << 62  # a day that never comes
#: how many days ahead a read (:meth:`FactTimeline.band_until`) looks for a band change;
#: an evaluation in ``apply`` looks one day ahead (what the next day's first scrape needs)
HORIZON_DAYS: Final = 7


def _since(days: list[int], first: int) -> int:
    """How many of the sorted ``days`` are on or after ``first``."""
    return len(days) - bisect_left(days, first)


@dataclass(slots=True)
class FactTimeline:
    day: int
    frozen: bool  # False when the account has events after ``day``: no extrapolation
    active: int | None = None  # the latest activity day
    users: int = 0
    user_days: list[int] = field(default_factory=list)
    feature_days: list[int] = field(default_factory=list)
    answers: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # (day, score)
    open_tickets: int | None = None
    slow_days: list[int] = field(default_factory=list)
    billing: bool = False
    failed_days: list[int] = field(default_factory=list)
    contraction_days: list[int] = field(default_factory=list)
    cancel_days: list[int] = field(default_factory=list)
    churned: bool = False

    def facts_at(self, day: int, cfg: HealthSettings) -> HealthFacts:
        """The facts as of ``day`` (``self.day``, or a later day while no event comes)."""
        first = day - RISK_WINDOW_DAYS + 1
        sentiment: dict[str, tuple[float, int]] = {}
        answered_from = (day - cfg.health_sentiment_days + 1,)
        for survey, answers in self.answers.items():
            scores = [score for _, score in answers[bisect_left(answers, answered_from) :]]
            n = len(scores)
            if not n:
                continue
            if survey == "nps":
                promoters = sum(1 for s in scores if s >= 9)
                detractors = sum(1 for s in scores if s <= 6)
                sentiment[survey] = (100.0 * (promoters - detractors) / n, n)
            else:
                sentiment[survey] = (sum(1 for s in scores if s >= 4) / n, n)
        nps, nps_n = sentiment.get("nps", (None, 0))
        csat, csat_n = sentiment.get("csat", (None, 0))
        return HealthFacts(
            days_since_activity=None if self.active is None else max(0, day - self.active),
            users=self.users,
            active_users_30d=_since(self.user_days, first),
            features_30d=_since(self.feature_days, first),
            nps=nps,
            nps_answers=nps_n,
            csat=csat,
            csat_answers=csat_n,
            open_tickets=self.open_tickets,
            slow_resolutions_30d=_since(self.slow_days, first),
            failed_payments_30d=_since(self.failed_days, first) if self.billing else None,
            contractions_30d=_since(self.contraction_days, first),
            cancellations_30d=_since(self.cancel_days, first),
            churned=self.churned,
        )

    def changes(self, cfg: HealthSettings, last: int) -> tuple[list[int], int]:
        """The days in ``self.day + 1 .. last`` on which a fact may change (sorted,
        distinct), and the first such day after ``last`` (:data:`NEVER`: none)."""
        days: set[int] = set()
        window = RISK_WINDOW_DAYS
        for dated in (
            self.user_days,
            self.feature_days,
            self.slow_days,
            self.failed_days,
            self.contraction_days,
            self.cancel_days,
        ):
            days.update(d + window for d in dated)
        for answers in self.answers.values():
            days.update(d + cfg.health_sentiment_days for d, _ in answers)
        after = min((d for d in days if d > last), default=NEVER)
        within = {d for d in days if self.day < d <= last}
        if self.active is not None:  # recency moves on days full+1 .. zero after it
            start = max(self.day + 1, self.active + cfg.health_recency_full_days + 1)
            end = self.active + cfg.health_recency_zero_days
            within.update(range(start, min(end, last) + 1))
            if max(start, last + 1) <= end:
                after = min(after, max(start, last + 1))
        return sorted(within), after

    def band_until(
        self, band: str | None, cfg: HealthSettings, weights: dict[str, float], horizon: int
    ) -> int:
        """The first day after ``self.day`` on which the band may differ from ``band``
        (:data:`NEVER`: not without an event), looking ``horizon`` days ahead: each of
        those days' band is computed exactly as a fresh read of that day computes it;
        later, the first day a fact may change."""
        if not self.frozen:
            return self.day + 1
        if band == CHURNED:
            return NEVER  # churned until the next subscription event
        within, after = self.changes(cfg, self.day + horizon)
        for later in within:
            value = score_of(component_scores(self.facts_at(later, cfg), cfg), weights)
            if (band_of(value, cfg) if value is not None else None) != band:
                return later
        return after


def build_timeline(state: HealthState, day: int, cfg: HealthSettings) -> FactTimeline:
    """The account's dated facts in their windows as of ``day``."""
    first = day - RISK_WINDOW_DAYS + 1
    line = FactTimeline(day, frozen=state.last is None or state.last <= day)
    line.active = state.active
    line.users = len(state.users)
    line.user_days = sorted(d for d in state.users.values() if first <= d <= day)
    line.feature_days = sorted(d for d in state.features.values() if first <= d <= day)
    answered_from = day - cfg.health_sentiment_days + 1
    for survey, users in state.voice.latest.items():
        answers = sorted((a[2], a[1]) for a in users.values() if answered_from <= a[2] <= day)
        if answers:
            line.answers[survey] = answers
    if state.tickets:
        slow_us = cfg.health_slow_resolution_seconds * 1_000_000
        line.open_tickets, line.slow_days = support_facts(state.tickets, first, day, slow_us)
    if state.subs or state.failed:
        line.billing = True
        line.failed_days = [d for d in state.failed if first <= d <= day]
        line.contraction_days, line.cancel_days, line.churned = billing_days(state.subs, first, day)
    return line
