"""The contract's fast path: the events the core applies, and a parser that checks the
common shape of each type by hand.

``stream_app.contract`` (pydantic) is the definition of contract v1; validating with it
costs ~10 us a message, more than everything else the core does. :class:`EventParser`
accepts a message only when it is certain pydantic would accept it with the same values
(plain RFC 3339 ``ts``, integers that are JSON integers, strings within their bounds, no
extra fields) and hands anything else to pydantic, which decides and gives the reason.
So the fast path changes speed, never the outcome (``tests/test_contract_fast.py``
checks that on random near-valid input).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import orjson

from stream_app.contract import CHANNELS, INT64_MAX, SURVEY_RANGES, AnyEvent, Rejection
from stream_app.contract import parse_event as parse_with_pydantic
from stream_app.timeutil import day_of, from_us, to_us

#: an RFC 3339 time in three parts (ASCII digits only): "YYYY-MM-DDTHH", ":MM:SS" and
#: ".ffffff" (optional, 1 to 6 digits) + "Z" or "+HH:MM"
_HOUR = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}")
_WITHIN_HOUR = {
    f":{m:02d}:{s:02d}": (m * 60 + s) * 1_000_000 for m in range(60) for s in range(60)
}
_TAIL = re.compile(r"(?:\.([0-9]{1,6}))?(Z|[+-][0-9]{2}:[0-9]{2})")
_CACHE_LIMIT = 200_000


class Event:
    """A valid event as the core sees it: the contract's fields as attributes (absent
    ones read as their empty default) plus ``us``, its time in epoch microseconds."""

    event_id: str = ""
    type: str = ""
    account_id: str = ""
    us: int = 0
    user_id: str = ""
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

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    @property
    def ts(self) -> datetime:
        """The event time (UTC)."""
        return from_us(self.us)

    def __repr__(self) -> str:
        return f"Event({self.__dict__!r})"


def _of_model(model: AnyEvent) -> Event:
    fields = model.model_dump()
    fields["us"] = to_us(fields.pop("ts"))
    return Event(**fields)


def _money(v: Any) -> bool:
    return type(v) is int and 0 <= v <= INT64_MAX


def _currency(v: Any) -> bool:
    return type(v) is str and len(v) == 3 and v.isascii() and v.isalpha() and v.isupper()


def _contacts(v: Any) -> bool:
    return type(v) is int and 1 <= v <= INT64_MAX


def _survey(v: Any) -> bool:
    return v in SURVEY_RANGES if type(v) is str else False


def _channel(v: Any) -> bool:
    return v in CHANNELS if type(v) is str else False


def _score(v: Any) -> bool:
    return type(v) is int and 0 <= v <= 10  # the survey's own range is checked after


Spec = tuple[tuple[tuple[str, int], ...], tuple[tuple[str, Any], ...]]
_USER: Spec = ((("user_id", 128),), ())
_SUB: Spec = ((("plan", 128),), (("mrr", _money), ("currency", _currency)))
_PAY: Spec = ((), (("amount", _money), ("currency", _currency)))
_CANCELLED: Spec = ((), ())  # ``reason`` is optional: checked apart
_SURVEY: Spec = ((("user_id", 128),), (("survey", _survey), ("score", _score)))
#: event type -> the fields beyond event_id, type, ts, account_id: (strings with their
#: maximum length, others with their check)
_SPECS: dict[str, Spec] = {
    "user_signed_up": _USER,
    "session_started": _USER,
    "referral_sent": _USER,
    "feature_used": ((("user_id", 128), ("feature", 64)), ()),
    "milestone_reached": ((("user_id", 128), ("milestone", 64)), ()),
    "subscription_started": _SUB,
    "subscription_changed": _SUB,
    "subscription_renewed": _SUB,
    "subscription_cancelled": _CANCELLED,
    "payment_failed": _PAY,
    "invoice_paid": _PAY,
    "survey_answered": _SURVEY,
    "ticket_opened": ((("ticket_id", 128),), (("channel", _channel),)),
    "ticket_resolved": ((("ticket_id", 128),), (("contacts", _contacts),)),
}
_NAMES = {
    t: ("event_id", "type", "account_id", *(n for n, _ in a), *(n for n, _ in b))
    for t, (a, b) in _SPECS.items()
}


class EventParser:
    """Bytes -> (event, calendar day in ``tz``) or a :class:`Rejection`."""

    def __init__(self, tz: tzinfo, max_bytes: int | None = None) -> None:
        self.tz = tz
        self.max_bytes = max_bytes
        #: ("YYYY-MM-DDTHH", offset) -> (epoch us of that hour, its day in ``tz``, or None
        #: when a local midnight falls inside the hour)
        self._hours: dict[tuple[str, str], tuple[int, int | None]] = {}
        #: ".ffffff+HH:MM" -> (microseconds, offset)
        self._tails: dict[str, tuple[int, str]] = {}

    def parse(self, raw: bytes | str) -> tuple[Event, int] | Rejection:
        """Validate one message body; never raises on bad input."""
        if self.max_bytes is not None and len(raw) > self.max_bytes:
            return Rejection("too_large", f"{len(raw)} bytes > {self.max_bytes}")
        fast = self._fast(raw)
        if fast is not None:
            return fast
        model = parse_with_pydantic(raw)
        if isinstance(model, Rejection):
            return model
        try:
            day = day_of(model.ts, self.tz)
            model.ts.timestamp()
        except (OverflowError, ValueError) as exc:
            return Rejection("invalid_timestamp", f"ts: {exc}")
        return _of_model(model), day

    def _fast(self, raw: bytes | str) -> tuple[Event, int] | None:
        """The event when it certainly is valid, else None (pydantic decides)."""
        try:
            d = orjson.loads(raw)
        except ValueError:
            return None
        if type(d) is not dict:
            return None
        kind = d.get("type")
        spec = _SPECS.get(kind) if type(kind) is str else None
        if spec is None:
            return None
        v = d.get("event_id")
        if type(v) is not str or not 0 < len(v) <= 128:
            return None
        v = d.get("account_id")
        if type(v) is not str or not 0 < len(v) <= 128:
            return None
        strings, others = spec
        for name, limit in strings:
            v = d.get(name)
            if type(v) is not str or not 0 < len(v) <= limit:
                return None
        for name, ok in others:
            if not ok(d.get(name)):
                return None
        keep = 4 + len(strings) + len(others)
        if spec is _CANCELLED and "reason" in d:
            reason = d["reason"]
            if reason is not None and not (type(reason) is str and len(reason) <= 1024):
                return None
            keep += 1
        elif spec is _SURVEY:
            low, high = SURVEY_RANGES[d["survey"]]
            if not low <= d["score"] <= high:
                return None
        ts = d.get("ts")
        if type(ts) is not str:
            return None
        when = self._time(ts)
        if when is None:
            return None
        if len(d) != keep:  # extra fields are ignored, as pydantic does
            names = _NAMES[kind]  # type: ignore[index]
            if keep > len(names) + 1:  # a cancellation with a reason
                names = (*names, "reason")
            d = {k: d[k] for k in names}
        else:
            del d["ts"]
        d["us"] = when[0]
        event = Event.__new__(Event)
        event.__dict__ = d
        return event, when[1]

    def _time(self, ts: str) -> tuple[int, int] | None:
        """(epoch us, day) of an RFC 3339 ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM)``; each
        of its three parts is validated once and cached."""
        tail = self._tails.get(ts[19:])
        if tail is None:
            tail = self._tail(ts[19:])
            if tail is None:
                return None
        hour = self._hours.get((ts[:13], tail[1]))
        if hour is None:
            hour = self._hour(ts[:13], tail[1])
            if hour is None:
                return None
        within = _WITHIN_HOUR.get(ts[13:19])
        if within is None:
            return None
        us = hour[0] + within + tail[0]
        day = hour[1]
        if day is None:
            day = day_of(from_us(us), self.tz)
        return us, day

    def _tail(self, text: str) -> tuple[int, str] | None:
        m = _TAIL.fullmatch(text)
        if m is None:
            return None
        frac, offset = m.groups()
        if len(self._tails) >= _CACHE_LIMIT:
            self._tails.clear()
        tail = self._tails[text] = (int(frac.ljust(6, "0")) if frac else 0, offset)
        return tail

    def _hour(self, text: str, offset: str) -> tuple[int, int | None] | None:
        if _HOUR.fullmatch(text) is None:
            return None
        try:
            if offset == "Z":
                tz: tzinfo = UTC
            elif offset == "-00:00":
                return None  # "unknown offset" in RFC 3339: pydantic decides
            else:
                hours, minutes = int(offset[1:3]), int(offset[4:6])
                if hours > 23 or minutes > 59:
                    return None
                delta = timedelta(hours=hours, minutes=minutes)
                tz = timezone(-delta if offset[0] == "-" else delta)
            start = datetime(
                int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), tzinfo=tz
            )
            first = day_of(start, self.tz)
            last = day_of(start + timedelta(minutes=59, seconds=59, microseconds=999_999), self.tz)
            us = to_us(start)
        except (OverflowError, ValueError):
            return None
        if len(self._hours) >= _CACHE_LIMIT:
            self._hours.clear()
        hour = self._hours[(text, offset)] = (us, first if first == last else None)
        return hour
