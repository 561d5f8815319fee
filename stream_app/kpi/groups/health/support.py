"""Support: tickets of one account and the support KPIs of a partition.

Per account, each ticket's openings ``(ts, day, channel)`` and resolutions
``(ts, day, contacts)``, kept for ``CS_TICKET_RETENTION_DAYS`` back from the account's
latest event day. A resolution's time is measured from the ticket's latest opening at or
before it ("its opening is known"); a ticket is open while its latest event is an
opening. Per partition, each ticket's *contribution* (openings by channel and day,
resolutions and first-contact resolutions by day, resolution-time buckets, count and
sum by day) is summed in one counter: applying an event replaces the ticket's old
contribution by its new one, so reads never scan tickets and every number is an exact
integer sum whatever the arrival order.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Final

from stream_app.contract import CHANNELS
from stream_app.kpi.families import Family
from stream_app.kpi.group import ReadContext

SUPPORT_WINDOW_DAYS: Final = 30
WINDOW: Final = f"{SUPPORT_WINDOW_DAYS}d"
RESOLUTION_BUCKETS: Final[tuple[int, ...]] = (300, 900, 3600, 14400, 86400, 259200, 604800)
_BOUNDS_US: Final = tuple(b * 1_000_000 for b in RESOLUTION_BUCKETS)

Opening = tuple[int, int, str]  # (ts in microseconds, day, channel)
Resolution = tuple[int, int, int]  # (ts in microseconds, day, contacts)
Key = tuple[Any, ...]


@dataclass(slots=True)
class Ticket:
    opens: list[Opening] = field(default_factory=list)  # sorted
    res: list[Resolution] = field(default_factory=list)  # sorted

    def durations(self) -> list[tuple[Resolution, int | None]]:
        """Each resolution with its time since the latest opening at or before it."""
        out: list[tuple[Resolution, int | None]] = []
        for r in self.res:
            i = bisect_left(self.opens, (r[0] + 1,)) - 1
            out.append((r, r[0] - self.opens[i][0] if i >= 0 else None))
        return out

    def is_open(self) -> bool:
        """True when the ticket's latest event is an opening (a tie counts as resolved)."""
        return bool(self.opens) and (not self.res or self.opens[-1][0] > self.res[-1][0])

    def contribution(self) -> Counter[Key]:
        c: Counter[Key] = Counter()
        for _, day, channel in self.opens:
            c["o", channel, day] += 1
        for (_, day, contacts), took in self.durations():
            c["r", day] += 1
            if contacts == 1:
                c["f", day] += 1
            if took is not None:
                c["b", day, bisect_left(_BOUNDS_US, took)] += 1
                c["n", day] += 1
                c["s", day] += took
        return c


def dump_tickets(tickets: dict[str, Ticket]) -> dict[str, Any]:
    return {
        tid: [[list(o) for o in t.opens], [list(r) for r in t.res]] for tid, t in tickets.items()
    }


def load_tickets(raw: dict[str, Any]) -> dict[str, Ticket]:
    return {
        tid: Ticket([(o[0], o[1], o[2]) for o in opens], [(r[0], r[1], r[2]) for r in res])
        for tid, (opens, res) in raw.items()
    }


