"""``stream-app replay``: JSONL files in, the Prometheus text of every cs_* metric out.

It runs the same core as the worker (one partition holding every account), so a
definition can be audited or backfilled without Kafka.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from stream_app.contract import Rejection
from stream_app.exposition import render
from stream_app.kpi.core import Outcome, PartitionCore
from stream_app.kpi.settings import KpiSettings
from stream_app.replay_progress import Progress


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
    core = PartitionCore(settings)
    until = as_of.timestamp() if as_of is not None else None
    started = time.monotonic()
    lines = 0
    done = 0
    ingest = core.ingest
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
                outcome, detail = ingest(raw, now=now, until=until)
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
    body = render([result.core], result.as_of)
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
    "replay",
    "write_exposition",
]
