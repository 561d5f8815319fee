"""Where a replay's CPU goes, by KPI group: µs of CPU per line of a JSONL file fed to one
core (``PartitionCore.ingest_line``, as ``stream-app replay --processes 1`` does, the file
read into memory first), with every group, with each group alone, and the parser alone.
Prints one JSON object.

    .venv/bin/python -m bench.group_costs /tmp/events.jsonl --lines 600000 --repeat 2

A group alone costs the parser, the dedupe and its keys' state for every line plus its own
work on the lines it takes: its cost over the cheapest group's is its own.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from stream_app import compiled
from stream_app.kpi.core import REPLAY_HOT_KEYS, PartitionCore
from stream_app.kpi.registry import group_names
from stream_app.kpi.settings import KpiSettings

PARSE = "parse"
ALL = "all"


def per_line_us(lines: list[bytes], groups: str, until: float) -> float:
    """µs of CPU per line for ``groups`` (:data:`ALL`, names, or :data:`PARSE`: the parser
    alone)."""
    settings = KpiSettings() if groups in (ALL, PARSE) else KpiSettings(groups=groups)
    core = PartitionCore(settings, hot_keys=REPLAY_HOT_KEYS)
    started = time.process_time()
    if groups == PARSE:
        parse = core.parser.parse
        for raw in lines:
            parse(raw)
    else:
        ingest = core.ingest_line
        for raw in lines:
            ingest(raw, until, until)
        core.settle()
    return (time.process_time() - started) / len(lines) * 1e6


def measure(lines: list[bytes], variants: list[str], repeat: int, until: float) -> dict[str, Any]:
    """Each variant ``repeat`` times, in turn (so drifts of the machine spread evenly)."""
    runs: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(repeat):
        for v in variants:
            runs[v].append(round(per_line_us(lines, v, until), 2))
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.group_costs", description=__doc__)
    parser.add_argument("file", type=Path, help="JSONL events (e.g. stream-app generate)")
    parser.add_argument("--lines", type=int, default=600_000, help="first lines used")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each variant")
    parser.add_argument(
        "--as-of", default=None, help="RFC 3339 as-of time (default: now); later events skip"
    )
    args = parser.parse_args(argv)
    with args.file.open("rb") as fh:
        lines = [line.strip() for line in islice(fh, args.lines) if line.strip()]
    as_of = datetime.fromisoformat(args.as_of) if args.as_of else datetime.now(UTC)
    variants = [PARSE, ALL, *group_names()]
    runs = measure(lines, variants, args.repeat, as_of.timestamp())
    print(json.dumps({"core": compiled.active(), "lines": len(lines), "us_per_line": runs}))


if __name__ == "__main__":
    main()
