"""A user's (or an account's) activity in one int: recent days, recent weeks, signup week.

One Python int per user keeps the state small (about 36 bytes, against a dict of days):

====================  =====================================================================
bits 0-31             active days: bit i set = active on ``last - i`` (``last`` below)
bits 32-47            active weeks: bit j set = active in the week ``week_of(last) - j``
bits 48-63            signup week + 1 (0 = no ``user_signed_up`` seen)
bits 64 and up        ``last``: the latest active day
====================  =====================================================================

A late event sets exactly the bit of its own day and week, as long as it is at most 31
days (15 weeks) older than the latest one: older activity can no longer be in a window
that is read (the 30 complete days before T's day, the 12 latest signup weeks), because T
is never before the latest event. Weeks start on Monday: ``week_of`` counts them from
Monday 1969-12-29 (day -3), so a week's number is the same in every timezone and its
Monday is the calendar day ``week_start(week)`` of that timezone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

DAY_BITS: Final = 32
WEEK_BITS: Final = 16
_DAY_MASK: Final = (1 << DAY_BITS) - 1
_WEEK_SHIFT: Final = DAY_BITS
_WEEK_MASK: Final = (1 << WEEK_BITS) - 1
_SIGNUP_SHIFT: Final = _WEEK_SHIFT + WEEK_BITS
_SIGNUP_MASK: Final = (1 << 16) - 1
_LAST_SHIFT: Final = _SIGNUP_SHIFT + 16
#: ``p >> LAST_SHIFT`` is the latest active day
LAST_SHIFT: Final = _LAST_SHIFT
_FIRST_BITS: Final = (1 << _WEEK_SHIFT) | 1  # the first day's and the first week's bit
#: weeks after the signup week a cohort is followed for (week 1 ... week 11)
RETENTION_WEEKS: Final = 11


def split(p: int) -> list[int]:
    """``p`` as two JSON-safe ints (its latest day, and the bits below it)."""
    return [p >> _LAST_SHIFT, p & ((1 << _LAST_SHIFT) - 1)]


def join(pair: list[int]) -> int:
    """Inverse of :func:`split`."""
    return (pair[0] << _LAST_SHIFT) | pair[1]


def week_of(day: int) -> int:
    """The Monday-based week of a calendar day (days since 1970-01-01)."""
    return (day + 3) // 7


def week_start(week: int) -> int:
    """The calendar day of the Monday that starts ``week``."""
    return 7 * week - 3


def pack(last: int, days: int, weeks: int, signup: int | None) -> int:
    """The int of a last active day, its day and week bits and a signup week."""
    stored = 0 if signup is None else signup + 1
    return (
        (last << _LAST_SHIFT)
        | (stored << _SIGNUP_SHIFT)
        | ((weeks & _WEEK_MASK) << _WEEK_SHIFT)
        | (days & _DAY_MASK)
    )


def last_day(p: int) -> int:
    """The latest active day."""
    return p >> _LAST_SHIFT


def signup_week(p: int) -> int | None:
    """The signup week (the cohort), None before a ``user_signed_up``."""
    stored = (p >> _SIGNUP_SHIFT) & _SIGNUP_MASK
    return stored - 1 if stored else None


def first_seen(day: int) -> int:
    """The int of someone seen for the first time on ``day``."""
    return pack(day, 1, 1, None)


def active_on(p: int, day: int) -> bool:
    """Whether ``day`` is marked (False too when it is too old to be kept)."""
    off = (p >> _LAST_SHIFT) - day
    return 0 <= off < DAY_BITS and bool((p >> off) & 1)


def active_in_week(p: int, week: int) -> bool:
    """Whether ``week`` is marked (False too when it is too old to be kept)."""
    off = week_of(p >> _LAST_SHIFT) - week
    return 0 <= off < WEEK_BITS and bool((p >> (_WEEK_SHIFT + off)) & 1)


def mark(p: int, day: int) -> int:
    """``p`` with activity on ``day`` (a later day moves ``last`` and shifts the bits)."""
    last = p >> _LAST_SHIFT
    if day > last:
        days = p & _DAY_MASK
        weeks = (p >> _WEEK_SHIFT) & _WEEK_MASK
        shift = day - last
        days = ((days << shift) | 1) & _DAY_MASK if shift < DAY_BITS else 1
        wshift = (day + 3) // 7 - (last + 3) // 7
        weeks = ((weeks << wshift) | 1) & _WEEK_MASK if wshift < WEEK_BITS else 1
        high = (p >> _SIGNUP_SHIFT) & _SIGNUP_MASK
        return (day << _LAST_SHIFT) | (high << _SIGNUP_SHIFT) | (weeks << _WEEK_SHIFT) | days
    off = last - day
    if off < DAY_BITS:
        p |= 1 << off
    woff = (last + 3) // 7 - (day + 3) // 7
    if woff < WEEK_BITS:
        p |= 1 << (_WEEK_SHIFT + woff)
    return p


def with_signup(p: int, week: int | None) -> int:
    """``p`` with its signup week set to ``week``."""
    stored = 0 if week is None else week + 1
    return (p & ~(_SIGNUP_MASK << _SIGNUP_SHIFT)) | (stored << _SIGNUP_SHIFT)


def days_active(p: int, first: int, last: int) -> int:
    """How many marked days fall in ``first`` … ``last`` (inclusive)."""
    anchor = p >> _LAST_SHIFT
    lo = max(anchor - last, 0)
    hi = min(anchor - first, DAY_BITS - 1)
    if hi < lo:
        return 0
    return ((p >> lo) & ((1 << (hi - lo + 1)) - 1)).bit_count()


@dataclass(slots=True)
class Cohorts:
    """Partition aggregates of one cohort table: members by signup week and, by (signup
    week, k), how many of them were active in the k-th week after it (k = 1 … 11)."""

    members: Counter[int] = field(default_factory=Counter)
    retained: Counter[tuple[int, int]] = field(default_factory=Counter)

    def add(self, p: int, sign: int) -> None:
        """Add (``sign`` 1) or remove (-1) the contribution of ``p``."""
        cohort = signup_week(p)
        if cohort is None:
            return
        self.members[cohort] += sign
        for k in range(1, RETENTION_WEEKS + 1):
            if active_in_week(p, cohort + k):
                self.retained[cohort, k] += sign

    def touch(self, p: int | None, day: int, signup: bool) -> int:
        """The new int of someone with an event on ``day`` (a ``user_signed_up`` when
        ``signup``), keeping the aggregates in step."""
        if p is None:
            p = (day << _LAST_SHIFT) | _FIRST_BITS  # first_seen(day)
        else:
            stored = (p >> _SIGNUP_SHIFT) & _SIGNUP_MASK  # signup week + 1 (0: none)
            cohort = stored - 1
            week = (day + 3) // 7  # week_of(day)
            if stored and 1 <= week - cohort <= RETENTION_WEEKS:
                # a week that counts for its cohort: newly active in it?
                before = active_in_week(p, week)
                p = mark(p, day)
                if not before and active_in_week(p, week):
                    self.retained[cohort, week - cohort] += 1
            else:
                p = mark(p, day)
        if signup:
            week = (day + 3) // 7
            signed = signup_week(p)
            if signed is None or week < signed:
                self.add(p, -1)
                p = with_signup(p, week)
                self.add(p, 1)
        return p
