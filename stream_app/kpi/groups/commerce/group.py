"""The commerce group: self-serve checkouts (started, judged, abandoned), orders, sales
and repeat purchases (docs/kpis.md#group-commerce).

It takes ``checkout_started`` and ``order_placed`` of the billing topic (keyed by
``account_id``). Orders count once per ``order_id`` and checkouts once per ``checkout_id``
(the first by ``ts``, then ``event_id``); every read is a pass over the partition's
accounts as of T (:mod:`stream_app.kpi.groups.commerce.read`), so late and out-of-order
events land where their ``ts`` puts them. Money is kept in minor units of the event's
currency and converted to ``CS_CURRENCY`` with ``CS_FX_RATES`` at read time, as the revenue
group does (an unknown currency is rejected by the revenue group's ``check``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from stream_app.contract import Event
from stream_app.kpi.families import Family
from stream_app.kpi.group import KpiGroup, ReadContext
from stream_app.kpi.groups.commerce.read import ORDER_COUNTS, CommerceTally, scan
from stream_app.kpi.groups.commerce.state import CommerceState, dump_state, load_state
from stream_app.kpi.groups.revenue.read import major
from stream_app.kpi.settings import KpiSettings
from stream_app.timeutil import day_start, to_us

WINDOW_DAYS: Final = 30
WINDOW: Final = f"{WINDOW_DAYS}d"


class CommerceGroup(KpiGroup[CommerceState]):
    """Checkout and order KPIs over one partition's accounts."""

    name = "commerce"
    types = frozenset({"checkout_started", "order_placed"})
    key_field = "account_id"

    def __init__(self, settings: KpiSettings) -> None:
        super().__init__(settings)
        self.currency = settings.currency
        self.rate = settings.fx_rate
        self.delay_us = settings.checkout_abandon_s * 1_000_000

    def new(self) -> CommerceState:
        return CommerceState()

    def apply(self, account_id: str, state: CommerceState, event: Event, day: int) -> None:
        if event.type == "order_placed":
            state.add_order(
                event.order_id,
                (event.us, event.event_id, event.amount, event.currency, event.checkout_id or ""),
            )
        else:
            state.add_checkout(
                event.checkout_id, (event.us, event.event_id, event.amount, event.currency)
            )

    def attach(self, account_id: str, state: CommerceState) -> None:
        """No partition aggregates: every read scans the accounts."""

    def tally(self, ctx: ReadContext, states: Mapping[str, CommerceState]) -> CommerceTally:
        """The integer read behind :meth:`families` (exposed for tests and tools)."""
        start = to_us(day_start(ctx.first_day(WINDOW_DAYS), ctx.tz))
        return scan(states.values(), to_us(ctx.as_of), start, self.delay_us)

    def families(self, ctx: ReadContext, states: Mapping[str, CommerceState]) -> list[Family]:
        t = self.tally(ctx, states)
        win, cur = WINDOW, self.currency
        started = Family(
            "cs_checkouts_started",
            "gauge",
            "Checkouts (distinct checkout_id) started in the window.",
        )
        started.add(t.started, window=win)
        judged = Family(
            "cs_checkouts_judged",
            "gauge",
            "Checkouts started in the window whose abandonment delay (CS_CHECKOUT_ABANDON_S) "
            "has passed by T.",
        )
        judged.add(t.judged, window=win)
        abandoned = Family(
            "cs_checkouts_abandoned",
            "gauge",
            "Judged checkouts of the window with no order carrying their checkout_id within "
            "the abandonment delay.",
        )
        abandoned.add(t.abandoned, window=win)
        orders = Family(
            "cs_orders", "gauge", "Orders (distinct order_id per account) placed in the window."
        )
        orders.add(t.orders, window=win)
        sales = Family(
            "cs_sales", "gauge", "Amounts of the window's orders (major units of CS_CURRENCY)."
        )
        sales.add(major(t.sales, self.rate), currency=cur, window=win)
        ordering = Family(
            "cs_ordering_accounts",
            "gauge",
            'Accounts with at least one (orders="1+") or two ("2+") orders by T.',
        )
        for label in ORDER_COUNTS:
            ordering.add(t.ordering[label], orders=label)
        return [started, judged, abandoned, orders, sales, ordering]

    def describe(self, state: CommerceState, ctx: ReadContext) -> dict[str, Any]:
        start = to_us(day_start(ctx.first_day(WINDOW_DAYS), ctx.tz))
        t = scan([state], to_us(ctx.as_of), start, self.delay_us, ids=True)
        return {
            "commerce": {
                "currency": self.currency,
                "orders": t.orders_total,
                "sales": float(major(t.sales_total, self.rate)),
                "window": WINDOW,
                "orders_window": t.orders,
                "sales_window": float(major(t.sales, self.rate)),
                "open_checkouts": t.open_ids,
                "abandoned_checkouts_window": t.abandoned_ids,
            }
        }

    def dump(self, state: CommerceState) -> Any:
        return dump_state(state)

    def load(self, raw: Any) -> CommerceState:
        return load_state(raw)
