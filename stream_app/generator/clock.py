"""Integer-microsecond time arithmetic, fast RFC 3339 formatting and event ids."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from random import Random

US_PER_SEC = 1_000_000
US_PER_HOUR = 3_600 * US_PER_SEC
US_PER_DAY = 24 * US_PER_HOUR

_EPOCH_DATE = date(1970, 1, 1)

#: how an event's ``ts`` is written: (UTC offset in milliseconds, suffix such as "+02:00")
Tz = tuple[int, str]
#: a simulated event of one UTC day: (milliseconds since the day's start, ts offset, event
#: without its ts). Times within a day fit CPython's fast small ints.
Item = tuple[int, Tz, dict[str, object]]

MS_PER_DAY = US_PER_DAY // 1_000


def make_tz(offset_minutes: int) -> Tz:
    """The :data:`Tz` for a UTC offset in minutes."""
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return offset_minutes * 60_000, f"{sign}{hours:02d}:{minutes:02d}"


UTC_TZ: Tz = make_tz(0)


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole calendar months (the day clamped to the month's length)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    first_next = date(year + month // 12, month % 12 + 1, 1)
    last_day = (first_next - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def floor_ms(us: int) -> int:
    """``us`` rounded down to a whole millisecond (what its formatted ``ts`` shows)."""
    return us - us % 1_000


def ceil_ms(us: int) -> int:
    """``us`` rounded up to a whole millisecond."""
    return -(-us // 1_000) * 1_000


@cache
def _clock_faces() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """ "HH:MM:SS" for every second of a day (about 5 MB) and ".mmm" for every millisecond."""
    seconds = tuple(
        f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)
    )
    return seconds, tuple(f".{ms:03d}" for ms in range(1_000))


class TsFormatter:
    """Formats microsecond timestamps as RFC 3339 with an offset and millisecond precision
    ("2026-11-22T10:11:12.345+02:00"; truncated, so the order of events is kept), from
    cached pieces: per-day date prefixes, per-second clock faces, per-millisecond fractions.
    """

    __slots__ = ("_millis", "_prefix", "_seconds")

    def __init__(self) -> None:
        self._prefix: dict[int, str] = {}
        self._seconds, self._millis = _clock_faces()

    def _day(self, day: int) -> str:
        prefix = self._prefix.get(day)
        if prefix is None:
            prefix = (_EPOCH_DATE + timedelta(days=day)).isoformat() + "T"
            self._prefix[day] = prefix
        return prefix

    def __call__(self, ts_us: int, tz: Tz) -> str:
        day, local = divmod(ts_us // 1_000 + tz[0], MS_PER_DAY)
        sec, milli = divmod(local, 1_000)
        return self._day(day) + self._seconds[sec] + self._millis[milli] + tz[1]

    def stamp(self, items: list[Item], day: int, low: int, high: int) -> list[dict[str, object]]:
        """Set the ``ts`` of the events of UTC day ``day`` (days since the epoch) whose
        time (microseconds since the epoch) is in ``[low, high)``; returns those events."""
        out: list[dict[str, object]] = []
        append, seconds, millis = out.append, self._seconds, self._millis
        before, today, after = self._day(day - 1), self._day(day), self._day(day + 1)
        day_start = day * US_PER_DAY
        low_ms, high_ms = -((day_start - low) // 1_000), -((day_start - high) // 1_000)
        for ms, (offset, suffix), event in items:
            if low_ms <= ms < high_ms:
                local = ms + offset
                if local < 0:
                    prefix, local = before, local + MS_PER_DAY
                elif local >= MS_PER_DAY:
                    prefix, local = after, local - MS_PER_DAY
                else:
                    prefix = today
                sec, milli = divmod(local, 1_000)
                event["ts"] = prefix + seconds[sec] + millis[milli] + suffix
                append(event)
        return out


def new_id(rng: Random) -> str:
    """A random 128-bit id in hex (like ``uuid4().hex``), drawn from ``rng`` so it is
    reproducible."""
    return rng.getrandbits(128).to_bytes(16, "little").hex()


def derived_rng(seed: int, *parts: object) -> Random:
    """An independent, reproducible stream for ``(seed, *parts)`` (string seeds are stable)."""
    return Random("/".join([str(seed), *map(str, parts)]))
