"""The revenue group: accounts by subscription status, MRR and its movements, customer
churn and retention counts, renewals, payment failures and revenue (docs/kpis.md).

It consumes every event type (an account seen in any accepted event is at least a trial
account); non-billing events only move the account's ``first`` time. Billing events are
kept per account as a short time-ordered history (:mod:`stream_app.kpi.groups.revenue.state`);
every read is a pass over the partition's accounts as of T
(:mod:`stream_app.kpi.groups.revenue.read`), so late and out-of-order events land where their
``ts`` puts them. Money in another currency than ``CS_CURRENCY`` needs a rate in
``CS_FX_RATES``, else the event is rejected with reason ``currency``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Final

from stream_app.contract import ACCOUNT_TYPES, TYPES, Event, Rejection
from stream_app.kpi.families import Family
from stream_app.kpi.group import KpiGroup, ReadContext
from stream_app.kpi.groups.revenue.read import MOVEMENT_KINDS, Tally, major, scan
from stream_app.kpi.groups.revenue.state import (
    CANCELLED,
    PAY_KINDS,
    SUB_KINDS,
    RevenueState,
    dump_state,
    load_state,
)
from stream_app.kpi.settings import KpiSettings
from stream_app.timeutil import day_start, to_us

WINDOW_DAYS: Final = 30
WINDOW: Final = f"{WINDOW_DAYS}d"
#: types that only move an account's ``first`` time: neither a subscription nor a payment
#: type, and without an ``account_name`` field in the contract
_PLAIN: Final = frozenset(
    t
    for t in ACCOUNT_TYPES
    if t not in SUB_KINDS
    and t not in PAY_KINDS
    and all(f.name != "account_name" for f in TYPES[t].fields)
)


class RevenueGroup(KpiGroup[RevenueState]):
    """Revenue and churn KPIs from billing events, over one partition's accounts."""

    name = "revenue"
    types = ACCOUNT_TYPES

    def __init__(self, settings: KpiSettings) -> None:
        super().__init__(settings)
        self.currency = settings.currency
        self.rate = settings.fx_rate
        self.known = frozenset(
            c for c in (*settings.fx_rates, settings.currency) if self.rate(c) is not None
        )
        self.cancellations = 0  # accepted subscription_cancelled events (a counter)

    def check(self, event: Event) -> Rejection | None:
        currency = event.currency  # "" for types without money
        if not currency or currency in self.known or self.rate(currency) is not None:
            return None
        return Rejection("currency", f"{currency}: no rate to {self.currency} in CS_FX_RATES")

    def new(self) -> RevenueState:
        return RevenueState()

    def apply(self, account_id: str, state: RevenueState, event: Event, day: int) -> None:
        ts = event.us
        if ts < state.first:
            state.first = ts
        if event.type in _PLAIN:  # no money, no name: it only makes the account known
            return
        if event.account_name is not None:
            state.add_name(ts, event.account_name)
        kind = SUB_KINDS.get(event.type)
        if kind == CANCELLED:
            state.add_sub((ts, CANCELLED, 0, ""))
            self.cancellations += 1
        elif kind is not None:
            state.add_sub((ts, kind, event.mrr, event.currency))
        elif event.type in PAY_KINDS:
            state.add_pay((ts, PAY_KINDS[event.type], event.amount, event.currency))

    def attach(self, account_id: str, state: RevenueState) -> None:
        self.cancellations += state.cancels

    def tally(self, ctx: ReadContext, states: Mapping[str, RevenueState]) -> Tally:
        """The integer read behind :meth:`families` (exposed for tests and tools)."""
        start = to_us(day_start(ctx.first_day(WINDOW_DAYS), ctx.tz))
        return scan(states.values(), to_us(ctx.as_of), start, self.rate)

    def families(self, ctx: ReadContext, states: Mapping[str, RevenueState]) -> list[Family]:
        t = self.tally(ctx, states)
        cur, win = self.currency, WINDOW

        def money(minor: Counter[str]) -> Fraction:
            return major(minor, self.rate)

        accounts = Family(
            "cs_accounts",
            "gauge",
            "Accounts seen in any accepted event, by subscription status as of T.",
        )
        accounts.add(t.trial, status="trial")
        accounts.add(t.paying, status="paying")
        accounts.add(t.churned, status="churned")
        mrr = Family("cs_mrr", "gauge", "MRR of paying accounts at T (major units).")
        mrr.add(money(t.mrr), currency=cur)
        start = Family(
            "cs_paying_accounts_period_start", "gauge", "Accounts paying at the window start."
        )
        start.add(t.paying_start, window=win)
        churned = Family(
            "cs_churned_accounts",
            "gauge",
            "Accounts paying at the window start and not paying at T.",
        )
        churned.add(t.churned_window, window=win)
        new_paying = Family(
            "cs_new_paying_accounts",
            "gauge",
            "Accounts paying at T and not paying at the window start.",
        )
        new_paying.add(t.new_paying, window=win)
        mrr_start = Family("cs_mrr_period_start", "gauge", "MRR at the window start (major units).")
        mrr_start.add(money(t.mrr_start), window=win, currency=cur)
        moves = Family(
            "cs_mrr_movements",
            "gauge",
            "MRR movements of subscription events in the window, by kind (positive amounts).",
        )
        for kind in MOVEMENT_KINDS:
            moves.add(money(t.moves[kind]), kind=kind, window=win, currency=cur)
        renewals = Family(
            "cs_renewals",
            "gauge",
            "Renewal outcomes in the window: subscription_renewed events, and cancellations "
            "that end a paying subscription.",
        )
        renewals.add(t.renewed, outcome="renewed", window=win)
        renewals.add(t.cancelled, outcome="cancelled", window=win)
        expanded = Family(
            "cs_expanded_accounts", "gauge", "Accounts with an MRR expansion in the window."
        )
        expanded.add(t.expanded, window=win)
        failures = Family("cs_payment_failures", "gauge", "payment_failed events in the window.")
        failures.add(t.failures, window=win)
        revenue = Family("cs_revenue", "gauge", "invoice_paid amounts in the window (major units).")
        revenue.add(money(t.revenue), currency=cur, window=win)
        cancels = Family(
            "cs_subscription_cancellations",
            "counter",
            "Accepted subscription_cancelled events.",
        )
        cancels.add(self.cancellations, "_total")
        return [
            accounts,
            mrr,
            start,
            churned,
            new_paying,
            mrr_start,
            moves,
            renewals,
            expanded,
            failures,
            revenue,
            cancels,
        ]

    def describe(self, state: RevenueState, ctx: ReadContext) -> dict[str, Any]:
        t = scan([state], to_us(ctx.as_of), to_us(ctx.as_of), self.rate)
        status = "paying" if t.paying else "churned" if t.churned else "trial"
        mrr = float(major(t.mrr, self.rate))
        name = state.name[1] if state.name is not None else None
        return {"name": name, "subscription": status, "mrr": mrr, "currency": self.currency}

    def summary(self, state: RevenueState, ctx: ReadContext) -> dict[str, Any]:
        view = self.describe(state, ctx)
        return {
            "name": view["name"],
            "status": view["subscription"],
            "mrr": view["mrr"],
            "currency": view["currency"],
        }

    def dump(self, state: RevenueState) -> Any:
        return dump_state(state)

    def load(self, raw: Any) -> RevenueState:
        return load_state(raw)
