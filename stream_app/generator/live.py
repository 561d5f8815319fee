"""The company after its history, at wall-clock pace, for a live demo."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from stream_app.generator.clock import (
    US_PER_DAY,
    TsFormatter,
    Tz,
    ceil_ms,
    floor_ms,
)
from stream_app.generator.company import Company
from stream_app.generator.config import GeneratorConfig
from stream_app.generator.noise import Noise
from stream_app.timeutil import from_us, to_us


class LiveSimulation:
    """Continues the company of :func:`generate_history` with the same config after ``end``.

    The company's state is rebuilt by re-simulating the history window without product
    activity (a small fraction of the work of generating it). :meth:`events_between` then
    simulates further days on demand. Only events after the history's ``end`` are ever
    returned, each at most once (plus injected duplicates, if configured), so the history
    followed by consecutive intervals is one consistent stream: same accounts, users,
    subscriptions, open tickets. With ``end=None`` the config is resolved to "now" here;
    pass the resolved :attr:`cfg` to :func:`generate_history` to pair the two.
    """

    def __init__(self, cfg: GeneratorConfig, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, not {speed}")
        #: simulated seconds per wall-clock second after the history's end (1: real time;
        #: the demo runs faster so that its table moves every second). The events keep
        #: the wall clock in ``ts``: a simulated instant s is stamped end + (s - end) / speed.
        self.speed = speed
        self._company = Company(cfg, activity_stream="live")
        self.cfg = self._company.cfg
        self._history_end_us = self._company.end_us
        self._first_us = floor_ms(self._history_end_us) + 1_000  # history keeps the rest
        self._fmt = TsFormatter()
        self._noise = Noise(self.cfg, "live")
        self._buffer: deque[tuple[int, Tz, dict[str, object]]] = deque()
        while self._company.next_day < self._history_end_us // US_PER_DAY:
            self._company.simulate_day(activity=False)

    @property
    def history_end(self) -> datetime:
        """The end of the history this simulation continues."""
        return from_us(self._history_end_us)

    def events_between(self, start: datetime, end: datetime) -> list[dict[str, object]]:
        """Events with ``start <= ts < end`` not returned before, in ascending ``ts`` order.

        Events of a skipped stretch (before ``start`` and after the previous call) are lost,
        like a consumer that was not listening; intervals must be timezone-aware. With a
        ``speed`` other than 1, ``start`` and ``end`` are wall-clock times: the events of
        the simulated stretch they stand for are returned, stamped with the wall clock.
        """
        if start.utcoffset() is None or end.utcoffset() is None:
            raise ValueError("start and end must be timezone-aware")
        # the bounds apply to the ts as written (whole milliseconds)
        low = max(ceil_ms(self._simulated(to_us(start))), self._first_us)
        high = ceil_ms(self._simulated(to_us(end)))
        company, buffer = self._company, self._buffer
        while company.next_day * US_PER_DAY < high:
            day_start = company.next_day * US_PER_DAY
            buffer.extend(
                (day_start + ms * 1_000, tz, event) for ms, tz, event in company.simulate_day()
            )
        out: list[dict[str, object]] = []
        fmt = self._fmt
        while buffer and buffer[0][0] < high:
            ts, tz, event = buffer.popleft()
            if ts >= low:
                event["ts"] = fmt(self._wall(ts), tz)
                out.append(event)
        return self._noise.apply(out)

    def _simulated(self, wall_us: int) -> int:
        """The simulated instant a wall-clock instant stands for."""
        if self.speed == 1.0:
            return wall_us
        end = self._history_end_us
        return end + int((wall_us - end) * self.speed)

    def _wall(self, simulated_us: int) -> int:
        """The wall-clock ``ts`` of a simulated instant (whole milliseconds, monotonic)."""
        if self.speed == 1.0:
            return simulated_us
        end = self._history_end_us
        return floor_ms(end + int((simulated_us - end) / self.speed))
