"""The fast path's digit-by-digit ``ts`` reader (``EventParser._time``) gives what the
datetime-based reader (``EventParser._time_text``, the earlier fast path) gives: the
same epoch microseconds and calendar day, or None for the same texts; and both agree
with datetime itself on the valid ones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.contract import EventParser
from stream_app.timeutil import day_of, to_us

ZONES = [
    UTC,
    ZoneInfo("Europe/Paris"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("America/St_Johns"),
    ZoneInfo("Australia/Lord_Howe"),  # half-hour DST
    ZoneInfo("America/Sao_Paulo"),  # DST that once began at midnight
]

ts_text = st.builds(
    lambda y, mo, d, sep1, h, mi, s, frac, off: f"{y}-{mo}-{d}{sep1}{h}:{mi}:{s}{frac}{off}",
    st.sampled_from(["0000", "0001", "0002", "1900", "1969", "1970", "2000", "2024", "2026"])
    | st.sampled_from(["2100", "9998", "9999", "20x6", "202", "٢٠٢٦"]),
    st.sampled_from(["00", "01", "02", "03", "10", "12", "13", "1", "0a"]),
    st.sampled_from(["00", "01", "28", "29", "30", "31", "32", "9", "-1"]),
    st.sampled_from(["T", "t", " ", "TT"]),
    st.sampled_from(["00", "01", "02", "03", "21", "22", "23", "24", "5", "+1"]),
    st.sampled_from(["00", "29", "30", "59", "60", "6"]),
    st.sampled_from(["00", "30", "59", "60", "61", "7"]),
    st.sampled_from(["", ".5", ".12", ".123", ".123456", ".1234567", ".", ".12a", ".٣"]),
    st.sampled_from(
        [
            "Z",
            "z",
            "+00:00",
            "-00:00",
            "+05:30",
            "-03:30",
            "+23:59",
            "-23:59",
            "+24:00",
            "+01:60",
            "",
            "+0100",
            "+01",
            "+01:00:00",
            "*01:00",
            "+01-00",
            "ZZ",
        ]
    ),
)


@settings(max_examples=3000, deadline=None)
@given(ts=ts_text, tz=st.sampled_from(ZONES))
def test_digit_reader_agrees_with_datetime_reader(ts: str, tz: Any) -> None:
    parser = EventParser(tz)
    assert parser._time(ts) == EventParser(tz)._time_text(ts), ts
    assert parser._time(ts) == EventParser(tz)._time_text(ts), ts  # from the caches too


#: texts that share hour prefixes and offsets (valid or not) with their neighbours
shared = st.builds(
    lambda prefix, ms, frac, off: f"{prefix}{ms}{frac}{off}",
    st.sampled_from(
        ["2026-10-29T00", "2026-10-28T23", "2024-02-29T12", "0001-01-01T00", "2026-02-29T10"]
    ),
    st.sampled_from([":00:00", ":59:59", ":30:60", ":60:00", "-00:00", ":5:00", ":00:0"]),
    st.sampled_from(["", ".397", ".1234567", "."]),
    st.sampled_from(["Z", "+00:00", "-05:00", "-00:00", "+05:30", "+24:00", "+05-30", ""]),
)


@settings(max_examples=1000, deadline=None)
@given(texts=st.lists(ts_text | shared, min_size=2, max_size=12), tz=st.sampled_from(ZONES))
def test_one_reader_agrees_on_a_sequence(texts: list[str], tz: Any) -> None:
    """The reader remembers the last hour prefix and offset: a text sharing them, valid
    or not, still reads as the datetime reader reads it."""
    parser = EventParser(tz)
    for ts in texts:
        assert parser._time(ts) == EventParser(tz)._time_text(ts), (texts, ts)


@settings(max_examples=1500, deadline=None)
@given(
    when=st.datetimes(min_value=datetime(2, 1, 2), max_value=datetime(9998, 12, 30)),
    offset_min=st.integers(-23 * 60 - 59, 23 * 60 + 59),
    digits=st.integers(0, 6),
    tz=st.sampled_from(ZONES),
)
def test_valid_times_read_exactly(when: datetime, offset_min: int, digits: int, tz: Any) -> None:
    sign = "-" if offset_min < 0 else "+"
    off = (
        "Z" if offset_min == 0 else f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    )
    frac = f".{when.microsecond:06d}"[: digits + 1] if digits else ""
    text = (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
        f"T{when.hour:02d}:{when.minute:02d}:{when.second:02d}{frac}{off}"
    )
    expected = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert EventParser(tz)._time(text) == (to_us(expected), day_of(expected, tz)), text


@pytest.mark.parametrize("tz", ZONES)
def test_a_day_of_times_in_order_across_local_midnights(tz: Any) -> None:
    """Consecutive times (the per-hour memo of the reader) around the year's DST changes."""
    parser = EventParser(tz)
    for month, day in ((3, 29), (10, 25), (4, 5), (10, 4), (11, 1), (2, 16)):
        for minute in range(0, 48 * 60, 7):
            h, m = divmod(minute, 60)
            d, h = divmod(h, 24)
            text = f"2026-{month:02d}-{day + d:02d}T{h:02d}:{m:02d}:13.250Z"
            expected = datetime.fromisoformat(text.replace("Z", "+00:00"))
            assert parser._time(text) == (to_us(expected), day_of(expected, tz)), text
