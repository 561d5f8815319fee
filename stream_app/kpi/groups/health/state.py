"""Per-account state of the health group (voice, support, health score), and the facts read from it.

Everything is kept relative to the account's latest event day L (any type): product
activity per user (all users, for the share of active users) and per feature (31 days),
the users' latest NPS/CSAT answers (``CS_HEALTH_SENTIMENT_DAYS`` + 1), survey counts
(91 days), tickets (``CS_TICKET_RETENTION_DAYS``), failed payments (31 days) and the
subscription timeline (31 days plus the latest older entry, the predecessor of the
oldest kept one). An event older than its part's horizon is not kept, and a part is
pruned when L moves on, so the state is a function of the *set* of events applied,
whatever their arrival order: dump -> load gives the very same state.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field
from sys import intern
from typing import Any, Final

from stream_app.kpi.groups.health.support import Ticket, dump_tickets, load_tickets
from stream_app.kpi.groups.health.voice import VoiceState
from stream_app.kpi.shared import shared_int

RISK_WINDOW_DAYS: Final = 30  # features, failed payments, contractions, cancellations, slow tickets
KEEP_DAYS: Final = RISK_WINDOW_DAYS + 1  # one day of margin (see voice.VOICE_KEEP_DAYS)

#: subscription kinds, in their order among events with the same ts
SUB_KIND: Final = {
    "subscription_started": "s",
    "subscription_changed": "c",
    "subscription_renewed": "r",
    "subscription_cancelled": "x",
}
Sub = tuple[int, int, str, int, str]  # (ts in microseconds, day, kind, mrr, currency)


@dataclass(slots=True)
class HealthState:
    last: int | None = None  # L: the account's latest event day
    users: dict[str, int] = field(default_factory=dict)  # user -> last active day
    active: int | None = None  # the latest of ``users``' days (not persisted: derived)
    features: dict[str, int] = field(default_factory=dict)  # feature -> last day used
    voice: VoiceState = field(default_factory=VoiceState)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    subs: list[Sub] = field(default_factory=list)  # sorted
    failed: list[int] = field(default_factory=list)  # days of failed payments, sorted
    band: str | None = None  # as of L, after the last event applied
    #: (day, until, band as of day): the band holds on days day..until-1 unless an event
    #: comes; not persisted (derived). Only the band: the whole health (score, components,
    #: facts) is ~700 B an account, and reads of the band are what repeats
    cache: tuple[int, int, str | None] | None = None

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"l": self.last}
        if self.users:
            out["u"] = self.users
        if self.features:
            out["f"] = self.features
        voice = self.voice.dump()
        if voice:
            out["v"] = voice
        if self.tickets:
            out["t"] = dump_tickets(self.tickets)
        if self.subs:
            out["s"] = [list(s) for s in self.subs]
        if self.failed:
            out["p"] = self.failed
        if self.band is not None:
            out["b"] = self.band
        return out

    @classmethod
    def load(cls, raw: dict[str, Any]) -> HealthState:
        users = dict(raw.get("u", {}))
        return cls(
            last=raw.get("l"),
            users=users,
            active=max(users.values()) if users else None,
            features=dict(raw.get("f", {})),
            voice=VoiceState.load(raw.get("v", {})),
            tickets=load_tickets(raw.get("t", {})),
            subs=[(s[0], s[1], s[2], s[3], s[4]) for s in raw.get("s", [])],
            failed=list(raw.get("p", [])),
            band=raw.get("b"),
        )


def record_activity(
    state: HealthState, user: str, feature: str | None, day: int
) -> tuple[bool, int | None]:
    """A product event of ``user`` (``feature`` for ``feature_used``).

    Returns (changed, moved): ``changed`` when the facts as of L may have changed (a new
    user, a user or feature entering the 30-day window ending on L, a new latest
    activity day; most events of a busy day change none), else ``moved``: the earliest
    former day of a user or feature that moved to a later day while counted in that
    window (the facts of later days change from that day + 30 on), or None.
    """
    assert state.last is not None
    first = state.last - RISK_WINDOW_DAYS + 1
    changed = False
    moved: int | None = None
    old = state.users.get(user)
    if old is None or day > old:
        state.users[user] = shared_int(day)
        if old is None or old < first <= day:
            changed = True
        elif old >= first:
            moved = old
        if state.active is None or day > state.active:
            state.active = day
            changed = True
    if feature is not None and day >= first - 1:
        old = state.features.get(feature)
        if old is None or day > old:
            # one copy of a feature name for all accounts (each event brings its own)
            state.features[intern(feature) if old is None else feature] = day
            if old is None or old < first <= day:
                changed = True
            elif old >= first:
                moved = old if moved is None else min(moved, old)
    return changed, moved


def record_subscription(state: HealthState, sub: Sub) -> None:
    insort(state.subs, sub)
    if state.last is not None:
        prune_subs(state, state.last - RISK_WINDOW_DAYS)


def record_failed_payment(state: HealthState, day: int) -> bool:
    if state.last is not None and day < state.last - RISK_WINDOW_DAYS:
        return False
    insort(state.failed, day)
    return True


def prune_subs(state: HealthState, cutoff: int) -> None:
    """Keep the entries on or after ``cutoff`` and the latest one before it."""
    subs = state.subs
    older = 0
    while older < len(subs) and subs[older][1] < cutoff:
        older += 1
    if older > 1:
        del subs[: older - 1]


def prune_activity(state: HealthState, cutoff: int) -> None:
    """Forget features and failed payments before ``cutoff``, and older subscriptions."""
    for name in [f for f, d in state.features.items() if d < cutoff]:
        del state.features[name]
    if state.failed and state.failed[0] < cutoff:
        state.failed = [d for d in state.failed if d >= cutoff]
    prune_subs(state, cutoff)


def billing_days(subs: list[Sub], first: int, last: int) -> tuple[list[int], list[int], bool]:
    """(days of the contractions, days of the cancellations on days ``first..last``,
    churned = the latest subscription event is a cancellation)."""
    contractions: list[int] = []
    cancellations: list[int] = []
    previous: Sub | None = None
    for sub in subs:
        if first <= sub[1] <= last:
            if sub[2] == "x":
                cancellations.append(sub[1])
            elif (
                sub[2] in ("c", "r")
                and previous is not None
                and previous[2] != "x"
                and previous[4] == sub[4]
                and sub[3] < previous[3]
            ):
                contractions.append(sub[1])
        previous = sub
    churned = bool(subs) and subs[-1][2] == "x"
    return contractions, cancellations, churned
