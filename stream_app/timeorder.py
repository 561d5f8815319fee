"""JSONL events in ``ts`` order with bounded memory, for a replay that steps through time.

:func:`scan` reads the input once: it counts each message the core rejects whatever the
time (so a step sees every rejection, as ``replay --as-of`` does) and notes whether each
file is already in ``ts`` order. :func:`in_ts_order` then yields the accepted lines by
``ts``: straight from the file when it is one file already in order (memory: one line), or
else through an external merge sort (sorted runs of ``chunk_lines`` lines in a temporary
directory, merged with :func:`heapq.merge`; memory: one chunk), so inputs larger than RAM
work either way. Lines of equal ``ts`` keep their input order.
"""

from __future__ import annotations

import heapq
import tempfile
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

#: how a line is keyed: its event time in epoch microseconds, None when rejected anyway
EventTime = Callable[[bytes], "int | None"]
CHUNK_LINES = 200_000


@dataclass
class Scan:
    """What one pass over the input found."""

    lines: int = 0
    bytes: int = 0
    rejected: set[tuple[int, int]] = field(default_factory=set)  # (file index, line number)
    in_order: bool = True
    first_us: int | None = None
    last_us: int | None = None


class Progress:
    """One status line on a stream (stderr), rewritten at most once a second."""

    def __init__(self, out: IO[str] | None, what: str) -> None:
        self.out = out
        self.what = what
        self.started = self.last = time.monotonic()
        self.shown = False

    def update(self, text: str, *, force: bool = False) -> None:
        if self.out is None:
            return
        now = time.monotonic()
        if force or now - self.last >= 1.0:
            self.last = now
            self.shown = True
            self.out.write(f"\r{self.what}: {text} ({now - self.started:,.0f}s)\x1b[K")
            self.out.flush()

    def done(self) -> None:
        if self.out is not None and self.shown:
            self.out.write("\n")
            self.out.flush()


def _lines(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """(line number, stripped line, raw length) of the non-empty lines of ``path``."""
    with path.open("rb") as fh:
        for number, line in enumerate(fh):
            stripped = line.strip()
            if stripped:
                yield number, stripped, len(line)


def scan(
    paths: Sequence[Path],
    event_time: EventTime,
    reject: Callable[[bytes], object],
    progress: IO[str] | None = None,
) -> Scan:
    """Read every line once: ``reject`` the lines rejected whatever the time, note the
    order and the first and last event times."""
    found = Scan()
    total = sum(p.stat().st_size for p in paths) or 1
    shown = Progress(progress, "replay: reading")
    for index, path in enumerate(paths):
        previous: int | None = None
        for number, raw, size in _lines(path):
            found.lines += 1
            found.bytes += size
            us = event_time(raw)
            if us is None:
                found.rejected.add((index, number))
                reject(raw)
            else:
                if previous is not None and us < previous:
                    found.in_order = False
                previous = us
                if found.first_us is None or us < found.first_us:
                    found.first_us = us
                if found.last_us is None or us > found.last_us:
                    found.last_us = us
            if found.lines % 20_000 == 0:
                shown.update(f"{found.bytes * 100 // total:3d}% {found.lines:,} lines")
    shown.done()
    if len(paths) > 1:
        found.in_order = False  # files are merged by ts: the sort does it
    return found


def in_ts_order(
    paths: Sequence[Path],
    found: Scan,
    event_time: EventTime,
    *,
    chunk_lines: int = CHUNK_LINES,
    tmp_dir: Path | None = None,
    progress: IO[str] | None = None,
) -> Generator[bytes, None, None]:
    """The accepted lines of ``paths`` by ``ts`` (see the module's docstring)."""
    if found.in_order:
        for index, path in enumerate(paths):
            for number, raw, _ in _lines(path):
                if (index, number) not in found.rejected:
                    yield raw
        return
    with tempfile.TemporaryDirectory(prefix="cs-sort-", dir=tmp_dir) as workdir:
        runs = _sorted_runs(paths, found, event_time, Path(workdir), chunk_lines, progress)
        readers = [_read_run(run) for run in runs]
        for _, _, raw in heapq.merge(*readers):
            yield raw


def _sorted_runs(
    paths: Sequence[Path],
    found: Scan,
    event_time: EventTime,
    workdir: Path,
    chunk_lines: int,
    progress: IO[str] | None,
) -> list[Path]:
    runs: list[Path] = []
    chunk: list[tuple[int, int, bytes]] = []
    seq = 0
    shown = Progress(progress, "replay: sorting by ts")

    def spill() -> None:
        chunk.sort()
        run = workdir / f"run-{len(runs):05d}"
        with run.open("wb") as out:
            for us, order, raw in chunk:
                out.write(b"%d %d %s\n" % (us, order, raw))
        runs.append(run)
        chunk.clear()

    for index, path in enumerate(paths):
        for number, raw, _ in _lines(path):
            if (index, number) in found.rejected:
                continue
            us = event_time(raw)
            if us is None:  # cannot happen: scan() judged the same bytes
                continue
            chunk.append((us, seq, raw))
            seq += 1
            if len(chunk) >= chunk_lines:
                spill()
                shown.update(f"{seq * 100 // max(found.lines, 1):3d}% {len(runs)} sorted runs")
    if chunk:
        spill()
    shown.done()
    return runs


def _read_run(run: Path) -> Iterator[tuple[int, int, bytes]]:
    with run.open("rb") as fh:
        for line in fh:
            us, order, raw = line.rstrip(b"\n").split(b" ", 2)
            yield int(us), int(order), raw
