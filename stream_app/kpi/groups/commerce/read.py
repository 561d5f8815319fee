"""The commerce group's read: one pass over a partition's accounts as of T.

Counts, and money as minor units per currency (converted to the reporting currency at
the end by the revenue group's :func:`~stream_app.kpi.groups.revenue.read.major`), so the
result does not depend on the order of accounts or of their events.

A checkout started at ``start`` is **converted** when a counted order of its account
carries its ``checkout_id`` with ``ts <= start + delay`` (orders before the checkout
event count too), **judged** once ``start + delay <= T``, and **abandoned** when judged
and not converted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from stream_app.kpi.groups.commerce.state import CommerceState

#: the ``orders`` label of ``cs_ordering_accounts``: at least one / two orders by T
ORDER_COUNTS = ("1+", "2+")


@dataclass
class CommerceTally:
    """Additive read of one partition (or of one account)."""

    started: int = 0
    judged: int = 0
    abandoned: int = 0
    orders: int = 0  # counted orders with ts in the window
    sales: Counter[str] = field(default_factory=Counter)  # their amounts, minor units
    ordering: Counter[str] = field(default_factory=Counter)  # "1+" / "2+" -> accounts
    orders_total: int = 0  # counted orders with ts <= T
    sales_total: Counter[str] = field(default_factory=Counter)
    open_ids: list[str] = field(default_factory=list)  # filled for one account only
    abandoned_ids: list[str] = field(default_factory=list)


def first_orders(state: CommerceState) -> dict[str, int]:
    """checkout_id -> the ts of the earliest counted order that carries it."""
    out: dict[str, int] = {}
    for ts, _, _, _, checkout in state.orders.values():
        if checkout and ts < out.get(checkout, 2**63):
            out[checkout] = ts
    return out


def scan(
    states: Iterable[CommerceState], t: int, s: int, delay: int, *, ids: bool = False
) -> CommerceTally:
    """Tally ``states`` as of ``t`` for the window starting at ``s`` (µs, ``s <= t``);
    ``delay`` is ``CS_CHECKOUT_ABANDON_S`` in µs. With ``ids``, the open and abandoned
    checkout ids are listed too (for one account's view)."""
    tally = CommerceTally()
    sales, sales_total = tally.sales, tally.sales_total
    started = judged = abandoned = orders = 0
    one = two = 0
    for st in states:
        n = 0
        for ts, _, amount, cur, _ in st.orders.values():
            if ts <= t:
                n += 1
                sales_total[cur] += amount
                if ts >= s:
                    orders += 1
                    sales[cur] += amount
        tally.orders_total += n
        one += n >= 1
        two += n >= 2
        if not st.checkouts:
            continue
        converted = first_orders(st)
        for checkout_id, (start, _, _, _) in st.checkouts.items():
            if start > t:
                continue
            order_ts = converted.get(checkout_id)
            deadline = start + delay
            if deadline <= t:
                if s <= start:
                    started += 1
                    judged += 1
                    if order_ts is None or order_ts > deadline:
                        abandoned += 1
                        if ids:
                            tally.abandoned_ids.append(checkout_id)
            else:
                if s <= start:
                    started += 1
                if ids and (order_ts is None or order_ts > t):
                    tally.open_ids.append(checkout_id)
    tally.started, tally.judged, tally.abandoned, tally.orders = started, judged, abandoned, orders
    tally.ordering["1+"], tally.ordering["2+"] = one, two
    tally.open_ids.sort()
    tally.abandoned_ids.sort()
    return tally
