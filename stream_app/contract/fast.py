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
from typing import Final

import orjson

from stream_app.contract.declared import EVENT_TYPES_DECLARED, EventType, Text
from stream_app.contract.event import Event
from stream_app.contract.kinds import Check, checker
from stream_app.contract.models import EventModel, Rejection
from stream_app.contract.models import parse_event as parse_with_pydantic
from stream_app.timeutil import day_of, from_us, to_us

#: an RFC 3339 time in three parts (ASCII digits only): "YYYY-MM-DDTHH", ":MM:SS" and
#: ".ffffff" (optional, 1 to 6 digits) + "Z" or "+HH:MM"
_HOUR: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}")
_WITHIN_HOUR: Final = {
    f":{m:02d}:{s:02d}": (m * 60 + s) * 1_000_000 for m in range(60) for s in range(60)
}
_TAIL: Final = re.compile(r"(?:\.([0-9]{1,6}))?(Z|[+-][0-9]{2}:[0-9]{2})")
_LOADS: Final = orjson.loads
_CACHE_LIMIT: Final = 200_000
#: no day cached yet; a UTC hour with a local midnight inside (days are far from both)
_NO_DAY: Final = -(2**62)
_SPLIT: Final = _NO_DAY + 1
#: a prefix of the years 1 and 9999 (where an offset or the zone may leave datetime's range)
_EDGE: Final = _NO_DAY + 2
#: the fraction's digits -> the factor that makes them microseconds
_SCALE: Final = (0, 100_000, 10_000, 1_000, 100, 10, 1)
_LAST_OF_HOUR: Final = timedelta(minutes=59, seconds=59, microseconds=999_999)
_MONTH_DAYS: Final = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _d2(text: str, i: int) -> int:
    """The two ASCII digits of ``text`` at ``i`` as a number, negative when either is not
    one (``i + 1`` is within ``text``)."""
    hi = ord(text[i]) - 48
    lo = ord(text[i + 1]) - 48
    if hi < 0 or hi > 9 or lo < 0 or lo > 9:
        return -1000
    return hi * 10 + lo


