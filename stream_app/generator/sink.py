"""The per-day event buffer that the simulation steps append to."""

from __future__ import annotations

from stream_app.generator.clock import MS_PER_DAY, UTC_TZ, Item, Tz

__all__ = ["DaySink", "Item"]


class DaySink:
    """Collects one simulated UTC day's events as :data:`Item` (millisecond of the day).

    Events are appended in generation order; a stable sort on the time keeps that order
    for events of the same millisecond, which makes the output deterministic.
    """

    __slots__ = ("day_end", "day_start", "items")

    def __init__(self, day_start: int, day_end: int) -> None:
        self.day_start = day_start  # microseconds since the epoch
        self.day_end = day_end
        self.items: list[Item] = []

    def add(self, ts_us: int, event: dict[str, object], tz: Tz = UTC_TZ) -> None:
        """Add an event at ``ts_us`` (clamped into the day, truncated to the millisecond)."""
        ms = (ts_us - self.day_start) // 1_000
        if ms >= MS_PER_DAY:
            ms = MS_PER_DAY - 1
        elif ms < 0:
            ms = 0
        self.items.append((ms, tz, event))
