"""The exposition as of many times, in one OpenMetrics text file with timestamps: what
``promtool tsdb create-blocks-from openmetrics`` turns into TSDB blocks.

The format's rules that matter here: each family once (its ``# HELP`` / ``# TYPE`` and then
all its samples, never interleaved with another family), every sample with a timestamp in
seconds, a series' samples in increasing time, and one ``# EOF`` line at the end. Steps
arrive one at a time, so each family's lines are spooled to its own temporary file and
the file is assembled by :meth:`OpenMetricsWriter.close` (memory: one step).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import IO

from stream_app.kpi.families import Family, Number


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_value(value: Number) -> str:
    """An OpenMetrics number: ints as ints, others as the shortest float text."""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Fraction) and value.denominator == 1:
        return str(value.numerator)
    f = float(value)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return repr(f)


def format_timestamp(at: datetime) -> str:
    """Seconds since the epoch (OpenMetrics timestamps are seconds, not milliseconds)."""
    ts = at.timestamp()
    return str(int(ts)) if ts == int(ts) else repr(ts)


def sample_lines(fam: Family, at: datetime) -> list[str]:
    """The sample lines of one family as of ``at``."""
    stamp = format_timestamp(at)
    out = []
    for (suffix, labels), value in fam.samples.items():
        text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels)
        body = f"{{{text}}}" if text else ""
        out.append(f"{fam.name}{suffix}{body} {format_value(value)} {stamp}\n")
    return out


class OpenMetricsWriter:
    """Collects :meth:`add` calls (families as of a time, in increasing time) and writes
    ``target`` on :meth:`close` (through a temporary file, renamed at the end)."""

    def __init__(self, target: Path | str, tmp_dir: Path | None = None) -> None:
        self.target = Path(target)
        self._dir = tempfile.TemporaryDirectory(prefix="cs-openmetrics-", dir=tmp_dir)
        self._spools: dict[str, IO[str]] = {}
        self._heads: dict[str, str] = {}
        self.steps = 0
        self.samples = 0
        self._last: datetime | None = None

    def add(self, at: datetime, families: list[Family]) -> None:
        if self._last is not None and at <= self._last:
            raise ValueError(f"steps must increase: {at.isoformat()} after {self._last}")
        self._last = at
        self.steps += 1
        for fam in families:
            spool = self._spools.get(fam.name)
            if spool is None:
                path = Path(self._dir.name) / f"{len(self._spools):04d}.om"
                spool = self._spools[fam.name] = path.open("w", encoding="utf-8")
                self._heads[fam.name] = (
                    f"# HELP {fam.name} {_escape_help(fam.help)}\n# TYPE {fam.name} {fam.kind}\n"
                )
            lines = sample_lines(fam, at)
            self.samples += len(lines)
            spool.writelines(lines)

    def close(self) -> Path:
        """Write the file (families in first-seen order, then ``# EOF``); returns it."""
        tmp = self.target.with_name(self.target.name + ".tmp")
        try:
            with tmp.open("w", encoding="utf-8") as out:
                for name, spool in self._spools.items():
                    spool.close()
                    out.write(self._heads[name])
                    with open(spool.name, encoding="utf-8") as fh:
                        shutil.copyfileobj(fh, out, 1 << 20)
                out.write("# EOF\n")
            tmp.replace(self.target)
        finally:
            self.discard()
        return self.target

    def discard(self) -> None:
        """Drop the spooled lines (no file is written)."""
        for spool in self._spools.values():
            spool.close()
        self._spools.clear()
        self._dir.cleanup()
