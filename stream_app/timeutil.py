"""Calendar days of event time in the configured timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def to_us(ts: datetime) -> int:
    """Exact integer microseconds since the epoch of an aware datetime (no float)."""
    return (ts - _EPOCH) // _ONE_US


def from_us(us: int) -> datetime:
    """The UTC datetime of epoch microseconds (inverse of :func:`to_us`)."""
    return _EPOCH + us * _ONE_US


def day_of(ts: datetime, tz: tzinfo) -> int:
    """The calendar day (days since 1970-01-01) of ``ts`` in ``tz``."""
    return ts.astimezone(tz).date().toordinal() - _EPOCH_ORDINAL


def day_start(day: int, tz: tzinfo) -> datetime:
    """00:00 of ``day`` in ``tz``, as an aware datetime."""
    local = datetime.combine(date.fromordinal(day + _EPOCH_ORDINAL), datetime.min.time())
    return local.replace(tzinfo=tz)


def day_label(day: int) -> str:
    """ISO date of a day number (for logs and docs)."""
    return date.fromordinal(day + _EPOCH_ORDINAL).isoformat()


def parse_as_of(text: str) -> datetime:
    """Parse an RFC 3339 time given on the command line (an offset is required)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (write e.g. {text}Z)")
    return value


def utc_now() -> datetime:
    """The wall clock (the live worker's T)."""
    return datetime.now(UTC)
