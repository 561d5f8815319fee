"""The usage group: active users (DAU/WAU/MAU), feature users, active days over the 30
complete days before T (stickiness) and retention by signup cohort.

State per account: one int per user (:mod:`.activity`: the latest active day, a bitmap of
the recent days and weeks, the signup week), one such int for the account itself, and
per feature each user's last day of use. Aggregates per partition: how many users have
their last active day on each day, so a window's distinct users is a sum over at most N
day counts; the cohort tables (:class:`.activity.Cohorts`), kept exact event by event;
and the active-days distribution of the last day read, adjusted by late events and
recomputed (one pass over the users) when T's day changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from sys import intern
from typing import Any, Final

from stream_app.contract import PRODUCT_TYPES, Event
from stream_app.kpi.daycount import count_in_window, move
from stream_app.kpi.families import Family, add_gauge_histogram_counts
from stream_app.kpi.group import KpiGroup, ReadContext
from stream_app.kpi.groups.usage.activity import (
    DAY_BITS,
    LAST_SHIFT,
    RETENTION_WEEKS,
    Cohorts,
    active_on,
    days_active,
    join,
    last_day,
    pack,
    split,
    week_of,
    week_start,
)
from stream_app.kpi.settings import KpiSettings
from stream_app.timeutil import day_label

ACTIVE_WINDOWS: Final = (1, 7, 30)
FEATURE_WINDOWS: Final = (7, 30)
OTHER_FEATURE: Final = "other"
#: complete days (before T's day) of the active-days histogram
COMPLETE_DAYS: Final = 30
ACTIVE_DAYS_BUCKETS: Final = (1, 2, 3, 5, 7, 10, 15, 20, 25, 30)
#: signup cohorts exported: T's week and the 11 before it
COHORTS: Final = 12


@dataclass(slots=True)
class UsageState:
    users: dict[str, int] = field(default_factory=dict)  # user -> activity int (.activity)
    features: dict[str, dict[str, int]] = field(default_factory=dict)  # feature -> user -> day
    account: int | None = None  # the account's own activity int (its cohort, its weeks)


def _marked(p: int, day: int) -> bool:
    """Whether the activity int ``p`` has ``day`` marked (:func:`.activity.active_on`,
    inlined for the hot path)."""
    off = (p >> LAST_SHIFT) - day
    return 0 <= off < DAY_BITS and (p >> off) & 1 == 1


class UsageGroup(KpiGroup[UsageState]):
    """Incremental aggregates of the usage group over one partition's accounts."""

    name = "usage"
    types = PRODUCT_TYPES

    def __init__(self, settings: KpiSettings) -> None:
        super().__init__(settings)
        self.feature_limit = settings.feature_limit
        self.active_by_day: Counter[int] = Counter()
        self.feature_by_day: dict[str, Counter[int]] = {}
        self.user_cohorts = Cohorts()
        self.account_cohorts = Cohorts()
        #: the active-days distribution (days -> users) over the complete days before
        #: ``_hist_day``; None when it must be recomputed
        self._hist_day: int | None = None
        self._hist: Counter[int] = Counter()

    def new(self) -> UsageState:
        return UsageState()

    def _fold(self, feature: str) -> str:
        known = self.feature_by_day
        if feature in known or len(known) - (OTHER_FEATURE in known) < self.feature_limit:
            return feature
        return OTHER_FEATURE

    def apply(self, account_id: str, state: UsageState, event: Event, day: int) -> None:
        # Each part skips a fact already known (the user, or the account, already active
        # on ``day``; the user's feature day already at or after it): that changes
        # nothing, and it is about half of the product events of a busy account.
        user = event.user_id
        users = state.users
        kind = event.type
        signup = kind == "user_signed_up"
        old = users.get(user)
        if signup or old is None or not _marked(old, day):
            new = users[user] = self.user_cohorts.touch(old, day, signup)
            old_last = None if old is None else old >> LAST_SHIFT
            new_last = new >> LAST_SHIFT
            if old_last != new_last:
                move(self.active_by_day, old_last, new_last)
            hist_day = self._hist_day
            if hist_day is not None and hist_day - COMPLETE_DAYS <= day < hist_day:
                self._late_day(old, new, day, hist_day)
        account = state.account
        if signup or account is None or not _marked(account, day):
            state.account = self.account_cohorts.touch(account, day, signup)
        if kind == "feature_used":
            name = event.feature
            features = state.features
            by_user = features.get(name)
            if by_user is not None:  # a known name (a folded one is stored as "other")
                old_day = by_user.get(user)
                if old_day is not None and old_day >= day:
                    return
            else:
                if name not in self.feature_by_day:
                    name = self._fold(name)
                by_user = features.get(name)
                if by_user is None:
                    by_user = features[intern(name)] = {}
                old_day = by_user.get(user)
                if old_day is not None and old_day >= day:
                    return
            if old_day is None:
                # one copy of the user id for all its features (each event brings its own)
                user = intern(user)
            by_user[user] = day
            counts = self.feature_by_day.get(name)
            if counts is None:
                counts = self.feature_by_day[name] = Counter()
            move(counts, old_day, day)

    def _late_day(self, old: int | None, new: int, day: int, hist_day: int) -> None:
        """An event on a complete day of the cached distribution: move its user up."""
        if not active_on(new, day):  # too old to keep a bit for: recompute at the next read
            self._hist_day = None
            return
        if old is not None and active_on(old, day):
            return
        before = 0 if old is None else days_active(old, hist_day - COMPLETE_DAYS, hist_day - 1)
        if before:
            self._hist[before] -= 1
        self._hist[before + 1] += 1

    def attach(self, account_id: str, state: UsageState) -> None:
        for p in state.users.values():
            self.active_by_day[last_day(p)] += 1
            self.user_cohorts.add(p, 1)
        if state.account is not None:
            self.account_cohorts.add(state.account, 1)
        for name, users in state.features.items():
            counts = self.feature_by_day.setdefault(name, Counter())
            for day in users.values():
                counts[day] += 1
        self._hist_day = None

    def active_days(self, states: Mapping[str, UsageState], as_of_day: int) -> Counter[int]:
        """Users by their number of active days in the complete days before ``as_of_day``."""
        if self._hist_day != as_of_day:
            first, last = as_of_day - COMPLETE_DAYS, as_of_day - 1
            hist: Counter[int] = Counter()
            for state in states.values():
                for p in state.users.values():
                    if last_day(p) >= first:
                        n = days_active(p, first, last)
                        if n:
                            hist[n] += 1
            self._hist, self._hist_day = hist, as_of_day
        return self._hist

    def families(self, ctx: ReadContext, states: Mapping[str, UsageState]) -> list[Family]:
        as_of_day = ctx.as_of_day
        active = Family(
            "cs_active_users",
            "gauge",
            "Distinct users with at least one product event in the window (DAU/WAU/MAU).",
        )
        for days in ACTIVE_WINDOWS:
            active.add(count_in_window(self.active_by_day, as_of_day, days), window=f"{days}d")
        features = Family(
            "cs_feature_users",
            "gauge",
            "Distinct users with a feature_used of the feature in the window.",
        )
        for name, counts in sorted(self.feature_by_day.items()):
            for days in FEATURE_WINDOWS:
                features.add(
                    count_in_window(counts, as_of_day, days), feature=name, window=f"{days}d"
                )
        active_days = Family(
            "cs_user_active_days",
            "gaugehistogram",
            "Users active in the 30 complete days before today, by their number of active "
            "days; _gsum is the sum of those days' DAU, _gcount their MAU.",
        )
        add_gauge_histogram_counts(
            active_days, ACTIVE_DAYS_BUCKETS, self.active_days(states, as_of_day)
        )
        return [
            active,
            features,
            active_days,
            *self._cohort_families(as_of_day, "users", self.user_cohorts),
            *self._cohort_families(as_of_day, "accounts", self.account_cohorts),
        ]

    @staticmethod
    def _cohort_families(as_of_day: int, what: str, cohorts: Cohorts) -> list[Family]:
        whose = "users" if what == "users" else "accounts (cohort: their first user's signup)"
        members = Family(
            f"cs_cohort_{what}",
            "gauge",
            f"Signed-up {whose} by signup week (Monday, CS_TIMEZONE), 12 latest weeks.",
        )
        retained = Family(
            f"cs_cohort_retained_{what}",
            "gauge",
            f"Signed-up {whose} with a product event in the k-th week after their signup "
            "week (week label k, weeks started by T).",
        )
        now = week_of(as_of_day)
        for cohort in range(now - COHORTS + 1, now + 1):
            label = day_label(week_start(cohort))
            members.add(cohorts.members.get(cohort, 0), cohort=label)
            for k in range(1, min(now - cohort, RETENTION_WEEKS) + 1):
                retained.add(cohorts.retained.get((cohort, k), 0), cohort=label, week=str(k))
        return [members, retained]

    def describe(self, state: UsageState, ctx: ReadContext) -> dict[str, Any]:
        first30 = ctx.first_day(30)
        as_of_day = ctx.as_of_day
        return {
            "users": len(state.users),
            "active_users_30d": sum(1 for p in state.users.values() if last_day(p) >= first30),
            "active_days_30d": (
                0
                if state.account is None
                else days_active(state.account, as_of_day - COMPLETE_DAYS, as_of_day - 1)
            ),
            "features_30d": sorted(
                n
                for n, users in state.features.items()
                if any(d >= first30 for d in users.values())
            ),
        }

    def dump(self, state: UsageState) -> Any:
        # an activity int can pass 64 bits, which JSON libraries refuse: two ints each
        out: dict[str, Any] = {
            "a": {u: split(p) for u, p in state.users.items()},
            "f": state.features,
        }
        if state.account is not None:
            out["c"] = split(state.account)
        return out

    def load(self, raw: Any) -> UsageState:
        if "a" in raw:
            users = {u: join(pair) for u, pair in raw["a"].items()}
        else:  # a record written before activity ints: user -> last active day
            users = {u: pack(d, 1, 1, None) for u, d in raw.get("u", {}).items()}
        return UsageState(
            users=users,
            features={k: dict(v) for k, v in raw.get("f", {}).items()},
            account=join(raw["c"]) if "c" in raw else None,
        )
