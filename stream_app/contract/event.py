"""The event the core applies: the declared fields as attributes (generated).

Written by ``stream-app schemas`` from :mod:`stream_app.contract.declared`; do not edit.
A field absent from an event reads as its default.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stream_app.timeutil import from_us


class Event:
    """A valid event: the contract's fields plus ``us``, its time in epoch µs."""

    event_id: str = ""
    type: str = ""
    us: int = 0
    account_id: str = ""
    user_id: str = ""
    account_name: str | None = None
    feature: str = ""
    milestone: str = ""
    plan: str = ""
    mrr: int = 0
    currency: str = ""
    reason: str | None = None
    amount: int = 0
    survey: str = ""
    score: int = 0
    ticket_id: str = ""
    channel: str = ""
    contacts: int = 0
    checkout_id: str = ""
    order_id: str = ""
    visitor_id: str = ""
    path: str = ""
    referrer: str | None = None
    engaged_ms: int = 0
    max_scroll_pct: int = 0
    link: str = ""
    answer: str = ""
    source: str = ""
    category: str = ""
    interaction: str = ""
    sentiment: str | None = None

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    @property
    def ts(self) -> datetime:
        """The event time (UTC)."""
        return from_us(self.us)

    def __repr__(self) -> str:
        return f"Event({self.__dict__!r})"

