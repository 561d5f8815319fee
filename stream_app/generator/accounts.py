"""Accounts and users of the simulated company: who they are and their state at the start."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime
from random import Random
from statistics import NormalDist

from stream_app.generator.clock import (
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_SEC,
    UTC_TZ,
    Tz,
    add_months,
    derived_rng,
    make_tz,
)
from stream_app.generator.config import PLANS, TRIAL_DAYS, GeneratorConfig
from stream_app.timeutil import from_us, to_us

PROSPECT, TRIAL, PAYING, PAST_DUE, CANCELLED, EXPIRED = (
    "prospect",
    "trial",
    "paying",
    "past_due",
    "cancelled",
    "expired",
)
#: statuses in which the account's users use the product
ACTIVE = frozenset({TRIAL, PAYING, PAST_DUE})

#: share of the accounts that signed up before the history window
PRE_EXISTING_SHARE = 0.7
#: UTC offsets (minutes) of the customers' home time zones, and how common they are
_OFFSETS = (0, 60, 120, -300, -480, 330)
_OFFSET_WEIGHTS = (0.40, 0.22, 0.10, 0.17, 0.07, 0.04)

#: a scheduled event: (ts_us, tie-breaker, kind, user index, text, number)
Pending = tuple[int, int, str, int, str, int]


@dataclass(slots=True, eq=False)
class User:
    user_id: str
    joined_us: int
    propensity: float  # probability of using the product on a weekday
    features: list[str]  # the features this user has adopted
    cuts: list[float]  # cumulative popularity of ``features``; the last one is +inf
    total: float  # the actual popularity total
    joined: bool = False
    onboarding_until_us: int = 0  # first week after joining: more active


@dataclass(slots=True, eq=False)
class Account:
    idx: int
    account_id: str
    health: float  # 0..1, drives engagement, conversion, churn and satisfaction
    local_off_us: int  # home time zone, for working hours
    sdk_tz: Tz  # offset written in product/feedback timestamps
    rng: Random  # the account's lifecycle (billing) stream
    support_rng: Random  # its support desk and scheduled events
    signup_us: int
    users: list[User] = field(default_factory=list)
    members: list[int] = field(default_factory=list)  # indices of the users who joined
    churn_base: float = 0.0  # monthly cancellation probability before the plan factor
    status: str = PROSPECT
    convert_us: int | None = None
    trial_end_us: int = 0
    plan: int = 0
    anchor: datetime | None = None
    months: int = 0
    next_renewal_us: int = 0
    retry_us: int = 0
    attempts: int = 0
    spike_cancel_us: int | None = None
    pending: list[Pending] = field(default_factory=list)
    pending_n: int = 0
    tickets: int = 0
    name: str = ""  # the account's name, sent as ``account_name`` (signups, subscriptions)

    def schedule(self, ts_us: int, kind: str, user: int = 0, text: str = "", num: int = 0) -> None:
        heapq.heappush(self.pending, (ts_us, self.pending_n, kind, user, text, num))
        self.pending_n += 1

    def join(self, j: int) -> None:
        """User ``j`` has signed up."""
        self.users[j].joined = True
        self.members.append(j)

    def set_anchor(self, start_us: int, not_before_us: int) -> None:
        """Start a billing cycle at ``start_us``; the next renewal is the first after the bound."""
        anchor = self.anchor = from_us(start_us)
        bound = from_us(not_before_us)
        self.months = max(1, (bound.year - anchor.year) * 12 + bound.month - anchor.month - 1)
        self.next_renewal_us = to_us(add_months(anchor, self.months))
        while self.next_renewal_us < not_before_us:
            self.months += 1
            self.next_renewal_us = to_us(add_months(anchor, self.months))


def _daytime_quantiles(count: int) -> tuple[int, ...]:
    usage = NormalDist(13.5 * US_PER_HOUR, 3.0 * US_PER_HOUR)
    return tuple(int(usage.inv_cdf((i + 0.5) / count)) for i in range(count))


#: quantiles of the local time of day at which people work (normal around 13:30, sd 3 h);
#: a table lookup plus jitter is several times cheaper than ``Random.gauss``
DAYTIME = _daytime_quantiles(4096)
DAYTIME_JITTER = 8 * US_PER_SEC


def work_time(rng: Random, day_start_us: int, local_off_us: int) -> int:
    """A moment of the UTC day starting at ``day_start_us``, clustered on local office hours."""
    local = DAYTIME[int(rng.random() * 4096)] + int(rng.random() * DAYTIME_JITTER)
    return day_start_us + (local - local_off_us) % US_PER_DAY


def choose_plan(rng: Random, n_users: int) -> int:
    """Index into :data:`PLANS`; bigger teams buy bigger plans."""
    if n_users >= 8:
        weights = (0.25, 0.45, 0.30)
    elif n_users >= 4:
        weights = (0.45, 0.45, 0.10)
    else:
        weights = (0.72, 0.25, 0.03)
    return rng.choices(range(len(PLANS)), weights)[0]


_NAME_FIRST = (
    "Acme",
    "Blue",
    "Bright",
    "Cedar",
    "Delta",
    "Echo",
    "Fable",
    "Granite",
    "Harbor",
    "Iron",
    "Juniper",
    "Kite",
    "Lumen",
    "Maple",
    "North",
    "Orbit",
    "Pine",
    "Quartz",
    "River",
    "Summit",
    "Tidal",
    "Umber",
    "Vertex",
    "Willow",
)
_NAME_SECOND = (
    "Analytics",
    "Bakery",
    "Cloud",
    "Dental",
    "Energy",
    "Freight",
    "Foods",
    "Health",
    "Labs",
    "Legal",
    "Logistics",
    "Media",
    "Motors",
    "Robotics",
    "Software",
    "Studios",
    "Systems",
    "Textiles",
    "Travel",
    "Ventures",
)
_NAME_SUFFIX = ("Inc", "Ltd", "GmbH", "SAS", "LLC", "BV", "AB", "Co")


def company_name(account_id: str) -> str:
    """A readable, deterministic company name for an account id (no random draw, so
    every other stream of the simulation stays as it was)."""
    n = int.from_bytes(account_id.encode(), "big") * 2654435761 >> 7
    first = _NAME_FIRST[n % len(_NAME_FIRST)]
    n //= len(_NAME_FIRST)
    second = _NAME_SECOND[n % len(_NAME_SECOND)]
    n //= len(_NAME_SECOND)
    return f"{first} {second} {_NAME_SUFFIX[n % len(_NAME_SUFFIX)]}"


def make_account(cfg: GeneratorConfig, idx: int, start_us: int, end_us: int) -> Account:
    """Account ``idx`` with its users and its state at ``start_us`` (the window start)."""
    rng = derived_rng(cfg.seed, "account", idx)
    account_id = f"acc_{rng.getrandbits(40):010x}"
    health = rng.betavariate(4.0, 2.5)
    offset = rng.choices(_OFFSETS, _OFFSET_WEIGHTS)[0]
    local_off_us = offset * 60 * US_PER_SEC
    sdk_tz = make_tz(offset) if offset != 0 and rng.random() < 0.3 else UTC_TZ
    if rng.random() < PRE_EXISTING_SHARE:
        if rng.random() < 0.08:
            age_days = rng.uniform(0.5, TRIAL_DAYS)
        else:
            age_days = TRIAL_DAYS + min(rng.expovariate(1 / 300), 1500.0)
        signup_us = start_us - int(age_days * US_PER_DAY)
    else:
        signup_us = start_us + int(rng.random() * (end_us - start_us))
        in_hours = work_time(rng, signup_us - signup_us % US_PER_DAY, local_off_us)
        if start_us <= in_hours <= end_us:
            signup_us = in_hours
    support_rng = derived_rng(cfg.seed, "support", idx)
    acct = Account(idx, account_id, health, local_off_us, sdk_tz, rng, support_rng, signup_us)
    acct.name = company_name(account_id)
    acct.churn_base = 0.015 + 0.085 * (1.0 - health) ** 1.5
    _make_users(cfg, acct, start_us)
    _init_billing(acct, start_us)
    return acct


def _make_users(cfg: GeneratorConfig, acct: Account, start_us: int) -> None:
    rng, health = acct.rng, acct.health
    rand = rng.random
    low, high = cfg.users_per_account
    n_users = min(high, low + int((high - low + 1) * rng.betavariate(1.3, 2.6)))
    features = cfg.features
    # the r-th most popular feature: adopted by 92 % x 0.78^r of users, used ~ 1/(r+1)^0.8
    factor = 0.8 + 0.4 * health
    adoption = [min(0.98, 0.92 * 0.78**rank * factor) for rank in range(len(features))]
    popularity = [1.0 / (rank + 1) ** 0.8 for rank in range(len(features))]
    stage_chance = (0.6 + 0.35 * health, 0.55 + 0.35 * health, 0.25 + 0.35 * health)
    for j in range(n_users):
        joined = acct.signup_us
        if j:  # invited colleagues join over the following weeks
            joined += int(rng.expovariate(1 / 15) * US_PER_DAY) + 10 * 60 * US_PER_SEC
        segment = rand()
        if segment < 0.2:  # dormant seat
            propensity = rng.uniform(0.005, 0.04)
        elif segment < 0.7:  # casual user
            propensity = rng.uniform(0.08, 0.35)
        else:  # power user
            propensity = rng.uniform(0.45, 0.85)
        propensity = min(0.95, propensity * (0.7 + 0.5 * health))
        adopted: list[str] = []
        cuts: list[float] = []
        total = 0.0
        for rank, name in enumerate(features):
            if rand() < adoption[rank]:
                total += popularity[rank]
                adopted.append(name)
                cuts.append(total)
        if not adopted:
            adopted, cuts, total = [features[0]], [1.0], 1.0
        cuts[-1] = float("inf")  # so that bisect never falls off the end
        user = User(f"usr_{rng.getrandbits(48):012x}", joined, propensity, adopted, cuts, total)
        user.onboarding_until_us = joined + 7 * US_PER_DAY
        acct.users.append(user)
        if joined >= start_us:
            acct.schedule(joined, "signup", j)
        else:
            acct.join(j)
        # milestones: activation hours after sign-up, first value days later, proficiency
        # weeks later; each stage reached with a chance, the rest never
        moment = joined
        for stage, name in enumerate(cfg.milestones):
            if rand() >= stage_chance[stage]:
                break
            if stage == 0:
                moment += int((rng.expovariate(1 / 18) + 0.1) * US_PER_HOUR)
            elif stage == 1:
                moment += int(rng.expovariate(1 / 2.5) * US_PER_DAY)
            else:
                moment += int(rng.uniform(10, 50) * US_PER_DAY)
            if moment >= start_us:
                acct.schedule(moment, "milestone", j, name)


def _init_billing(acct: Account, start_us: int) -> None:
    rng = acct.rng
    acct.trial_end_us = acct.signup_us + TRIAL_DAYS * US_PER_DAY
    established = acct.trial_end_us <= start_us
    chance = 0.88 if established else 0.15 + 0.55 * acct.health
    if rng.random() < chance:
        acct.convert_us = acct.signup_us + int(rng.uniform(0.5, TRIAL_DAYS - 0.1) * US_PER_DAY)
    acct.plan = choose_plan(rng, len(acct.users))
    if acct.signup_us >= start_us:
        return  # signs up inside the window: PROSPECT until then
    if acct.convert_us is not None and acct.convert_us < start_us:
        if rng.random() < 0.15 and acct.plan < len(PLANS) - 1:
            acct.plan += 1
        if established and rng.random() < 0.1 * (1.5 - acct.health):
            acct.status = CANCELLED
        else:
            acct.status = PAYING
            acct.set_anchor(acct.convert_us, start_us)
    elif acct.convert_us is None and established:
        acct.status = EXPIRED
    else:
        acct.status = TRIAL
