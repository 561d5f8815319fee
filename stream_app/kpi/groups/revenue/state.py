"""Per-account state of the revenue group: a compact, time-ordered billing history.

``subs`` holds the account's subscription events as ``(ts, kind, mrr, currency)`` sorted
by event time (``ts`` in integer microseconds since the epoch, money in integer minor
units of the event's currency; a cancellation is ``(ts, CANCELLED, 0, "")``). The tuple
order breaks ties of equal ``ts`` deterministically (started < changed < renewed <
cancelled), so any arrival order builds the same list.

``pays`` holds ``invoice_paid`` / ``payment_failed`` as ``(ts, kind, amount, currency)``.

Both lists are pruned relative to the account's latest billing event ``ref``:
subscription events older than ``ref - SUBS_KEEP_DAYS`` are dropped except the latest
of them (it carries the state before the cut, and tells whether the account ever had a
subscription); payments older than ``ref - PAYS_KEEP_DAYS`` are dropped. The result does
not depend on arrival order (it is the same function of the set of events), and it
answers every read whose 30-day window starts after ``ref - SUBS_KEEP_DAYS`` / ``ref -
PAYS_KEEP_DAYS``, i.e. any T no more than ~2 months before the latest billing event.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import Any, Final

STARTED, CHANGED, RENEWED, CANCELLED = 0, 1, 2, 3
SUB_KINDS: Final[dict[str, int]] = {
    "subscription_started": STARTED,
    "subscription_changed": CHANGED,
    "subscription_renewed": RENEWED,
    "subscription_cancelled": CANCELLED,
}
PAID, FAILED = 0, 1
PAY_KINDS: Final[dict[str, int]] = {"invoice_paid": PAID, "payment_failed": FAILED}

US_PER_DAY: Final = 86_400_000_000
SUBS_KEEP_DAYS: Final = 100
PAYS_KEEP_DAYS: Final = 40
NEVER: Final = 2**63 - 1  # "no event yet" for ``first``

Entry = tuple[int, int, int, str]  # (ts µs, kind, minor units, currency)


@dataclass(slots=True)
class RevenueState:
    first: int = NEVER  # earliest accepted event of any type (µs)
    subs: list[Entry] = field(default_factory=list)
    pays: list[Entry] = field(default_factory=list)
    cancels: int = 0  # accepted subscription_cancelled events (never pruned)
    #: the optional ``account_name`` of signups and subscription events: the one of the
    #: latest event by ts (ties: the greatest name, so arrival order never matters)
    name: tuple[int, str] | None = None

    def add_name(self, ts: int, name: str) -> None:
        if self.name is None or (ts, name) > self.name:
            self.name = (ts, name)

    def add_sub(self, entry: Entry) -> None:
        insort(self.subs, entry)
        if entry[1] == CANCELLED:
            self.cancels += 1
        self._prune()

    def add_pay(self, entry: Entry) -> None:
        insort(self.pays, entry)
        self._prune()

    def _prune(self) -> None:
        subs, pays = self.subs, self.pays
        ref = max(subs[-1][0] if subs else -NEVER, pays[-1][0] if pays else -NEVER)
        # entries at or after the cut are kept; (cut,) sorts before any (cut, ...) entry
        cut = bisect_left(subs, (ref - SUBS_KEEP_DAYS * US_PER_DAY,)) - 1
        if cut > 0:
            del subs[:cut]
        cut = bisect_left(pays, (ref - PAYS_KEEP_DAYS * US_PER_DAY,))
        if cut > 0:
            del pays[:cut]


def _dump_entries(entries: list[Entry]) -> list[list[Any]]:
    """``[ts, kind, amount, currency]``; the currency only when it differs from the
    previous entry's (cancellations are ``[ts, 3]``)."""
    out: list[list[Any]] = []
    last = ""
    for ts, kind, amount, cur in entries:
        if not cur:
            out.append([ts, kind])
        elif cur == last:
            out.append([ts, kind, amount])
        else:
            out.append([ts, kind, amount, cur])
            last = cur
    return out


def _load_entries(raw: list[list[Any]]) -> list[Entry]:
    out: list[Entry] = []
    last = ""
    for item in raw:
        if len(item) == 2:
            out.append((int(item[0]), int(item[1]), 0, ""))
            continue
        if len(item) > 3:
            last = str(item[3])
        out.append((int(item[0]), int(item[1]), int(item[2]), last))
    return out


def dump_state(state: RevenueState) -> dict[str, Any]:
    """Compact JSON-able form (empty parts omitted)."""
    out: dict[str, Any] = {"f": state.first}
    if state.subs:
        out["s"] = _dump_entries(state.subs)
    if state.pays:
        out["p"] = _dump_entries(state.pays)
    if state.cancels:
        out["c"] = state.cancels
    if state.name is not None:
        out["n"] = list(state.name)
    return out


def load_state(raw: dict[str, Any]) -> RevenueState:
    """Inverse of :func:`dump_state`."""
    return RevenueState(
        first=int(raw.get("f", NEVER)),
        subs=_load_entries(raw.get("s", [])),
        pays=_load_entries(raw.get("p", [])),
        cancels=int(raw.get("c", 0)),
        name=(int(raw["n"][0]), str(raw["n"][1])) if "n" in raw else None,
    )
