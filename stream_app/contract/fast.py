"""The contract's fast path: a parser that checks the common shape of each declared type
by hand and builds the :class:`Event` the core applies.

:mod:`stream_app.contract.models` (pydantic) is the definition of validity; validating with it
costs ~10 us a message, more than everything else the core does. :class:`EventParser`
accepts a message only when it is certain pydantic would accept it with the same values
(plain RFC 3339 ``ts``, integers that are JSON integers, strings within their bounds, no
extra fields) and hands anything else to pydantic, which decides and gives the reason.
So the fast path changes speed, never the outcome (``tests/test_contract_fast.py``
checks that on random near-valid input).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import orjson

from stream_app.contract.declared import EVENT_TYPES_DECLARED, EventType, Text
from stream_app.contract.event import Event
from stream_app.contract.kinds import Check, checker
from stream_app.contract.models import EventModel, Rejection
from stream_app.contract.models import parse_event as parse_with_pydantic
from stream_app.timeutil import day_of, from_us, to_us

#: an RFC 3339 time in three parts (ASCII digits only): "YYYY-MM-DDTHH", ":MM:SS" and
#: ".ffffff" (optional, 1 to 6 digits) + "Z" or "+HH:MM"
_HOUR = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}")
_WITHIN_HOUR = {f":{m:02d}:{s:02d}": (m * 60 + s) * 1_000_000 for m in range(60) for s in range(60)}
_TAIL = re.compile(r"(?:\.([0-9]{1,6}))?(Z|[+-][0-9]{2}:[0-9]{2})")
_CACHE_LIMIT = 200_000


def _of_model(model: EventModel) -> Event:
    # an optional field sent as null reads as absent: its attribute's default
    fields = {k: v for k, v in model.model_dump().items() if v is not None}
    fields["us"] = to_us(fields.pop("ts"))
    return Event(**fields)


@dataclass(frozen=True)
class _Spec:
    """What the fast path checks of one event type, derived from its declaration."""

    #: required strings: (name, min length, max length), checked inline (the common case)
    strings: tuple[tuple[str, int, int], ...]
    #: other required fields: (name, check)
    others: tuple[tuple[str, Check], ...]
    #: optional fields: (name, check)
    optional: tuple[tuple[str, Check], ...]
    #: fields whose bounds depend on another's value: (name, other, value -> check)
    dependent: tuple[tuple[str, str, dict[str, Check]], ...]
    #: every field kept on the event (``ts`` excluded: it becomes ``us``)
    names: tuple[str, ...]
    #: how many fields an event has without optional ones: event_id, type, ts and the
    #: required ones
    required: int


def _spec(t: EventType) -> _Spec:
    required = [f for f in t.fields if not f.optional]
    return _Spec(
        strings=tuple(
            (f.name, f.kind.min_len, f.kind.max_len) for f in required if isinstance(f.kind, Text)
        ),
        others=tuple((f.name, checker(f.kind)) for f in required if not isinstance(f.kind, Text)),
        optional=tuple((f.name, checker(f.kind)) for f in t.fields if f.optional),
        dependent=tuple(
            (f.name, f.depends_on.field, {v: checker(k) for v, k in f.depends_on.bounds.items()})
            for f in t.fields
            if f.depends_on is not None
        ),
        names=("event_id", "type", *(f.name for f in t.fields)),
        required=3 + len(required),
    )


#: event type -> what the fast path checks
_SPECS: dict[str, _Spec] = {t.name: _spec(t) for t in EVENT_TYPES_DECLARED}


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

    def parse(self, raw: bytes | str, decoded: object = None) -> tuple[Event, int] | Rejection:
        """Validate one message body; never raises on bad input. ``decoded``: what
        ``orjson.loads(raw)`` gave, when the caller has it (it becomes the event's fields:
        the caller must not use it afterwards)."""
        if self.max_bytes is not None and len(raw) > self.max_bytes:
            return Rejection("too_large", f"{len(raw)} bytes > {self.max_bytes}")
        fast = self._fast(raw, decoded)
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

    def _fast(self, raw: bytes | str, decoded: object = None) -> tuple[Event, int] | None:
        """The event when it certainly is valid, else None (pydantic decides)."""
        d = decoded
        if d is None:
            try:
                d = orjson.loads(raw)
            except ValueError:
                return None
        if type(d) is not dict:
            return None
        # required fields read by subscript: a missing one (KeyError) defers to pydantic
        try:
            kind = d["type"]
            spec = _SPECS[kind] if type(kind) is str else None
            if spec is None:
                return None
            v = d["event_id"]
            if type(v) is not str or not 0 < len(v) <= 128:
                return None
            for name, low, high in spec.strings:
                v = d[name]
                if type(v) is not str or not low <= len(v) <= high:
                    return None
            for name, ok in spec.others:
                if not ok(d[name]):
                    return None
            ts = d["ts"]
        except KeyError:
            return None
        keep = spec.required  # + event_id, type, ts
        for name, ok in spec.optional:
            if name in d:
                if not ok(d[name]):  # null too: pydantic's path drops it
                    return None
                keep += 1
        for name, other, bounds in spec.dependent:
            bound = bounds.get(d[other]) if other in d else None
            v = d.get(name)
            if bound is not None and v is not None and not bound(v):
                return None
        if type(ts) is not str:
            return None
        when = self._time(ts)
        if when is None:
            return None
        if len(d) != keep:  # extra fields are ignored, as pydantic does
            d = {k: d[k] for k in spec.names if k in d}
        else:
            del d["ts"]
        d["us"] = when[0]
        event = Event.__new__(Event)
        event.__dict__ = d
        return event, when[1]

    def _time(self, ts: str) -> tuple[int, int] | None:
        """(epoch us, day) of an RFC 3339 ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM)``; each
        of its three parts is validated once and cached."""
        try:  # the cached parts: a KeyError is a part not met yet, or an invalid one
            frac, offset = self._tails[ts[19:]]
        except KeyError:
            tail = self._tail(ts[19:])
            if tail is None:
                return None
            frac, offset = tail
        try:
            hour_us, day = self._hours[ts[:13], offset]
        except KeyError:
            hour = self._hour(ts[:13], offset)
            if hour is None:
                return None
            hour_us, day = hour
        try:
            us = hour_us + _WITHIN_HOUR[ts[13:19]] + frac
        except KeyError:
            return None
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
