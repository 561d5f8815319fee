"""Scheduled account events (sign-ups, milestones, ticket resolutions, follow-up surveys)
and the support desk: tickets and the CSAT/CES surveys that follow them."""

from __future__ import annotations

import heapq
from random import Random

from stream_app.generator.accounts import TRIAL, Account, work_time
from stream_app.generator.clock import US_PER_SEC, UTC_TZ, new_id
from stream_app.generator.sink import DaySink

CHANNELS = ("email", "chat", "web", "phone", "social", "other")
_CHANNEL_WEIGHTS = (38, 30, 14, 9, 5, 4)
#: median minutes to resolution per channel (the spread is log-normal)
_RESOLVE_MINUTES = {"email": 360, "chat": 25, "web": 480, "phone": 12, "social": 180, "other": 720}
#: share of tickets resolved in a single contact per channel
_SETTLE = 30 * 60 * US_PER_SEC  # no ticket in the first half hour after signing up
_ONE_TOUCH = {"email": 0.6, "chat": 0.8, "web": 0.6, "phone": 0.8, "social": 0.55, "other": 0.5}


def pending_day(acct: Account, rng: Random, sink: DaySink, active: bool) -> None:
    """Emit the account's scheduled events that fall in the sink's day; sign-ups and
    milestones only while the account is a customer (``active``)."""
    heap = acct.pending
    day_start, day_end = sink.day_start, sink.day_end
    while heap and heap[0][0] < day_end:
        ts, _, kind, j, text, num = heapq.heappop(heap)
        if ts < day_start:
            continue
        user = acct.users[j]
        base: dict[str, object] = {"event_id": new_id(rng), "type": "", "ts": ""}
        base["account_id"] = acct.account_id
        if kind == "signup":
            if not active:
                continue  # the invitation lapsed with the subscription
            acct.join(j)
            base["type"] = "user_signed_up"
            base["user_id"] = user.user_id
            base["account_name"] = acct.name
            sink.add(ts, base, acct.sdk_tz)
        elif kind == "milestone":
            if not user.joined or not active:
                continue
            base["type"] = "milestone_reached"
            base["user_id"] = user.user_id
            base["milestone"] = text
            sink.add(ts, base, acct.sdk_tz)
        elif kind == "resolved":
            base["type"] = "ticket_resolved"
            base["ticket_id"] = text
            base["contacts"] = num
            sink.add(ts, base, UTC_TZ)
        else:  # a follow-up survey
            base["type"] = "survey_answered"
            base["user_id"] = user.user_id
            base["survey"] = text
            base["score"] = num
            sink.add(ts, base, acct.sdk_tz)


def support_day(
    acct: Account, rng: Random, sink: DaySink, weekday_factor: float, active: bool
) -> None:
    """Open the day's tickets (customers only) and schedule their resolution and surveys."""
    if not active:
        return
    members = acct.members
    if not members:
        return
    rate = 0.012 * len(members) * weekday_factor * (1.6 - acct.health)
    if acct.status == TRIAL:
        rate *= 1.3
    count = 0
    while count < 4 and rng.random() < rate / (count + 1):
        count += 1
    for _ in range(count):
        ts = max(work_time(rng, sink.day_start, acct.local_off_us), acct.signup_us + _SETTLE)
        channel = rng.choices(CHANNELS, _CHANNEL_WEIGHTS)[0]
        acct.tickets += 1
        ticket_id = f"tkt_{acct.account_id[4:]}_{acct.tickets:05d}"
        sink.add(
            ts,
            {
                "event_id": new_id(rng),
                "type": "ticket_opened",
                "ts": "",
                "account_id": acct.account_id,
                "ticket_id": ticket_id,
                "channel": channel,
            },
        )
        contacts = 1
        if rng.random() >= _ONE_TOUCH[channel]:
            contacts = rng.choices((2, 3, 4, 5, 6), (60, 25, 8, 5, 2))[0]
        minutes = _RESOLVE_MINUTES[channel] * rng.lognormvariate(0.0, 1.1) * (0.7 + 0.3 * contacts)
        resolved = ts + int((minutes + 1.0) * 60 * US_PER_SEC)
        acct.schedule(resolved, "resolved", 0, ticket_id, contacts)
        roll = rng.random()
        if roll < 0.5:
            survey = "csat" if roll < 0.33 else "ces"
            scorer = csat_score if survey == "csat" else ces_score
            answered = resolved + int(rng.uniform(2, 180) * 60 * US_PER_SEC)
            who = rng.choice(members)
            acct.schedule(answered, "survey", who, survey, scorer(rng, acct.health, contacts))


def nps_score(rng: Random, health: float) -> int:
    """0-10, skewed positive: about 45 % promoters and 15 % detractors on average."""
    promoter, detractor = 0.2 + 0.4 * health, 0.3 - 0.25 * health
    roll = rng.random()
    if roll < promoter:
        return 10 if rng.random() < 0.45 else 9
    if roll < promoter + detractor:
        return rng.choices(range(7), (1, 1, 2, 3, 4, 7, 9))[0]
    return 8 if rng.random() < 0.55 else 7


def csat_score(rng: Random, health: float, contacts: int) -> int:
    """1-5; roughly 75-85 % answer 4 or 5, fewer when the ticket took several contacts."""
    if rng.random() < 0.68 + 0.3 * health - 0.07 * (contacts - 1):
        return 5 if rng.random() < 0.55 else 4
    return rng.choices((1, 2, 3), (2, 2, 5))[0]


def ces_score(rng: Random, health: float, contacts: int) -> int:
    """1-7, lower is better; mostly 1-3."""
    if rng.random() < 0.5 + 0.35 * health - 0.08 * (contacts - 1):
        return rng.choices((1, 2, 3), (4, 4, 2))[0]
    return rng.choices((4, 5, 6, 7), (4, 3, 2, 1))[0]
