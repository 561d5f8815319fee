"""``stream-app replay``: JSONL files in, the Prometheus text of every cs_* metric out.

It runs the same core as the worker (one partition holding every account), so a
definition can be audited or backfilled without Kafka.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from stream_app.contract import Rejection
from stream_app.exposition import render
from stream_app.kpi.core import Outcome, PartitionCore
from stream_app.kpi.settings import KpiSettings


@dataclass
class ReplayResult:
    core: PartitionCore
    as_of: datetime
    lines: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else float("inf")


def _lines(paths: Iterable[Path], progress: IO[str] | None) -> Iterator[bytes]:
    paths = list(paths)
    total = sum(p.stat().st_size for p in paths) or 1
    done = 0
    started = last = time.monotonic()
    count = 0
    for path in paths:
        with path.open("rb") as fh:
            for line in fh:
                done += len(line)
                count += 1
                stripped = line.strip()
                if stripped:
                    yield stripped
                if progress is not None and count % 50_000 == 0:
                    now = time.monotonic()
                    if now - last >= 1.0:
                        last = now
                        rate = count / (now - started)
                        progress.write(
                            f"\rreplay: {done * 100 // total:3d}% {count:,} lines {rate:,.0f}/s"
                        )
                        progress.flush()
    if progress is not None and count >= 50_000:
        progress.write("\n")


def replay(
    paths: Iterable[Path | str],
    settings: KpiSettings | None = None,
    as_of: datetime | None = None,
    progress: IO[str] | None = None,
) -> ReplayResult:
    """Apply every line of ``paths`` to one core; events after ``as_of`` are not counted."""
    settings = settings or KpiSettings()
    core = PartitionCore(settings)
    until = as_of.timestamp() if as_of is not None else None
    started = time.monotonic()
    lines = 0
    ingest = core.ingest
    for raw in _lines((Path(p) for p in paths), progress):
        lines += 1
        # lateness clock: --as-of, else the latest event time seen so far (what a live
        # worker's wall clock was when these events were fresh)
        now = until if until is not None else core.max_ts
        ingest(raw, now=now, until=until)
    core.settle()
    seconds = time.monotonic() - started
    if as_of is None:
        latest = core.max_ts if core.max_ts is not None else time.time()
        as_of = datetime.fromtimestamp(latest, tz=UTC)
    return ReplayResult(core, as_of, lines, seconds)


def write_exposition(result: ReplayResult, out: Path | str | None) -> None:
    body = render([result.core], result.as_of)
    if out is None or str(out) == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    target = Path(out)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(body)
    tmp.replace(target)


__all__ = ["Outcome", "Rejection", "ReplayResult", "replay", "write_exposition"]
