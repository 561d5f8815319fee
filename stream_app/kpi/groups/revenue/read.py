"""The revenue group's read: one pass over a partition's accounts as of T.

Everything is tallied in integers (counts, and money as minor units per currency), so
the result does not depend on the order of accounts; money is converted to the
reporting currency only at the end (:func:`major`), exactly (a ``Fraction``).

The state of an account at a time is its latest subscription event at or before it:
none = trial, a cancellation = churned, anything else = paying with that event's MRR.
Each subscription event moves MRR from the previous event's state to its own:

===========================  =================================  ===================
previous event (by ts)        this event                         movement
===========================  =================================  ===================
none                          started / changed / renewed        ``new``
cancellation                  started / changed / renewed        ``reactivation``
paying                        started / changed / renewed        ``expansion`` or
                                                                 ``contraction`` by
                                                                 the difference
paying                        cancellation                       ``churn`` by the
                                                                 previous MRR
none or cancellation          cancellation                       nothing
===========================  =================================  ===================

so MRR at T = MRR at the window start + new + reactivation + expansion - contraction -
churn, exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from stream_app.kpi.groups.revenue.state import CANCELLED, FAILED, RENEWED, Entry, RevenueState

MOVEMENT_KINDS = ("new", "reactivation", "expansion", "contraction", "churn")

Rate = Callable[[str], float | None]


@dataclass
class Tally:
    """Additive read of one partition: counts, and money in minor units per currency."""

    trial: int = 0
    paying: int = 0
    churned: int = 0
    paying_start: int = 0
    churned_window: int = 0
    new_paying: int = 0
    renewed: int = 0
    cancelled: int = 0
    expanded: int = 0
    failures: int = 0
    mrr: Counter[str] = field(default_factory=Counter)
    mrr_start: Counter[str] = field(default_factory=Counter)
    revenue: Counter[str] = field(default_factory=Counter)
    moves: dict[str, Counter[str]] = field(
        default_factory=lambda: {kind: Counter() for kind in MOVEMENT_KINDS}
    )


def major(minor: Counter[str], rate: Rate) -> Fraction:
    """Minor units per currency -> major units of the reporting currency, exactly.

    A rate counts as the decimal it is written as (``1.08`` is 27/25). The result is a
    ``Fraction``, so sums across partitions are exact (see ``families.py``). A currency
    with no rate (only possible when the configuration changed after its events were
    accepted) counts as 0.
    """
    total = Fraction(0)
    for cur, amount in minor.items():
        r = rate(cur)
        if r is not None and amount:
            total += amount * Fraction(repr(r))
    return total / 100


def _raises(prev: Entry, entry: Entry, rate: Rate) -> bool | None:
    """True if ``entry`` raises MRR over ``prev``, False if it lowers it, None if equal."""
    if prev[3] == entry[3]:
        old: int | float = prev[2]
        new: int | float = entry[2]
    else:
        old = prev[2] * (rate(prev[3]) or 0.0)
        new = entry[2] * (rate(entry[3]) or 0.0)
    return None if new == old else new > old


def _movement(tally: Tally, prev: Entry | None, entry: Entry, rate: Rate) -> bool:
    """Add the MRR movement of ``entry`` (after ``prev``); True for an expansion."""
    moves = tally.moves
    was_paying = prev is not None and prev[1] != CANCELLED
    if entry[1] == CANCELLED:
        if was_paying:
            assert prev is not None
            moves["churn"][prev[3]] += prev[2]
            tally.cancelled += 1
        return False
    if entry[1] == RENEWED:
        tally.renewed += 1
    if prev is None:
        moves["new"][entry[3]] += entry[2]
        return False
    if not was_paying:
        moves["reactivation"][entry[3]] += entry[2]
        return False
    up = _raises(prev, entry, rate)
    if up is None:
        return False
    kind = moves["expansion" if up else "contraction"]
    sign = 1 if up else -1
    kind[entry[3]] += sign * entry[2]
    kind[prev[3]] -= sign * prev[2]
    return up


def scan(states: Iterable[RevenueState], t: int, s: int, rate: Rate) -> Tally:
    """Tally ``states`` as of ``t`` for the window starting at ``s`` (both µs, s <= t)."""
    tally = Tally()
    mrr, mrr_start, revenue = tally.mrr, tally.mrr_start, tally.revenue
    trial = paying = churned = paying_start = churned_window = new_paying = 0
    expanded = failures = renewed = 0
    for st in states:
        if st.first > t:
            continue  # not seen yet as of T
        subs = st.subs
        i_t = len(subs)
        while i_t and subs[i_t - 1][0] > t:
            i_t -= 1
        if not i_t:
            trial += 1
        else:
            i_s = i_t
            while i_s and subs[i_s - 1][0] >= s:
                i_s -= 1
            end = subs[i_t - 1]
            paying_end = end[1] != CANCELLED
            if paying_end:
                paying += 1
                mrr[end[3]] += end[2]
            else:
                churned += 1
            if i_s and subs[i_s - 1][1] != CANCELLED:
                start = subs[i_s - 1]
                paying_start += 1
                mrr_start[start[3]] += start[2]
                if not paying_end:
                    churned_window += 1
            elif paying_end:
                new_paying += 1
            up = False
            for i in range(i_s, i_t):
                entry = subs[i]
                prev = subs[i - 1] if i else None
                if (  # the common case, inline: a renewal at an unchanged price
                    entry[1] == RENEWED
                    and prev is not None
                    and prev[1] != CANCELLED
                    and prev[2] == entry[2]
                    and prev[3] == entry[3]
                ):
                    renewed += 1
                elif _movement(tally, prev, entry, rate):
                    up = True
            expanded += up
        for ts, kind, amount, cur in st.pays:
            if s <= ts <= t:
                if kind == FAILED:
                    failures += 1
                else:
                    revenue[cur] += amount
    tally.trial, tally.paying, tally.churned = trial, paying, churned
    tally.paying_start, tally.churned_window, tally.new_paying = (
        paying_start,
        churned_window,
        new_paying,
    )
    tally.expanded, tally.failures = expanded, failures
    tally.renewed += renewed
    return tally