class SupportAggregates:
    """The summed ticket contributions of a partition's accounts."""

    def __init__(self) -> None:
        self.agg: Counter[Key] = Counter()

    def _move(self, before: Counter[Key], after: Counter[Key]) -> None:
        agg = self.agg
        for key in before.keys() | after.keys():
            delta = after.get(key, 0) - before.get(key, 0)
            if delta:
                value = agg[key] + delta
                if value:
                    agg[key] = value
                else:
                    del agg[key]

    def open(self, tickets: dict[str, Ticket], ticket_id: str, opening: Opening) -> None:
        self._add(tickets, ticket_id, opening, None)

    def resolve(self, tickets: dict[str, Ticket], ticket_id: str, resolution: Resolution) -> None:
        self._add(tickets, ticket_id, None, resolution)

    def _add(
        self,
        tickets: dict[str, Ticket],
        ticket_id: str,
        opening: Opening | None,
        resolution: Resolution | None,
    ) -> None:
        ticket = tickets.get(ticket_id)
        if ticket is None:
            ticket = tickets[ticket_id] = Ticket()
        before = ticket.contribution()
        if opening is not None:
            insort(ticket.opens, opening)
        if resolution is not None:
            insort(ticket.res, resolution)
        self._move(before, ticket.contribution())

    def prune(self, tickets: dict[str, Ticket], cutoff: int) -> None:
        """Forget the account's ticket events before the day ``cutoff``."""
        for tid in list(tickets):
            ticket = tickets[tid]
            opens, res = ticket.opens, ticket.res  # sorted: the oldest day comes first
            if (not opens or opens[0][1] >= cutoff) and (not res or res[0][1] >= cutoff):
                continue
            before = ticket.contribution()
            ticket.opens = [o for o in ticket.opens if o[1] >= cutoff]
            ticket.res = [r for r in ticket.res if r[1] >= cutoff]
            self._move(before, ticket.contribution())
            if not ticket.opens and not ticket.res:
                del tickets[tid]

    def attach(self, tickets: dict[str, Ticket]) -> None:
        for ticket in tickets.values():
            self.agg.update(ticket.contribution())

    def families(self, ctx: ReadContext) -> list[Family]:
        last = ctx.as_of_day
        first = ctx.first_day(SUPPORT_WINDOW_DAYS)
        opened: Counter[str] = Counter()
        sums: Counter[Any] = Counter()
        for key, value in self.agg.items():
            day = key[-1] if key[0] != "b" else key[1]
            if not first <= day <= last:
                continue
            if key[0] == "o":
                opened[key[1]] += value
            elif key[0] == "b":
                sums["b", key[2]] += value
            else:
                sums[key[0]] += value
        fam_opened = Family(
            "cs_tickets_opened", "gauge", "Tickets opened in the window, by channel."
        )
        for channel in CHANNELS:
            fam_opened.add(opened[channel], channel=channel, window=WINDOW)
        resolved = Family("cs_tickets_resolved", "gauge", "Ticket resolutions in the window.")
        resolved.add(sums["r"], window=WINDOW)
        first_contact = Family(
            "cs_tickets_resolved_first_contact",
            "gauge",
            "Ticket resolutions in the window that took a single contact.",
        )
        first_contact.add(sums["f"], window=WINDOW)
        hist = Family(
            "cs_ticket_resolution_seconds",
            "gaugehistogram",
            "Resolution time (resolved ts - opened ts) of the tickets resolved in the last "
            "30 days whose opening is known.",
        )
        running = 0
        for i, bound in enumerate(RESOLUTION_BUCKETS):
            running += sums["b", i]
            hist.add(running, "_bucket", le=repr(float(bound)))
        hist.add(running + sums["b", len(RESOLUTION_BUCKETS)], "_bucket", le="+Inf")
        hist.add(sums["n"], "_gcount")
        hist.add(Fraction(sums["s"], 1_000_000), "_gsum")  # exact: partitions add up
        return [fam_opened, resolved, first_contact, hist]


def support_facts(
    tickets: dict[str, Ticket], first: int, last: int, slow_us: int
) -> tuple[int, list[int]]:
    """(open tickets, the sorted days of the resolutions on days ``first..last`` that
    took longer than ``slow_us``)."""
    open_tickets = 0
    slow: list[int] = []
    for ticket in tickets.values():
        if ticket.is_open():
            open_tickets += 1
        for (_, day, _), took in ticket.durations():
            if took is not None and took > slow_us and first <= day <= last:
                slow.append(day)
    slow.sort()
    return open_tickets, slow


def describe_support(tickets: dict[str, Ticket], ctx: ReadContext) -> dict[str, Any]:
    last = ctx.as_of_day
    first = ctx.first_day(SUPPORT_WINDOW_DAYS)
    opened = resolved = first_contact = timed = 0
    total_us = 0
    open_ids: list[str] = []
    for tid, ticket in tickets.items():
        if ticket.is_open():
            open_ids.append(tid)
        opened += sum(1 for o in ticket.opens if first <= o[1] <= last)
        for (_, day, contacts), took in ticket.durations():
            if first <= day <= last:
                resolved += 1
                first_contact += contacts == 1
                if took is not None:
                    timed += 1
                    total_us += took
    open_ids.sort()
    return {
        "window": WINDOW,
        "open_tickets": len(open_ids),
        "open_ticket_ids": open_ids[:20],
        "opened": opened,
        "resolved": resolved,
        "resolved_first_contact": first_contact,
        "mean_resolution_seconds": round(total_us / timed / 1e6, 1) if timed else None,
    }
