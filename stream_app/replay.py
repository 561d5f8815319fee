"""``stream-app replay``: JSONL files in, the Prometheus text of every cs_* metric out.

It runs the same core as the worker (one partition holding every account), so a
definition can be audited or backfilled without Kafka.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO

import orjson

from stream_app.contract import Rejection
from stream_app.exposition import render
from stream_app.kpi.core import REPLAY_HOT_KEYS, Outcome, PartitionCore
from stream_app.kpi.families import Family
from stream_app.kpi.settings import KpiSettings
from stream_app.replay_progress import Progress
from stream_app.timeorder import CHUNK_LINES, in_ts_order, scan
from stream_app.timeorder import Progress as StepStatus
from stream_app.timeutil import day_of, day_start, from_us


@dataclass
class ReplayResult:
    core: PartitionCore
    as_of: datetime
    lines: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else float("inf")


class RejectsWriter:
    """``--rejects-out``: each rejected line as one JSON object (file, line number, reason,
    detail, the line's text)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fh = self.path.open("wb")
        self.count = 0

    def write(self, source: Path, lineno: int, rejection: Rejection, raw: bytes) -> None:
        self.count += 1
        record = {
            "file": str(source),
            "line": lineno,
            "reason": rejection.reason,
            "detail": rejection.detail,
            "text": raw.decode("utf-8", "replace"),
        }
        self._fh.write(orjson.dumps(record) + b"\n")

    def close(self) -> None:
        self._fh.close()


#: lines between two progress updates (cheap enough for the hot loop)
PROGRESS_EVERY = 20_000


def replay(
    paths: Iterable[Path | str],
    settings: KpiSettings | None = None,
    as_of: datetime | None = None,
    progress: Progress | None = None,
    rejects: RejectsWriter | None = None,
) -> ReplayResult:
    """Apply every line of ``paths`` to one core; events after ``as_of`` are not counted.

    ``progress`` is told the bytes and lines read every :data:`PROGRESS_EVERY` lines;
    ``rejects`` gets every rejected line with its file and line number."""
    settings = settings or KpiSettings()
    core = PartitionCore(settings, hot_keys=REPLAY_HOT_KEYS)
    until = as_of.timestamp() if as_of is not None else None
    started = time.monotonic()
    lines = 0
    done = 0
    ingest = core.ingest_line
    rejected = Outcome.REJECTED
    for path in (Path(p) for p in paths):
        with path.open("rb") as fh:
            for lineno, line in enumerate(fh, 1):
                done += len(line)
                raw = line.strip()
                if not raw:
                    continue
                lines += 1
                # lateness clock: --as-of, else the latest event time seen so far (what a
                # live worker's wall clock was when these events were fresh)
                now = until if until is not None else core.max_ts
                outcome, detail = ingest(raw, now, until)
                if outcome is rejected and rejects is not None:
                    rejects.write(path, lineno, detail, raw)  # type: ignore[arg-type]
                if progress is not None and lines % PROGRESS_EVERY == 0:
                    progress.update(done, lines)
    core.settle()
    if progress is not None:
        progress.update(done, lines)
        progress.finish()
    seconds = time.monotonic() - started
    if as_of is None:
        latest = core.max_ts if core.max_ts is not None else time.time()
        as_of = datetime.fromtimestamp(latest, tz=UTC)
    return ReplayResult(core, as_of, lines, seconds)


def write_exposition(result: ReplayResult, out: Path | str | None) -> None:
    write_output(render([result.core], result.as_of), out)


def write_output(body: bytes, out: Path | str | None) -> None:
    """``body`` to stdout (``out`` None or ``-``) or to the file ``out`` (atomically)."""
    if out is None or str(out) == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    target = Path(out)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(body)
    tmp.replace(target)


__all__ = [
    "Outcome",
    "Rejection",
    "RejectsWriter",
    "ReplayResult",
    "StepResult",
    "parse_step",
    "replay",
    "replay_steps",
    "step_times",
    "write_exposition",
    "write_output",
]


# -- stepping: the exposition as of every step, in one pass in ts order -----------------
_STEP = re.compile(r"^([1-9][0-9]*)([mhd])$")


def parse_step(text: str) -> tuple[int, str]:
    """``"1h"`` -> (1, "h"); minutes and hours are fixed lengths, days calendar days."""
    m = _STEP.match(text)
    if m is None:
        raise ValueError(f"--step {text!r}: write a whole number of m, h or d (e.g. 1h, 1d)")
    return int(m.group(1)), m.group(2)


def step_times(start: datetime, end: datetime, step: str, tz: tzinfo) -> Iterator[datetime]:
    """``start``, ``start + step`` … up to ``end`` (included). A day step keeps the wall
    time of ``start`` in ``tz``, so daily steps at midnight stay at midnight across DST."""
    n, unit = parse_step(step)
    if unit == "d":
        local = start.astimezone(tz)
        k = 0
        while True:
            day = local.date() + timedelta(days=k * n)
            at = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=tz)
            if at > end:
                return
            yield at.astimezone(UTC)
            k += 1
    seconds = n * (60 if unit == "m" else 3600)
    at = start.astimezone(UTC)
    while at <= end:
        yield at
        at += timedelta(seconds=seconds)


