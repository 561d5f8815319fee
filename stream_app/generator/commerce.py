"""Self-serve commerce of the accounts: checkouts (some abandoned, some converted late,
some orders sent twice) and add-on orders without a checkout.

Each account has its own random stream (``derived_rng(seed, "commerce", idx)``), so the
subscription lifecycle, support and activity streams are the same with or without it.
Orders due on a later day wait in a queue until their day is simulated.
"""

from __future__ import annotations

import heapq
from random import Random

from stream_app.generator.accounts import PAST_DUE, PAYING, TRIAL, Account, work_time
from stream_app.generator.clock import US_PER_DAY, US_PER_HOUR, US_PER_SEC, derived_rng, new_id
from stream_app.generator.config import CURRENCY, PLANS, GeneratorConfig
from stream_app.generator.sink import DaySink

#: add-ons bought in the product (minor units): seats, storage, an onboarding package
ADDONS: tuple[int, ...] = (1_500, 2_900, 4_900, 9_900, 49_900)
#: chance per day that a trial / paying account starts a self-serve checkout
_CHECKOUT_PER_DAY = {TRIAL: 0.04, PAYING: 0.015, PAST_DUE: 0.005}
#: chance per day that a paying account orders an add-on directly (no checkout)
_ADDON_PER_DAY = 0.012
#: how a checkout ends, and how often: (outcome, weight)
_OUTCOMES = (("abandoned", 54), ("converted", 30), ("later_same_day", 10), ("too_late", 6))
#: share of orders a client sends twice (same order_id, new event_id: a retry)
_RESENT = 0.04


class Commerce:
    """Checkouts and orders of every account, one UTC day at a time."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        self._seed = cfg.seed
        self._rngs: dict[int, Random] = {}
        #: orders due later: (ts µs, sequence, event)
        self._due: list[tuple[int, int, dict[str, object]]] = []
        self._seq = 0

    def _rng(self, idx: int) -> Random:
        rng = self._rngs.get(idx)
        if rng is None:
            rng = self._rngs[idx] = derived_rng(self._seed, "commerce", idx)
        return rng

    def day(self, accounts: list[Account], statuses: list[str], sink: DaySink) -> None:
        """Emit the sink's day: due orders, then the new checkouts and add-ons of each
        account by its status at the day's start (``statuses``, one per account)."""
        due = self._due
        while due and due[0][0] < sink.day_end:
            ts, _, event = heapq.heappop(due)
            sink.add(ts, event)
        for acct, status in zip(accounts, statuses, strict=True):
            chance = _CHECKOUT_PER_DAY.get(status)
            if chance is None:
                continue
            rng = self._rng(acct.idx)
            if rng.random() < chance:
                self._checkout(acct, status, rng, sink)
            if status == PAYING and rng.random() < _ADDON_PER_DAY:
                ts = work_time(rng, sink.day_start, acct.local_off_us)
                self._order(acct, rng, sink, ts, rng.choice(ADDONS), None)

    def _checkout(self, acct: Account, status: str, rng: Random, sink: DaySink) -> None:
        """A trial account checks out its plan; a paying one an upgrade or an add-on."""
        start = work_time(rng, sink.day_start, acct.local_off_us)
        if status != PAYING:
            amount = PLANS[acct.plan].mrr
        elif rng.random() < 0.5:
            amount = rng.choice(ADDONS)
        else:
            amount = PLANS[min(acct.plan + 1, len(PLANS) - 1)].mrr
        checkout_id = f"chk_{rng.getrandbits(64):016x}"
        sink.add(
            start,
            {
                "event_id": new_id(rng),
                "type": "checkout_started",
                "ts": "",
                "account_id": acct.account_id,
                "checkout_id": checkout_id,
                "amount": amount,
                "currency": CURRENCY,
            },
        )
        outcome = rng.choices([o for o, _ in _OUTCOMES], [w for _, w in _OUTCOMES])[0]
        if outcome == "abandoned":
            return
        if outcome == "converted":
            ts = start + int(rng.uniform(30, 1_800) * US_PER_SEC)
        elif outcome == "later_same_day":  # came back within the abandonment delay
            ts = start + int(rng.uniform(2, 20) * US_PER_HOUR)
        else:  # came back after it: an order, but an abandoned checkout
            ts = start + int(rng.uniform(1.1, 3) * US_PER_DAY)
        self._order(acct, rng, sink, ts, amount, checkout_id)

    def _order(
        self,
        acct: Account,
        rng: Random,
        sink: DaySink,
        ts: int,
        amount: int,
        checkout_id: str | None,
    ) -> None:
        order_id = f"ord_{rng.getrandbits(64):016x}"
        event: dict[str, object] = {
            "event_id": new_id(rng),
            "type": "order_placed",
            "ts": "",
            "account_id": acct.account_id,
            "order_id": order_id,
            "amount": amount,
            "currency": CURRENCY,
        }
        if checkout_id is not None:
            event["checkout_id"] = checkout_id
        self._emit(sink, ts, event)
        if rng.random() < _RESENT:  # the client retries: same order, a new event id
            again = dict(event, event_id=new_id(rng))
            self._emit(sink, ts + int(rng.uniform(1, 90) * US_PER_SEC), again)

    def _emit(self, sink: DaySink, ts: int, event: dict[str, object]) -> None:
        if ts < sink.day_end:
            sink.add(ts, event)
        else:
            self._seq += 1
            heapq.heappush(self._due, (ts, self._seq, event))
