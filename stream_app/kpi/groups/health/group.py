"""The health group: survey (voice) and ticket (support) KPIs, and the account health score.

Exports (docs/kpis.md): ``cs_survey_responses{survey,score,window="90d"}``,
``cs_tickets_opened{channel,window="30d"}``, ``cs_tickets_resolved{window="30d"}``,
``cs_tickets_resolved_first_contact{window="30d"}``, the gauge histogram
``cs_ticket_resolution_seconds`` and ``cs_accounts_by_health{band}``.

Health is read as of T (recency decays while nothing happens). An evaluation is cached
with the days its band holds without new events (:mod:`stream_app.kpi.groups.health.facts`
computes each coming day's band exactly as a read of that day would, up to a week ahead),
so a scrape re-evaluates only the accounts that changed or whose band may change; an
event that changes nothing as of L keeps the cache (shortened if it moved a dated fact).
:meth:`apply` notes the accounts whose facts an event changed; :meth:`settle` (after
each batch) judges their bands as of each account's latest event day L, and queues a
change from one band (or ``churned``) to another in :attr:`outbox` as ``("health",
account_id, {...})``. The worker publishes the queue to the ``account-health`` topic
after each batch; replay never publishes (it discards the queue).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any, Final

from stream_app.contract import ACCOUNT_TYPES, PRODUCT_TYPES, Event
from stream_app.kpi.families import Family
from stream_app.kpi.group import KpiGroup, ReadContext
from stream_app.kpi.groups.health.facts import HORIZON_DAYS, build_timeline
from stream_app.kpi.groups.health.score import BANDS, Health, evaluate, weights
from stream_app.kpi.groups.health.state import (
    KEEP_DAYS,
    RISK_WINDOW_DAYS,
    SUB_KIND,
    HealthState,
    prune_activity,
    record_activity,
    record_failed_payment,
    record_subscription,
)
from stream_app.kpi.groups.health.support import SupportAggregates, describe_support
from stream_app.kpi.groups.health.voice import (
    VOICE_KEEP_DAYS,
    VoiceAggregates,
    describe_surveys,
    prune_latest,
    record_latest,
)
from stream_app.kpi.settings import KpiSettings
from stream_app.timeutil import day_label, from_us

HEALTH_ROLE: Final = "health"  # outbox topic role: the worker sends it to CS_TOPIC_ACCOUNT_HEALTH
#: replay never drains the outbox; a worker drains it after every batch (far below this)
OUTBOX_LIMIT: Final = 100_000
Trigger = tuple[str, str, int]  # (event_id, type, epoch us) of the event behind a change
#: cached bands that expire at the next midnight re-evaluated per read (ahead of it)
EXTEND_PER_READ: Final = 100


def weakest_components(health: Health, count: int = 3) -> list[dict[str, Any]]:
    """The components that cost the score the most points (weight share x (100 - score)),
    most first; components at 100 cost nothing and are left out."""
    total = sum(c.weight for c in health.components.values())
    lost = [
        (round(c.weight / total * (100.0 - c.score), 1), name, c.score)
        for name, c in health.components.items()
        if total > 0 and c.score < 100.0
    ]
    lost.sort(key=lambda item: (-item[0], item[1]))
    return [
        {"component": name, "score": round(score, 1), "points_lost": points}
        for points, name, score in lost[:count]
    ]


class HealthGroup(KpiGroup[HealthState]):
    """Surveys, tickets and account health over one partition's accounts."""

    name = "health"
    types = ACCOUNT_TYPES

    def __init__(self, settings: KpiSettings) -> None:
        super().__init__(settings)
        self.cfg = settings
        self.weights = weights(settings)
        self.voice = VoiceAggregates()
        self.support = SupportAggregates()
        self.ticket_keep = settings.ticket_retention_days
        self.sentiment_keep = settings.health_sentiment_days + 1
        self.outbox_limit = OUTBOX_LIMIT
        #: accounts whose facts changed since the last :meth:`settle`
        self.pending: dict[str, tuple[HealthState, Trigger]] = {}

    def new(self) -> HealthState:
        return HealthState()

    # -- updates --------------------------------------------------------------------
    def apply(self, account_id: str, state: HealthState, event: Event, day: int) -> None:
        kind = event.type
        last = state.last
        if last is not None and day <= last and kind in PRODUCT_TYPES:
            # a fact already known (the user active on or after ``day``; for a
            # feature_used, the feature too, or the day out of its window) changes
            # nothing as of L (record_activity would return (False, None)): about half of
            # the product events of a busy account
            seen = state.users.get(event.user_id)
            if seen is not None and seen >= day:
                if kind == "feature_used" and day >= last - RISK_WINDOW_DAYS:
                    used = state.features.get(event.feature)
                    known = used is not None and used >= day
                else:
                    known = True
                if known:
                    cache = state.cache
                    if cache is not None and cache[0] != last:
                        state.cache = None
                    return
        changed = False
        moved: int | None = None  # see record_activity
        if state.last is None or day > state.last:
            state.last = day
            self._prune(state)
            changed = True
        last = state.last
        if kind in PRODUCT_TYPES:
            feature = event.feature if kind == "feature_used" else None
            activity, moved = record_activity(state, event.user_id, feature, day)
            changed = changed or activity
        elif kind == "survey_answered":
            self.voice.add(state.voice, event.survey, event.score, day, last - VOICE_KEEP_DAYS + 1)
            answer = (event.us, event.score, day)
            cutoff = last - self.sentiment_keep + 1
            if record_latest(state.voice, event.survey, event.user_id, answer, cutoff):
                changed = True
        elif kind == "ticket_opened" or kind == "ticket_resolved":
            if day >= last - self.ticket_keep + 1:
                if kind == "ticket_opened":
                    opening = (event.us, day, event.channel)
                    self.support.open(state.tickets, event.ticket_id, opening)
                else:
                    resolution = (event.us, day, event.contacts)
                    self.support.resolve(state.tickets, event.ticket_id, resolution)
                changed = True
        elif kind == "payment_failed":
            if record_failed_payment(state, day):
                changed = True
        elif kind in SUB_KIND:
            sub = (event.us, day, SUB_KIND[kind], event.mrr, event.currency)
            record_subscription(state, sub)
            changed = True
        if changed:
            state.cache = None
            self.pending[account_id] = (state, (event.event_id, kind, event.us))
        elif state.cache is not None:
            # the facts as of L are unchanged, so a health cached as of L still holds for
            # L, and for later days until a moved user or feature would have left the
            # window; a health cached for another day may not
            cached_day, until, band = state.cache
            if cached_day != last:
                state.cache = None
            elif moved is not None and moved + RISK_WINDOW_DAYS < until:
                state.cache = (cached_day, moved + RISK_WINDOW_DAYS, band)

    def _prune(self, state: HealthState) -> None:
        last = state.last
        assert last is not None
        prune_activity(state, last - KEEP_DAYS + 1)
        self.voice.prune(state.voice, last - VOICE_KEEP_DAYS + 1)
        prune_latest(state.voice, last - self.sentiment_keep + 1)
        self.support.prune(state.tickets, last - self.ticket_keep + 1)

    def settle(self) -> None:
        """Judge the band of every account changed since the last call, as of its latest
        event day, and queue the changes in :attr:`outbox` (the worker calls this after
        each batch, so a band that flips and flips back within a batch is not published;
        the trigger is the batch's last event that changed the account's facts)."""
        pending, self.pending = self.pending, {}
        for account_id, (state, trigger) in pending.items():
            self._band_change(account_id, state, trigger)

    def _band_change(self, account_id: str, state: HealthState, trigger: Trigger) -> None:
        assert state.last is not None
        health = self.health(state, state.last)
        old, new = state.band, health.band
        state.band = new
        if old is None or new is None or old == new:
            return
        if len(self.outbox) >= self.outbox_limit:
            del self.outbox[: len(self.outbox) // 2]
        record = {
            "account_id": account_id,
            "old_band": old,
            "new_band": new,
            "as_of_day": day_label(state.last),
            "trigger": {
                "event_id": trigger[0],
                "type": trigger[1],
                "ts": from_us(trigger[2]).isoformat(),
            },
            **health.summary(),
        }
        self.outbox.append((HEALTH_ROLE, account_id, record))

    def attach(self, account_id: str, state: HealthState) -> None:
        self.voice.attach(state.voice)
        self.support.attach(state.tickets)

    # -- reads ----------------------------------------------------------------------
    def health(self, state: HealthState, day: int, horizon: int = 1) -> Health:
        """The account's health as of ``day``; its band is cached until the account
        changes, with how long it holds, looking ``horizon`` days ahead."""
        timeline = build_timeline(state, day, self.cfg)
        health = evaluate(timeline.facts_at(day, self.cfg), self.cfg, self.weights)
        until = timeline.band_until(health.band, self.cfg, self.weights, horizon)
        state.cache = (day, until, health.band)
        return health

    def band(self, state: HealthState, day: int) -> str | None:
        """The account's band as of ``day``: a cached band holds while no fact changes."""
        cached = state.cache
        if cached is not None and cached[0] <= day < cached[1]:
            return cached[2]
        return self.health(state, day, HORIZON_DAYS).band

    def families(self, ctx: ReadContext, states: Mapping[str, HealthState]) -> list[Family]:
        day = ctx.as_of_day
        bands: Counter[str | None] = Counter()
        extend = EXTEND_PER_READ
        for state in states.values():
            cached = state.cache
            if cached is not None and cached[0] <= day < cached[1]:
                if extend and cached[0] < day and cached[1] == day + 1:
                    # it expires at midnight: re-evaluate it now (a week ahead), so the
                    # first read of the next day finds it still valid
                    extend -= 1
                    bands[self.health(state, day, HORIZON_DAYS).band] += 1
                else:
                    bands[cached[2]] += 1
            else:
                bands[self.health(state, day, HORIZON_DAYS).band] += 1
        by_health = Family(
            "cs_accounts_by_health",
            "gauge",
            "Accounts that are not churned, by health band as of T.",
        )
        for band in BANDS:
            by_health.add(bands[band], band=band)
        return [self.voice.family(ctx), *self.support.families(ctx), by_health]

    def describe(self, state: HealthState, ctx: ReadContext) -> dict[str, Any]:
        day = ctx.as_of_day
        health = self.health(state, day)
        facts = health.facts
        last_active = state.active
        return {
            "health": {
                **health.summary(),
                "as_of_day": day_label(day),
                "band_at_latest_event": state.band,
                "facts": {
                    "last_active_day": None if last_active is None else day_label(last_active),
                    "days_since_activity": facts.days_since_activity,
                    "users": facts.users,
                    "active_users_30d": facts.active_users_30d,
                    "features_30d": facts.features_30d,
                    "nps": facts.nps,
                    "nps_answers": facts.nps_answers,
                    "csat": facts.csat,
                    "csat_answers": facts.csat_answers,
                    # 0 when the account never had a ticket (then the support component
                    # is left out of the score; see "left_out"), as support.open_tickets
                    "open_tickets": facts.open_tickets or 0,
                    "slow_resolutions_30d": facts.slow_resolutions_30d,
                    "failed_payments_30d": facts.failed_payments_30d,
                    "contractions_30d": facts.contractions_30d,
                    "cancellations_30d": facts.cancellations_30d,
                    "churned": facts.churned,
                },
            },
            "surveys": describe_surveys(state.voice, ctx),
            "support": describe_support(state.tickets, ctx),
        }

    def summary(self, state: HealthState, ctx: ReadContext) -> dict[str, Any]:
        """Score, band, the weakest components, last activity and open tickets."""
        day = ctx.as_of_day
        health = self.health(state, day, HORIZON_DAYS)
        facts = health.facts
        return {
            "score": health.score,
            "band": health.band,
            "weakest_components": weakest_components(health),
            "last_active_day": None if state.active is None else day_label(state.active),
            "days_since_activity": facts.days_since_activity,
            "open_tickets": facts.open_tickets or 0,
        }

    def ranking(
        self, states: Mapping[str, HealthState], day: int, bands: Collection[str]
    ) -> list[tuple[str, Health]]:
        """(account id, health) as of ``day`` of the accounts in ``bands``, lowest score
        first (the band is read from the cache first: only those accounts are scored)."""
        chosen = [
            (aid, self.health(s, day, HORIZON_DAYS))
            for aid, s in states.items()
            if self.band(s, day) in bands
        ]
        return sorted(chosen, key=lambda item: (item[1].score or 0.0, item[0]))

    # -- persistence ----------------------------------------------------------------
    def dump(self, state: HealthState) -> Any:
        return state.dump()

    def load(self, raw: Any) -> HealthState:
        return HealthState.load(raw)
