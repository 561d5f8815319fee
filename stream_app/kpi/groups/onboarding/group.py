"""The onboarding group: signup cohorts, activation, time to value, first week, adoption
and referrals (docs/kpis.md).

State per account (all of it a function of the set of events, never of their order):

- ``signup``: the earliest ``user_signed_up`` ts, and its calendar day;
- ``reached``: the earliest ts of each *configured* milestone (activation milestones,
  first value, proficiency), so that a milestone name the settings do not mention costs
  nothing;
- ``last`` / ``mask``: the account's active days (any product event) as a bit set
  relative to its latest active day ``last`` (bit k = day ``last - k``), kept for the
  37 days ``last - 36 .. last``: enough for the adoption window (30 days) and for a first
  week that ended within it (signup day >= T's day - 36) whenever T's day >= ``last``;
- ``referrers``: each user's latest ``referral_sent`` day, for users whose latest
  referral is within the 30 days ending on ``last``.

Reads scan the partition's accounts once (O(accounts)); the referring users come from a
per-day count kept incrementally, like the usage group's active users.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from stream_app.contract import PRODUCT_TYPES, Event
from stream_app.kpi.daycount import count_in_window, move
from stream_app.kpi.families import Family
from stream_app.kpi.group import KpiGroup, ReadContext
from stream_app.kpi.groups.onboarding.state import (
    ALL_KEPT,
    KEPT_DAYS,
    LOW_BITS,
    WEEK_BUCKETS,
    WEEK_DAYS,
    WINDOW_BITS,
    WINDOW_DAYS,
    OnboardingState,
    active_days,
    gauge,
    histogram,
    iso,
    whole_seconds,
)
from stream_app.kpi.settings import KpiSettings
from stream_app.timeutil import day_label, to_us


class OnboardingGroup(KpiGroup[OnboardingState]):
    """Onboarding and engagement KPIs over one partition's accounts."""

    name = "onboarding"
    types = PRODUCT_TYPES

    def __init__(self, settings: KpiSettings) -> None:
        super().__init__(settings)
        self.activation = settings.activation_milestone_names
        self.first_value = settings.first_value_milestone
        self.proficiency = settings.proficiency_milestone
        self.tracked = frozenset((*self.activation, self.first_value, self.proficiency))
        self.adoption_min_days = settings.adoption_min_days
        self.ttfv_bounds = settings.time_to_first_value_bounds
        self.ttp_bounds = settings.time_to_proficiency_bounds
        #: users whose latest referral is on each day (one entry per referring user)
        self.referrers_by_day: Counter[int] = Counter()

    def new(self) -> OnboardingState:
        return OnboardingState()

    # -- updates (hot path) -----------------------------------------------------
    def apply(self, account_id: str, state: OnboardingState, event: Event, day: int) -> None:
        self._active(state, day)
        kind = event.type
        if kind == "user_signed_up":
            ts = event.us
            if state.signup is None or ts < state.signup:
                state.signup = ts
                state.signup_day = day
        elif kind == "milestone_reached":
            name = event.milestone
            if name in self.tracked:
                ts = event.us
                old = state.reached.get(name)
                if old is None or ts < old:
                    state.reached[name] = ts
                    state.activated = self._activation(state.reached)
        elif kind == "referral_sent":
            user = event.user_id
            # ``last`` is set: this event was just recorded as activity
            if day > state.last - WINDOW_DAYS:  # type: ignore[operator]
                old_day = state.referrers.get(user)
                if old_day is None or day > old_day:
                    state.referrers[user] = day
                    move(self.referrers_by_day, old_day, day)

    def _active(self, state: OnboardingState, day: int) -> None:
        top = state.last
        if top is None or day - top >= KEPT_DAYS:
            state.mask = 1
        elif day > top:
            state.mask = ((state.mask << (day - top)) | 1) & ALL_KEPT
        else:
            if top - day < KEPT_DAYS:
                state.mask |= 1 << (top - day)
            return
        state.last = day
        if state.referrers:
            oldest = day - WINDOW_DAYS + 1
            for user, ref_day in list(state.referrers.items()):
                if ref_day < oldest:
                    del state.referrers[user]
                    move(self.referrers_by_day, ref_day, None)

    def _activation(self, reached: Mapping[str, int]) -> int | None:
        """When the account had reached every activation milestone (None: not yet)."""
        latest = None
        for name in self.activation:
            ts = reached.get(name)
            if ts is None:
                return None
            if latest is None or ts > latest:
                latest = ts
        return latest

    def attach(self, account_id: str, state: OnboardingState) -> None:
        for day in state.referrers.values():
            self.referrers_by_day[day] += 1

    # -- reads --------------------------------------------------------------------
    def families(self, ctx: ReadContext, states: Mapping[str, OnboardingState]) -> list[Family]:
        now = to_us(ctx.as_of)
        today = ctx.as_of_day
        cohort_first = today - WINDOW_DAYS + 1
        # first weeks that ended (at 00:00 after their 7th day) within the 30d window
        week_first, week_last = cohort_first - WEEK_DAYS, today - WEEK_DAYS
        min_days = self.adoption_min_days
        fv_name, prof_name = self.first_value, self.proficiency
        new = activated = onboarded = adopted = 0
        ttfv: list[int] = []
        ttp: list[int] = []
        weeks: list[int] = []
        for state in states.values():
            act = state.activated
            done = act is not None and act <= now and state.last is not None
            if done:
                onboarded += 1
                top: int = state.last  # type: ignore[assignment]
                if top >= cohort_first:  # else no active day in the window
                    if top > today:
                        bits = (state.mask >> (top - today)) & WINDOW_BITS
                    else:
                        bits = state.mask & LOW_BITS[top - cohort_first + 1]
                    adopted += bits.bit_count() >= min_days
            signup_day = state.signup_day
            if signup_day is None or signup_day < week_first:
                continue
            signup: int = state.signup  # type: ignore[assignment]
            if signup > now:
                continue
            if signup_day <= week_last:
                weeks.append(active_days(state, signup_day, signup_day + WEEK_DAYS - 1))
            if signup_day >= cohort_first:
                new += 1
                activated += done
                fv = state.reached.get(fv_name)
                if fv is not None and fv <= now:
                    ttfv.append(whole_seconds(fv - signup))
                prof = state.reached.get(prof_name)
                if prof is not None and prof <= now:
                    ttp.append(whole_seconds(prof - signup))
        window = f"{WINDOW_DAYS}d"
        return [
            gauge("cs_new_accounts", "Accounts whose signup day is in the window.", new, window),
            gauge(
                "cs_activated_accounts",
                "Accounts of the window's signup cohort that reached every activation milestone.",
                activated,
                window,
            ),
            histogram(
                "cs_time_to_first_value_seconds",
                "Seconds from signup to the first-value milestone (30d signup cohort).",
                self.ttfv_bounds,
                ttfv,
            ),
            histogram(
                "cs_time_to_proficiency_seconds",
                "Seconds from signup to the proficiency milestone (30d signup cohort).",
                self.ttp_bounds,
                ttp,
            ),
            histogram(
                "cs_first_week_active_days",
                "Active days of an account's first 7 days, for first weeks ended in the last 30d.",
                WEEK_BUCKETS,
                weeks,
            ),
            gauge("cs_onboarded_accounts", "Accounts that reached activation.", onboarded),
            gauge(
                "cs_adopted_accounts",
                "Onboarded accounts active on at least CS_ADOPTION_MIN_DAYS days of the window.",
                adopted,
                window,
            ),
            gauge(
                "cs_referring_users",
                "Distinct users with a referral_sent in the window.",
                count_in_window(self.referrers_by_day, today, WINDOW_DAYS),
                window,
            ),
        ]

    def describe(self, state: OnboardingState, ctx: ReadContext) -> dict[str, Any]:
        now = to_us(ctx.as_of)
        today = ctx.as_of_day
        reached = {n: ts for n, ts in sorted(state.reached.items()) if ts <= now}
        signup = state.signup if state.signup is not None and state.signup <= now else None
        activated = state.activated
        if activated is not None and activated > now:
            activated = None

        def since_signup(name: str) -> int | None:
            ts = reached.get(name)
            return None if signup is None or ts is None else whole_seconds(ts - signup)

        first_week = None
        sd = state.signup_day
        week_known = state.last is not None and sd is not None and sd > state.last - KEPT_DAYS
        if signup is not None and sd is not None and sd + WEEK_DAYS <= today and week_known:
            first_week = active_days(state, sd, sd + WEEK_DAYS - 1)
        active_30d = active_days(state, today - WINDOW_DAYS + 1, today)
        return {
            "milestones": {n: iso(ts) for n, ts in reached.items()},
            "onboarding": {
                "signed_up": iso(signup),
                "signup_day": None if signup is None or sd is None else day_label(sd),
                "activated": iso(activated),
                "time_to_first_value_s": since_signup(self.first_value),
                "time_to_proficiency_s": since_signup(self.proficiency),
                "first_week_active_days": first_week,
                "active_days_30d": active_30d,
                "adopted": activated is not None and active_30d >= self.adoption_min_days,
                "referring_users_30d": sum(
                    1 for d in state.referrers.values() if today - WINDOW_DAYS < d <= today
                ),
            },
        }

    # -- persistence ----------------------------------------------------------------
    def dump(self, state: OnboardingState) -> Any:
        out: dict[str, Any] = {}
        if state.signup is not None:
            out["s"] = [state.signup, state.signup_day]
        if state.reached:
            out["m"] = state.reached
        if state.last is not None:
            out["a"] = [state.last, state.mask]
        if state.referrers:
            out["r"] = state.referrers
        return out

    def load(self, raw: Any) -> OnboardingState:
        state = OnboardingState()
        if "s" in raw:
            state.signup, state.signup_day = int(raw["s"][0]), int(raw["s"][1])
        state.reached = {n: int(ts) for n, ts in raw.get("m", {}).items() if n in self.tracked}
        state.activated = self._activation(state.reached)
        if "a" in raw:
            state.last, state.mask = int(raw["a"][0]), int(raw["a"][1])
        state.referrers = {u: int(d) for u, d in raw.get("r", {}).items()}
        return state
