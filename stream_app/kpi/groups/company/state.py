"""Per-source state of the company group: day counts of the last ``KEEP_DAYS`` days.

A source is the company topic's key (a spend source such as ``google-ads``, a network such
as ``linkedin``, a team or survey programme). Its state holds, per calendar day of event
time, the spend in minor units per (category, currency), the social interactions per
(interaction, sentiment) and the employee survey answers per (survey, score). Days more
than ``KEEP_DAYS`` before the source's latest event day are dropped (an event that old is
ignored on arrival), so the state is the same function of the set of events in any arrival
order and answers every read within the 90-day window of its latest day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

#: the longest window (90 days) plus one day: a read as of T keeps its window even when an
#: event up to the future tolerance ahead of T has already moved the latest day on
KEEP_DAYS = 91
NO_DAY = -(2**31)

SpendKey = tuple[str, str, int]  # (category, currency, day)
SocialKey = tuple[str, str, int]  # (interaction, sentiment, day)
SurveyKey = tuple[str, int, int]  # (survey, score, day)
K = TypeVar("K", SpendKey, SurveyKey)


@dataclass(slots=True)
class CompanyState:
    latest: int = NO_DAY  # the latest event day of the source
    spend: dict[SpendKey, int] = field(default_factory=dict)
    social: dict[SocialKey, int] = field(default_factory=dict)
    surveys: dict[SurveyKey, int] = field(default_factory=dict)

    def admit_day(self, day: int) -> bool:
        """Move the latest day on to ``day`` (pruning older days); False when ``day`` is
        too old to keep."""
        if day > self.latest:
            self.latest = day
            cut = day - KEEP_DAYS
            _prune(self.spend, cut)
            _prune(self.social, cut)
            _prune(self.surveys, cut)
        return day >= self.latest - KEEP_DAYS


def _prune(counts: dict[K, int], cut: int) -> None:
    """Drop the entries of days before ``cut`` (the day is a key's last item)."""
    for key in [k for k in counts if k[2] < cut]:
        del counts[key]


def dump_state(state: CompanyState) -> dict[str, Any]:
    """Compact JSON-able form: sorted ``[a, b, day, n]`` lists (empty parts omitted)."""
    out: dict[str, Any] = {"l": state.latest}
    for name, counts in (("m", state.spend), ("s", state.social), ("e", state.surveys)):
        if counts:
            out[name] = sorted([a, b, day, n] for (a, b, day), n in counts.items())
    return out


def load_state(raw: dict[str, Any]) -> CompanyState:
    """Inverse of :func:`dump_state`."""
    return CompanyState(
        latest=int(raw.get("l", NO_DAY)),
        spend={(str(a), str(b), int(d)): int(n) for a, b, d, n in raw.get("m", [])},
        social={(str(a), str(b), int(d)): int(n) for a, b, d, n in raw.get("s", [])},
        surveys={(str(a), int(b), int(d)): int(n) for a, b, d, n in raw.get("e", [])},
    )
