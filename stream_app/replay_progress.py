"""Progress of ``stream-app replay`` on stderr: a rich progress bar on a terminal, a quiet
line every few seconds otherwise (a log gets no ``\\r`` and no escape codes)."""

from __future__ import annotations

import time
from typing import IO, Protocol


class Progress(Protocol):
    def update(self, done_bytes: int, lines: int) -> None: ...

    def finish(self) -> None: ...


class BarProgress:
    """A rich progress bar: share of the input bytes, lines, lines/s, time left."""

    def __init__(self, stream: IO[str], total_bytes: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._started = time.monotonic()
        self._bar = RichProgress(
            TextColumn("replay"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[lines]:,} lines · {task.fields[rate]:,.0f}/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self._task = self._bar.add_task("replay", total=max(total_bytes, 1), lines=0, rate=0.0)
        self._bar.start()

    def update(self, done_bytes: int, lines: int) -> None:
        elapsed = time.monotonic() - self._started
        rate = lines / elapsed if elapsed > 0 else 0.0
        self._bar.update(self._task, completed=done_bytes, lines=lines, rate=rate)

    def finish(self) -> None:
        self._bar.stop()


class LineProgress:
    """One plain line at most every ``interval`` seconds (for logs and pipes)."""

    def __init__(self, stream: IO[str], total_bytes: int, interval: float = 10.0) -> None:
        self.stream = stream
        self.total = max(total_bytes, 1)
        self.interval = interval
        self._started = self._last = time.monotonic()

    def update(self, done_bytes: int, lines: int) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        rate = lines / (now - self._started)
        self.stream.write(
            f"replay: {done_bytes * 100 // self.total}% of the input, "
            f"{lines:,} lines, {rate:,.0f} lines/s\n"
        )
        self.stream.flush()

    def finish(self) -> None:
        """Nothing: the command's summary line says the rest."""


def progress_for(stream: IO[str], total_bytes: int) -> Progress:
    """A bar on a terminal, periodic lines otherwise."""
    if stream.isatty():
        return BarProgress(stream, total_bytes)
    return LineProgress(stream, total_bytes)
