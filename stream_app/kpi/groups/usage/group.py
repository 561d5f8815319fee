"""The usage group: active users (DAU/WAU/MAU) and feature users.

State per account: each user's last active day, and per feature each user's last day
of use. Aggregates per partition: how many users have their last active day on each
day, so a window's distinct users is a sum over at most N day counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stream_app.contract import PRODUCT_TYPES, Event
from stream_app.kpi.daycount import count_in_window, move
from stream_app.kpi.families import Family
from stream_app.kpi.group import KpiGroup, ReadContext
from stream_app.kpi.settings import KpiSettings

ACTIVE_WINDOWS = (1, 7, 30)
FEATURE_WINDOWS = (7, 30)
OTHER_FEATURE = "other"


@dataclass(slots=True)
class UsageState:
    users: dict[str, int] = field(default_factory=dict)  # user -> last active day
    features: dict[str, dict[str, int]] = field(default_factory=dict)  # feature -> user -> day


class UsageGroup(KpiGroup[UsageState]):
    """Incremental aggregates of the usage group over one partition's accounts."""

    name = "usage"
    types = PRODUCT_TYPES

    def __init__(self, settings: KpiSettings) -> None:
        super().__init__(settings)
        self.feature_limit = settings.feature_limit
        self.active_by_day: Counter[int] = Counter()
        self.feature_by_day: dict[str, Counter[int]] = {}

    def new(self) -> UsageState:
        return UsageState()

    def _fold(self, feature: str) -> str:
        known = self.feature_by_day
        if feature in known or len(known) - (OTHER_FEATURE in known) < self.feature_limit:
            return feature
        return OTHER_FEATURE

    def apply(self, account_id: str, state: UsageState, event: Event, day: int) -> None:
        user = event.user_id
        users = state.users
        old = users.get(user)
        if old is None or day > old:
            users[user] = day
            move(self.active_by_day, old, day)
        if event.type == "feature_used":
            name = event.feature
            if name not in self.feature_by_day:
                name = self._fold(name)
            by_user = state.features.get(name)
            if by_user is None:
                by_user = state.features[name] = {}
            old = by_user.get(user)
            if old is None or day > old:
                by_user[user] = day
                counts = self.feature_by_day.get(name)
                if counts is None:
                    counts = self.feature_by_day[name] = Counter()
                move(counts, old, day)

    def attach(self, account_id: str, state: UsageState) -> None:
        for day in state.users.values():
            self.active_by_day[day] += 1
        for name, users in state.features.items():
            counts = self.feature_by_day.setdefault(name, Counter())
            for day in users.values():
                counts[day] += 1

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
        return [active, features]

    def describe(self, state: UsageState, ctx: ReadContext) -> dict[str, Any]:
        first30 = ctx.first_day(30)
        return {
            "users": len(state.users),
            "active_users_30d": sum(1 for d in state.users.values() if d >= first30),
            "features_30d": sorted(
                n
                for n, users in state.features.items()
                if any(d >= first30 for d in users.values())
            ),
        }

    def dump(self, state: UsageState) -> Any:
        return {"u": state.users, "f": state.features}

    def load(self, raw: Any) -> UsageState:
        return UsageState(
            users=dict(raw.get("u", {})),
            features={k: dict(v) for k, v in raw.get("f", {}).items()},
        )
