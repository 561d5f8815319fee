"""One day of an account's subscription lifecycle: trial, conversion, renewals, dunning,
plan changes, cancellations and reactivations."""

from __future__ import annotations

from random import Random

from stream_app.generator.accounts import (
    CANCELLED,
    EXPIRED,
    PAST_DUE,
    PAYING,
    PROSPECT,
    TRIAL,
    Account,
    work_time,
)
from stream_app.generator.clock import US_PER_DAY, US_PER_SEC, add_months, new_id
from stream_app.generator.config import CURRENCY, PLANS
from stream_app.generator.sink import DaySink
from stream_app.timeutil import to_us

REASONS = (
    "too_expensive",
    "not_using_enough",
    "missing_features",
    "switched_to_competitor",
    "technical_issues",
    "business_closed",
    "poor_support",
    "other",
)
_REASON_WEIGHTS = (24, 20, 16, 15, 8, 6, 5, 6)
SPIKE_REASON = "price_increase"
DUNNING_REASON = "payment_failed"
_DAYS_PER_MONTH = 30.4
_PLAN_FACTOR = (1.4, 1.0, 0.6)  # starter customers churn more, business customers less


def billing_day(acct: Account, sink: DaySink) -> None:
    """Advance ``acct``'s subscription through the sink's day, emitting billing events."""
    day_start, day_end = sink.day_start, sink.day_end
    if acct.status == PROSPECT:
        if acct.signup_us >= day_end:
            return
        acct.status = TRIAL
    rng = acct.rng
    actions: list[tuple[int, int, str]] = []
    status = acct.status
    if status == TRIAL:
        if acct.convert_us is not None and acct.convert_us < day_end:
            actions.append((acct.convert_us, 0, "start"))
        elif acct.convert_us is None and acct.trial_end_us < day_end:
            acct.status = EXPIRED
    elif status == PAYING and acct.next_renewal_us < day_end:
        actions.append((acct.next_renewal_us, 0, "renew"))
    elif status == PAST_DUE and acct.retry_us < day_end:
        actions.append((acct.retry_us, 0, "retry"))
    if status in (PAYING, PAST_DUE):
        monthly = acct.churn_base * _PLAN_FACTOR[acct.plan]
        churns = rng.random() < monthly / _DAYS_PER_MONTH  # drawn even when a spike is due
        if acct.spike_cancel_us is not None:
            if acct.spike_cancel_us < day_end:
                actions.append((acct.spike_cancel_us, 1, "spike"))
        elif churns:
            actions.append((work_time(rng, day_start, acct.local_off_us), 2, "cancel"))
        change = rng.random() * _DAYS_PER_MONTH
        if change < 0.025 and acct.plan < len(PLANS) - 1:
            actions.append((work_time(rng, day_start, acct.local_off_us), 3, "upgrade"))
        elif 0.025 <= change < 0.035 and acct.plan > 0:
            actions.append((work_time(rng, day_start, acct.local_off_us), 3, "downgrade"))
    elif status in (CANCELLED, EXPIRED) and rng.random() < (
        0.003 if status == CANCELLED else 0.0015
    ):
        actions.append((work_time(rng, day_start, acct.local_off_us), 4, "start"))
    actions.sort()
    for ts, _, kind in actions:
        _apply(acct, rng, sink, max(ts, day_start), kind)


def _apply(acct: Account, rng: Random, sink: DaySink, ts: int, kind: str) -> None:
    paying = acct.status in (PAYING, PAST_DUE)
    if kind == "start" and not paying:
        if acct.status in (CANCELLED, EXPIRED) and rng.random() < 0.5:
            acct.plan = 0  # win-backs often come back on the cheapest plan
        acct.status = PAYING
        acct.attempts = 0
        acct.set_anchor(ts, ts + 1)
        _subscription(acct, rng, sink, ts, "subscription_started")
        _invoice(acct, rng, sink, ts + _secs(rng), "invoice_paid", PLANS[acct.plan].mrr)
    elif kind == "renew" and acct.status == PAYING:
        if rng.random() < 0.04:
            acct.status = PAST_DUE
            acct.attempts = 1
            acct.retry_us = ts + int(rng.uniform(2, 3) * US_PER_DAY)
            _invoice(acct, rng, sink, ts, "payment_failed", PLANS[acct.plan].mrr)
        else:
            _renewed(acct, rng, sink, ts)
    elif kind == "retry" and acct.status == PAST_DUE:
        if rng.random() < 0.5:
            acct.status = PAYING
            _renewed(acct, rng, sink, ts)
        elif acct.attempts >= 2:
            _invoice(acct, rng, sink, ts, "payment_failed", PLANS[acct.plan].mrr)
            cancel(acct, rng, sink, ts + _secs(rng), DUNNING_REASON)
        else:
            acct.attempts += 1
            acct.retry_us = ts + int(rng.uniform(3, 5) * US_PER_DAY)
            _invoice(acct, rng, sink, ts, "payment_failed", PLANS[acct.plan].mrr)
    elif kind in ("cancel", "spike") and paying:
        reason = SPIKE_REASON if kind == "spike" else rng.choices(REASONS, _REASON_WEIGHTS)[0]
        cancel(acct, rng, sink, ts, reason)
    elif kind in ("upgrade", "downgrade") and paying:
        old = PLANS[acct.plan].mrr
        acct.plan += 1 if kind == "upgrade" else -1
        _subscription(acct, rng, sink, ts, "subscription_changed")
        if kind == "upgrade":  # prorated difference for the rest of the period
            left = max(0, acct.next_renewal_us - ts) / (_DAYS_PER_MONTH * US_PER_DAY)
            amount = round((PLANS[acct.plan].mrr - old) * min(1.0, left))
            if amount > 0:
                _invoice(acct, rng, sink, ts + _secs(rng), "invoice_paid", amount)


def cancel(acct: Account, rng: Random, sink: DaySink, ts: int, reason: str) -> None:
    """Cancel the subscription now."""
    acct.status = CANCELLED
    acct.spike_cancel_us = None
    sink.add(
        ts,
        {
            "event_id": new_id(rng),
            "type": "subscription_cancelled",
            "ts": "",
            "account_id": acct.account_id,
            "reason": reason,
        },
    )


def _renewed(acct: Account, rng: Random, sink: DaySink, ts: int) -> None:
    assert acct.anchor is not None
    acct.attempts = 0
    acct.months += 1
    acct.next_renewal_us = to_us(add_months(acct.anchor, acct.months))
    _subscription(acct, rng, sink, ts, "subscription_renewed")
    _invoice(acct, rng, sink, ts + _secs(rng), "invoice_paid", PLANS[acct.plan].mrr)


def _subscription(acct: Account, rng: Random, sink: DaySink, ts: int, kind: str) -> None:
    plan = PLANS[acct.plan]
    sink.add(
        ts,
        {
            "event_id": new_id(rng),
            "type": kind,
            "ts": "",
            "account_id": acct.account_id,
            "plan": plan.name,
            "mrr": plan.mrr,
            "currency": CURRENCY,
            "account_name": acct.name,
        },
    )


def _invoice(acct: Account, rng: Random, sink: DaySink, ts: int, kind: str, amount: int) -> None:
    sink.add(
        ts,
        {
            "event_id": new_id(rng),
            "type": kind,
            "ts": "",
            "account_id": acct.account_id,
            "amount": amount,
            "currency": CURRENCY,
        },
    )


def _secs(rng: Random) -> int:
    return int(rng.uniform(1, 20) * US_PER_SEC)