def _month_days(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_DAYS[month]


def _days_from_civil(year: int, month: int, mday: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (year >= 1; H. Hinnant's
    algorithm)."""
    if month <= 2:
        year -= 1
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + mday - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


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
_SPECS: Final[dict[str, _Spec]] = {t.name: _spec(t) for t in EVENT_TYPES_DECLARED}


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
        #: UTC hour (hours since the epoch) -> its calendar day in ``tz`` (or _SPLIT), and
        #: the last one asked for (events come mostly in time order)
        self._days: dict[int, int] = {}
        self._last_hour = _NO_DAY
        self._last_day = _NO_DAY
        #: the last ``YYYY-MM-DDTHH`` read and its seconds from the epoch (as UTC); the
        #: last ``+HH:MM`` read and its seconds
        self._prefix = "-"  # matches no valid time
        self._prefix_s = 0
        self._offset_text = "-"
        self._offset_s = 0

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
                d = _LOADS(raw)
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
        """(epoch us, day) of an RFC 3339 ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM)``, read
        digit by digit (no datetime): the ``YYYY-MM-DDTHH`` prefix and the offset are
        compared with the last ones read (events come mostly in time order, with few
        offsets), so the common case reads the minutes, seconds and fraction only; the
        calendar day in ``tz`` comes from a per-UTC-hour cache."""
        n = len(ts)
        if n < 20:
            return None
        if ts.startswith(self._prefix):
            hour_s = self._prefix_s
        else:
            hour_s = self._read_prefix(ts)
            if hour_s == _NO_DAY:
                return None
            if hour_s == _EDGE:  # years 1 and 9999: datetime decides
                return self._time_text(ts)
        minute = _d2(ts, 14)
        second = _d2(ts, 17)
        if (
            minute < 0
            or minute > 59
            or second < 0
            or second > 59
            or ord(ts[13]) != 58  # ":"
            or ord(ts[16]) != 58
        ):
            return None
        i = 19
        frac = 0
        if ord(ts[i]) == 46:  # "."
            i += 1
            first = i
            while i < n:
                c = ord(ts[i]) - 48
                if c < 0 or c > 9:
                    break
                frac = frac * 10 + c
                i += 1
            digits = i - first
            if digits < 1 or digits > 6:
                return None
            frac *= _SCALE[digits]
        rest = n - i
        if rest == 1 and ord(ts[i]) == 90:  # "Z"
            offset = 0
        elif rest == 6 and ts.endswith(self._offset_text):
            offset = self._offset_s
        else:
            offset = self._read_offset(ts, i)
            if offset == _NO_DAY:
                return None
        seconds = hour_s + minute * 60 + second - offset
        us = seconds * 1_000_000 + frac
        utc_hour = seconds // 3600
        if utc_hour == self._last_hour:
            day = self._last_day
        else:
            day = self._days.get(utc_hour, _NO_DAY)
            if day == _NO_DAY:
                day = self._hour_day(utc_hour)
            self._last_hour = utc_hour
            self._last_day = day
        if day == _SPLIT:  # a local midnight inside this UTC hour
            day = day_of(from_us(us), self.tz)
        return us, day

    def _read_prefix(self, ts: str) -> int:
        """The seconds from the epoch to the ``YYYY-MM-DDTHH`` of ``ts`` read as UTC, kept
        as the prefix :meth:`_time` compares with; :data:`_NO_DAY` when it is not a valid
        date and hour, :data:`_EDGE` for the years 1 and 9999."""
        century = _d2(ts, 0)
        year = century * 100 + _d2(ts, 2)
        month = _d2(ts, 5)
        mday = _d2(ts, 8)
        hour = _d2(ts, 11)
        if (
            century < 0
            or year < century * 100
            or month < 1
            or month > 12
            or mday < 1
            or hour < 0
            or hour > 23
            or ord(ts[4]) != 45  # "-"
            or ord(ts[7]) != 45
            or ord(ts[10]) != 84  # "T"
        ):
            return _NO_DAY
        if year <= 1 or year >= 9999:
            return _EDGE
        if mday > _month_days(year, month):
            return _NO_DAY
        hour_s = _days_from_civil(year, month, mday) * 86400 + hour * 3600
        self._prefix = ts[:13]
        self._prefix_s = hour_s
        return hour_s

    def _read_offset(self, ts: str, i: int) -> int:
        """The UTC offset in seconds of the ``+HH:MM`` that ends ``ts`` at ``i``, kept as
        the offset :meth:`_time` compares with; :data:`_NO_DAY` when it is not one."""
        if len(ts) - i != 6 or ord(ts[i + 3]) != 58:  # ":"
            return _NO_DAY
        sign = ord(ts[i])
        off_h = _d2(ts, i + 1)
        off_m = _d2(ts, i + 4)
        if off_h < 0 or off_h > 23 or off_m < 0 or off_m > 59:
            return _NO_DAY
        offset = (off_h * 60 + off_m) * 60
        if sign == 45:  # "-"
            if offset == 0:
                return _NO_DAY  # "-00:00": "unknown offset" in RFC 3339, pydantic decides
            offset = -offset
        elif sign != 43:  # "+"
            return _NO_DAY
        self._offset_text = ts[i:]
        self._offset_s = offset
        return offset

    def _hour_day(self, utc_hour: int) -> int:
        """The calendar day in ``tz`` of every instant of a UTC hour, or :data:`_SPLIT`
        when a local midnight falls inside it (cached)."""
        start = from_us(utc_hour * 3_600_000_000)
        first = day_of(start, self.tz)
        last = day_of(start + _LAST_OF_HOUR, self.tz)
        day = first if first == last else _SPLIT
        if len(self._days) >= _CACHE_LIMIT:
            self._days.clear()
        self._days[utc_hour] = day
        return day

    def _time_text(self, ts: str) -> tuple[int, int] | None:
        """:meth:`_time` through datetime: each of the three parts of ``ts`` is validated
        once and cached (the edge years)."""
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