@dataclass
class StepResult:
    core: PartitionCore
    steps: int
    lines: int
    seconds: float
    first: datetime | None
    last: datetime | None
    sorted_externally: bool


def replay_steps(
    paths: Sequence[Path | str],
    settings: KpiSettings,
    sink: Callable[[datetime, list[Family]], None],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    step: str = "1d",
    progress: IO[str] | None = None,
    chunk_lines: int = CHUNK_LINES,
) -> StepResult:
    """Hand ``sink`` the families as of every step from ``start`` to ``end``, reading the
    events once in ``ts`` order (:mod:`stream_app.timeorder`): each step equals
    ``replay --as-of`` of that step, with every event of the files known (late ones
    restated). Default ``start``: 00:00 (CS_TIMEZONE) of the first event's day; default
    ``end``: the latest event time.

    One difference with ``--as-of``: there, events older than ``CS_MAX_LATENESS_DAYS``
    before T are rejected as ``too_late``; here each event is judged at the step it
    belongs to, so a step further than that from the start still counts them (as a live
    worker that read them on time would)."""
    files = [Path(p) for p in paths]
    started = time.monotonic()
    parse_step(step)  # a bad step is a user error before any work
    core = PartitionCore(settings, hot_keys=REPLAY_HOT_KEYS)
    found = scan(files, core.event_us, core.ingest, progress)
    if start is None:
        if found.first_us is None:
            raise ValueError("no valid event to start from: give --from")
        first_day = day_of(from_us(found.first_us), settings.tz)
        start = day_start(first_day, settings.tz)
    if end is None:
        if found.last_us is None:
            raise ValueError("no valid event to end at: give --to")
        end = from_us(found.last_us)
    if end < start:
        raise ValueError(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    times = step_times(start, end, step, settings.tz)
    total = _count_steps(start, end, step, settings.tz)
    shown = StepStatus(progress, "replay: stepping")
    done = 0
    at = next(times, None)
    ingest = core.ingest
    events = in_ts_order(files, found, core.event_us, chunk_lines=chunk_lines, progress=progress)
    for raw in events:
        if at is None:
            break
        while at is not None:
            until = at.timestamp()
            outcome, _ = ingest(raw, now=until, until=until)
            if outcome is not Outcome.LATER:
                break
            sink(at, core.families(at))
            done += 1
            shown.update(f"{done:,}/{total:,} steps, as of {at.isoformat()}")
            at = next(times, None)
    events.close()  # stopped early at --to: remove the sorted runs now
    while at is not None:  # the steps after the last event
        sink(at, core.families(at))
        done += 1
        shown.update(f"{done:,}/{total:,} steps, as of {at.isoformat()}")
        at = next(times, None)
    shown.done()
    return StepResult(
        core,
        done,
        found.lines,
        time.monotonic() - started,
        start,
        end,
        not found.in_order,
    )


def _count_steps(start: datetime, end: datetime, step: str, tz: tzinfo) -> int:
    n, unit = parse_step(step)
    if unit == "d":
        return (end.astimezone(tz).date() - start.astimezone(tz).date()).days // n + 1
    return int((end - start).total_seconds() // (n * (60 if unit == "m" else 3600))) + 1
