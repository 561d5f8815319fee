"""Per-account state of the commerce group: its checkouts and its orders.

``checkouts`` maps a ``checkout_id`` to the checkout_started that starts it: the first by
(``ts``, then ``event_id`` in code-point order), as ``(ts µs, event_id, amount, currency)``.
``orders`` maps an ``order_id`` to its counted order_placed, chosen by the same rule, as
``(ts µs, event_id, amount, currency, checkout_id)`` (``""`` when it carries none). Later
copies of an id (a repeated order, a second checkout_started) are never stored, so any
arrival order of the same events builds the same dicts.

Checkouts are pruned relative to the account's latest commerce event ``ref``: one that
started more than ``CHECKOUT_KEEP_DAYS`` before it is long judged and out of every window,
and is dropped (its id is then forgotten). Orders are kept: "accounts with two orders by
T" needs every order's time, and an account places few of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

US_PER_DAY: Final = 86_400_000_000
#: the 30-day window, the longest abandonment delay and the lateness limit fit in it
CHECKOUT_KEEP_DAYS: Final = 130

Checkout = tuple[int, str, int, str]  # (ts µs, event_id, amount, currency)
Order = tuple[int, str, int, str, str]  # (ts µs, event_id, amount, currency, checkout_id)


@dataclass(slots=True)
class CommerceState:
    checkouts: dict[str, Checkout] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    ref: int = -(2**63)  # the latest commerce event's ts (µs)

    def add_checkout(self, checkout_id: str, entry: Checkout) -> None:
        self._advance(entry[0])
        if entry[0] < self.ref - CHECKOUT_KEEP_DAYS * US_PER_DAY:
            return  # too old to matter (and pruned in any other arrival order)
        old = self.checkouts.get(checkout_id)
        if old is None or entry[:2] < old[:2]:
            self.checkouts[checkout_id] = entry

    def add_order(self, order_id: str, entry: Order) -> None:
        self._advance(entry[0])
        old = self.orders.get(order_id)
        if old is None or entry[:2] < old[:2]:
            self.orders[order_id] = entry

    def _advance(self, ts: int) -> None:
        if ts <= self.ref:
            return
        self.ref = ts
        cut = ts - CHECKOUT_KEEP_DAYS * US_PER_DAY
        old = [c for c, entry in self.checkouts.items() if entry[0] < cut]
        for checkout_id in old:
            del self.checkouts[checkout_id]


def dump_state(state: CommerceState) -> dict[str, Any]:
    """Compact JSON-able form (empty parts omitted)."""
    out: dict[str, Any] = {"r": state.ref}
    if state.checkouts:
        out["c"] = {k: list(v) for k, v in state.checkouts.items()}
    if state.orders:
        out["o"] = {k: list(v) for k, v in state.orders.items()}
    return out


def load_state(raw: dict[str, Any]) -> CommerceState:
    """Inverse of :func:`dump_state`."""
    return CommerceState(
        checkouts={
            k: (int(v[0]), str(v[1]), int(v[2]), str(v[3])) for k, v in raw.get("c", {}).items()
        },
        orders={
            k: (int(v[0]), str(v[1]), int(v[2]), str(v[3]), str(v[4]))
            for k, v in raw.get("o", {}).items()
        },
        ref=int(raw.get("r", -(2**63))),
    )
