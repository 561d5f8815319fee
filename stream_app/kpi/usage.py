"""The usage group: active users (DAU/WAU/MAU) and feature users.

State per account: each user's last active day, and per feature each user's last day
of use. Aggregates per partition: how many users have their last active day on each
day, so a window's distinct users is a sum over at most N day counts.
"""

from __future__ import annotations

from collections import Counter

from stream_app.contract import PRODUCT_TYPES, AnyEvent
from stream_app.kpi.account import AccountState
from stream_app.kpi.families import Family

ACTIVE_WINDOWS = (1, 7, 30)
FEATURE_WINDOWS = (7, 30)
OTHER_FEATURE = "other"


def _move(counts: Counter[int], old: int | None, new: int | None) -> None:
    if old is not None:
        left = counts[old] - 1
        if left:
            counts[old] = left
        else:
            del counts[old]
    if new is not None:
        counts[new] += 1


def count_in_window(counts: Counter[int], as_of_day: int, days: int) -> int:
    """Entries whose day falls in the ``days``-day window ending on ``as_of_day``."""
    first = as_of_day - days + 1
    return sum(n for day, n in counts.items() if first <= day <= as_of_day)


class UsageKpis:
    """Incremental aggregates of the usage group over one partition's accounts."""

    def __init__(self, feature_limit: int) -> None:
        self.feature_limit = feature_limit
        self.active_by_day: Counter[int] = Counter()
        self.feature_by_day: dict[str, Counter[int]] = {}

    def _fold(self, feature: str) -> str:
        known = self.feature_by_day
        if feature in known or len(known) - (OTHER_FEATURE in known) < self.feature_limit:
            return feature
        return OTHER_FEATURE

    def apply(self, acct: AccountState, event: AnyEvent, day: int) -> None:
        if event.type not in PRODUCT_TYPES:
            return
        user: str = event.user_id  # type: ignore[union-attr]
        old = acct.users.get(user)
        if old is None or day > old:
            acct.users[user] = day
            _move(self.active_by_day, old, day)
        if event.type == "feature_used":
            name = self._fold(event.feature)
            users = acct.features.setdefault(name, {})
            old = users.get(user)
            if old is None or day > old:
                users[user] = day
                _move(self.feature_by_day.setdefault(name, Counter()), old, day)

    def attach(self, acct: AccountState) -> None:
        """Add a loaded account's contribution to the aggregates."""
        for day in acct.users.values():
            self.active_by_day[day] += 1
        for name, users in acct.features.items():
            counts = self.feature_by_day.setdefault(name, Counter())
            for day in users.values():
                counts[day] += 1

    def families(self, as_of_day: int) -> list[Family]:
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
