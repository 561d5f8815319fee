"""Per-account state of the onboarding group and the pure helpers around it.

Active days are a bit set relative to the account's latest active day ``last`` (bit k =
day ``last - k``), kept for the 37 days ``last - 36 .. last``: enough for the adoption
window (30 days) and for a first week that ended within it (signup day >= T's day - 36)
whenever T's day >= ``last``. Times are integer epoch microseconds, so that every value
is exact and sums do not depend on how accounts are grouped or ordered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from stream_app.kpi.families import Family, add_gauge_histogram
from stream_app.timeutil import from_us

WINDOW_DAYS: Final = 30  # the cohort, adoption and referral window
WEEK_DAYS: Final = 7  # an account's first week: its signup day and the 6 days after it
KEPT_DAYS: Final = WINDOW_DAYS + WEEK_DAYS  # active days kept per account (bits of ``mask``)
LOW_BITS: Final = tuple((1 << n) - 1 for n in range(KEPT_DAYS + 1))  # the n lowest bits set
ALL_KEPT: Final = LOW_BITS[KEPT_DAYS]
WINDOW_BITS: Final = LOW_BITS[WINDOW_DAYS]
WEEK_BUCKETS: Final = tuple(float(n) for n in range(WEEK_DAYS + 1))  # le = 0 .. 7 active days
US_PER_S: Final = 1_000_000


@dataclass(slots=True)
class OnboardingState:
    signup: int | None = None  # earliest user_signed_up ts (epoch microseconds)
    signup_day: int | None = None  # its calendar day
    reached: dict[str, int] = field(default_factory=dict)  # milestone -> earliest ts (us)
    activated: int | None = None  # derived: when the last activation milestone was reached
    last: int | None = None  # latest active day
    mask: int = 0  # bit k set: active on day ``last - k`` (k < KEPT_DAYS)
    referrers: dict[str, int] = field(default_factory=dict)  # user -> latest referral day


def active_days(state: OnboardingState, first: int, last: int) -> int:
    """Days in ``first .. last`` (inclusive) on which the account was active (of the days
    kept: those older than ``state.last - 36`` are no longer known)."""
    top = state.last
    if top is None:
        return 0
    last = min(last, top)
    if last < first:
        return 0
    return ((state.mask >> (top - last)) & ((1 << (last - first + 1)) - 1)).bit_count()


def iso(us: int | None) -> str | None:
    return None if us is None else from_us(us).isoformat()


def whole_seconds(us: int) -> int:
    """A duration in whole seconds (truncated; 0 when negative): integer values keep the
    histogram sums exact however accounts are split across partitions."""
    return max(0, us) // US_PER_S


def gauge(name: str, help_: str, value: float, window: str | None = None) -> Family:
    fam = Family(name, "gauge", help_)
    if window is None:
        fam.add(value)
    else:
        fam.add(value, window=window)
    return fam


def histogram(name: str, help_: str, bounds: tuple[float, ...], values: list[Any]) -> Family:
    fam = Family(name, "gaugehistogram", help_)
    add_gauge_histogram(fam, bounds, values)
    return fam
