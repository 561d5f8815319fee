"""Voice of the customer: survey answers (NPS, CSAT, CES) of one account and of a partition.

Per account: how many answers of each (survey, score) fell on each day, for the days of
the 90-day window (``VOICE_KEEP_DAYS`` back from the account's latest event day), and
each user's latest NPS and CSAT answer (the health score's sentiment). Per partition:
the same day counts summed over accounts, so ``cs_survey_responses`` is a sum over at
most 90 days, whatever the number of accounts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

from stream_app.contract import SURVEY_RANGES
from stream_app.kpi.families import Family
from stream_app.kpi.group import ReadContext

VOICE_WINDOW_DAYS: Final = 90
WINDOW: Final = f"{VOICE_WINDOW_DAYS}d"
#: one day more than the window: a read as of T keeps its window even when an event up
#: to the future tolerance ahead of T has already moved the account's latest day on
VOICE_KEEP_DAYS: Final = VOICE_WINDOW_DAYS + 1
SURVEYS: Final[tuple[str, ...]] = tuple(SURVEY_RANGES)
SENTIMENT_SURVEYS: Final = ("nps", "csat")

CountKey = tuple[str, int, int]  # (survey, score, day)
Answer = tuple[int, int, int]  # (ts in microseconds, score, day)


@dataclass(slots=True)
class VoiceState:
    counts: dict[CountKey, int] = field(default_factory=dict)
    #: survey ("nps"/"csat") -> user -> the user's latest answer (greatest (ts, score))
    latest: dict[str, dict[str, Answer]] = field(default_factory=dict)

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.counts:
            out["c"] = sorted([s, score, day, n] for (s, score, day), n in self.counts.items())
        if self.latest:
            out["l"] = {
                s: {u: list(a) for u, a in users.items()} for s, users in self.latest.items()
            }
        return out

    @classmethod
    def load(cls, raw: dict[str, Any]) -> VoiceState:
        return cls(
            counts={(s, score, day): n for s, score, day, n in raw.get("c", [])},
            latest={
                s: {u: (a[0], a[1], a[2]) for u, a in users.items()}
                for s, users in raw.get("l", {}).items()
            },
        )


def record_latest(state: VoiceState, survey: str, user: str, answer: Answer, cutoff: int) -> bool:
    """Keep ``answer`` if it is the user's latest NPS/CSAT answer; answers before the day
    ``cutoff`` are forgotten. True when the latest answer changed."""
    if survey not in SENTIMENT_SURVEYS or answer[2] < cutoff:
        return False
    users = state.latest.setdefault(survey, {})
    old = users.get(user)
    if old is not None and old[:2] >= answer[:2]:
        return False
    users[user] = answer
    return True


def prune_latest(state: VoiceState, cutoff: int) -> None:
    for survey in list(state.latest):
        users = state.latest[survey]
        for user in [u for u, a in users.items() if a[2] < cutoff]:
            del users[user]
        if not users:
            del state.latest[survey]


class VoiceAggregates:
    """Answers per (survey, score, day), summed over a partition's accounts."""

    def __init__(self) -> None:
        self.counts: Counter[CountKey] = Counter()

    def add(self, state: VoiceState, survey: str, score: int, day: int, cutoff: int) -> None:
        """Count one answer of the account (ignored before the day ``cutoff``)."""
        if day < cutoff:
            return
        key = (survey, score, day)
        state.counts[key] = state.counts.get(key, 0) + 1
        self.counts[key] += 1

    def prune(self, state: VoiceState, cutoff: int) -> None:
        """Forget the account's answers before the day ``cutoff``."""
        old = [k for k in state.counts if k[2] < cutoff]
        for key in old:
            n = state.counts.pop(key)
            left = self.counts[key] - n
            if left:
                self.counts[key] = left
            else:
                del self.counts[key]

    def attach(self, state: VoiceState) -> None:
        self.counts.update(state.counts)

    def family(self, ctx: ReadContext) -> Family:
        last = ctx.as_of_day
        first = ctx.first_day(VOICE_WINDOW_DAYS)
        totals: Counter[tuple[str, int]] = Counter()
        for (survey, score, day), n in self.counts.items():
            if first <= day <= last:
                totals[survey, score] += n
        fam = Family(
            "cs_survey_responses",
            "gauge",
            "Accepted survey answers in the window, by survey and score "
            "(NPS, CSAT and CES are recording rules over it).",
        )
        for survey in SURVEYS:
            low, high = SURVEY_RANGES[survey]
            for score in range(low, high + 1):
                fam.add(totals[survey, score], survey=survey, score=str(score), window=WINDOW)
        return fam


def describe_surveys(state: VoiceState, ctx: ReadContext) -> dict[str, Any]:
    """The account's survey KPIs over the 90-day window (same definitions as the rules)."""
    last = ctx.as_of_day
    first = ctx.first_day(VOICE_WINDOW_DAYS)
    scores: dict[str, Counter[int]] = {s: Counter() for s in SURVEYS}
    for (survey, score, day), n in state.counts.items():
        if first <= day <= last:
            scores[survey][score] += n
    out: dict[str, Any] = {"window": WINDOW}
    for survey, dist in scores.items():
        n = sum(dist.values())
        entry: dict[str, Any] = {"responses": n}
        if n:
            if survey == "nps":
                promoters = sum(c for s, c in dist.items() if s >= 9)
                detractors = sum(c for s, c in dist.items() if s <= 6)
                entry["nps"] = round(100.0 * (promoters - detractors) / n, 1)
            elif survey == "csat":
                entry["satisfied_share"] = round(sum(c for s, c in dist.items() if s >= 4) / n, 3)
            else:
                entry["mean"] = round(sum(s * c for s, c in dist.items()) / n, 2)
        out[survey] = entry
    return out
