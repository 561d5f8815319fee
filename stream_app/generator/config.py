"""Configuration and product catalogue of the simulated SaaS company."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

#: Feature catalogue, most popular first (popularity follows a Zipf-like curve).
FEATURES: tuple[str, ...] = (
    "dashboards",
    "reports",
    "search",
    "export_csv",
    "alerts",
    "integrations_slack",
    "workflows",
    "api",
    "mobile_app",
    "integrations_salesforce",
    "sso",
    "audit_log",
)

#: Product milestones, in the order users reach them: activation, first value, proficiency.
MILESTONES: tuple[str, ...] = ("activated", "first_value", "proficient")


@dataclass(frozen=True, slots=True)
class Plan:
    """A price-list entry; ``mrr`` is the monthly price in cents."""

    name: str
    mrr: int


PLANS: tuple[Plan, ...] = (Plan("starter", 4_900), Plan("pro", 19_900), Plan("business", 79_900))
CURRENCY = "USD"
TRIAL_DAYS = 14


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that shapes the simulated company; the same config gives the same events.

    ``end`` must be timezone-aware; ``None`` means "now, truncated to the second" and is
    resolved once by :meth:`resolved` (pass an explicit ``end`` to get reproducible output
    and to pair :func:`generate_history` with a :class:`LiveSimulation`).
    """

    seed: int = 42
    accounts: int = 200
    end: datetime | None = None
    days: int = 30
    users_per_account: tuple[int, int] = (1, 12)
    churn_spike_at: datetime | None = None
    churn_spike_hours: float = 1.0
    churn_spike_share: float = 0.25
    duplicate_ratio: float = 0.0
    invalid_ratio: float = 0.0
    #: share of web events delivered late: moved later in the stream, ``ts`` unchanged
    web_late_ratio: float = 0.0
    #: in-app web visits relative to the default, where a customer's user browses the app's
    #: pages on a tenth of the weekdays (3 % of weekend days) its product-use propensity
    #: gives; 10 makes it every day it would use the product
    web_app_visits: float = 1.0
    #: mean page views per visit (marketing site and app alike, at most 12); ``None`` keeps
    #: the default: 2.5 in the app, 2 on the marketing site
    web_pages_per_visit: float | None = None
    features: tuple[str, ...] = FEATURES
    milestones: tuple[str, ...] = MILESTONES

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.accounts < 1:
            problems.append("accounts must be >= 1")
        if self.days < 1:
            problems.append("days must be >= 1")
        low, high = self.users_per_account
        if not 1 <= low <= high:
            problems.append("users_per_account must be (low, high) with 1 <= low <= high")
        for name in ("end", "churn_spike_at"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                problems.append(f"{name} must be timezone-aware")
        if self.churn_spike_hours <= 0:
            problems.append("churn_spike_hours must be > 0")
        for name in ("churn_spike_share", "duplicate_ratio", "invalid_ratio", "web_late_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be within [0, 1]")
        if self.web_app_visits < 0:
            problems.append("web_app_visits must be >= 0")
        pages = self.web_pages_per_visit
        if pages is not None and not 1.0 <= pages <= 12.0:
            problems.append("web_pages_per_visit must be within [1, 12]")
        if not self.features or any(not 1 <= len(f) <= 64 for f in self.features):
            problems.append("features must be 1-64 character names (at least one)")
        if len(self.milestones) != 3 or any(not 1 <= len(m) <= 64 for m in self.milestones):
            problems.append("milestones must be three 1-64 character names")
        if problems:
            raise ValueError("; ".join(problems))

    def resolved(self) -> GeneratorConfig:
        """This config with ``end`` fixed (now, truncated to the second, when unset)."""
        if self.end is not None:
            return self
        return replace(self, end=datetime.now(UTC).replace(microsecond=0))

    def window(self) -> tuple[datetime, datetime]:
        """The history window ``(end - days, end)``; ``end`` resolved if unset."""
        end = self.resolved().end
        assert end is not None
        return end - timedelta(days=self.days), end
