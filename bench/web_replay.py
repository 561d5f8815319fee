"""The web group's cost: replay speed with and without it, scrape time, RSS per 100,000
visitors, and what each part of a visitor's state costs (tracemalloc, by the line of
``stream_app`` that allocated it). One process, no broker; small enough to run on a shared
machine.

    .venv/bin/python -m bench.web_replay /tmp/gen.jsonl [--repeat 3] [--visitors 100000]
    CS_PURE_PYTHON=1 .venv/bin/python -m bench.web_replay --parts   # the parts only

(The parts need the pure-Python path: tracemalloc sees no line of a compiled module.)

Replay "without the web group" runs the same file through a core whose registry lacks
:class:`WebGroup` (web events are still parsed, validated and deduplicated).
"""

from __future__ import annotations

import argparse
import gc
import linecache
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import orjson

from stream_app.exposition import render
from stream_app.kpi import registry
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.groups.web.group import WebGroup
from stream_app.kpi.settings import KpiSettings
from stream_app.replay import replay


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def timed_replay(path: Path, web: bool) -> tuple[float, int, PartitionCore]:
    """(CPU seconds, events, core) of one replay of ``path``, with or without the web group
    (CPU time of this process: the machine is shared, wall time would measure the others)."""
    classes = [c for c in registry.GROUP_CLASSES if web or c is not WebGroup]
    with mock.patch.object(registry, "GROUP_CLASSES", classes):
        gc.collect()
        started = time.process_time()
        result = replay([path], KpiSettings())
        return time.process_time() - started, result.lines, result.core


T0 = datetime(2026, 11, 1, tzinfo=UTC)
VISIT: list[tuple[str, dict[str, object]]] = [
    ("page_viewed", {"path": "/"}),
    ("page_left", {"path": "/", "engaged_ms": 12_000, "max_scroll_pct": 60}),
    ("page_viewed", {"path": "/pricing"}),
    ("link_shown", {"link": "hero_start_trial"}),
    ("page_left", {"path": "/pricing", "engaged_ms": 30_000, "max_scroll_pct": 95}),
]


def add_visitors(core: PartitionCore, first: int, n: int) -> None:
    """Visitors ``first`` .. ``first + n - 1``, one 5-event visit each, then a settle."""
    for i in range(first, first + n):
        at = T0 + timedelta(seconds=i * 7)
        for k, (kind, extra) in enumerate(VISIT):
            body: dict[str, object] = {
                "event_id": f"{i}-{k}",
                "type": kind,
                "ts": (at + timedelta(seconds=20 * k)).isoformat(),
                "visitor_id": f"anon_{i:012x}",
                **extra,
            }
            core.ingest(orjson.dumps(body))
    core.settle()


def visitors_rss(n: int) -> tuple[float, float]:
    """(KiB per visitor, seconds per scrape) for ``n`` visitors with one 3-page visit each."""
    gc.collect()
    before = rss_kib()
    core = PartitionCore(KpiSettings())
    add_visitors(core, 0, n)
    gc.collect()
    per_visitor = (rss_kib() - before) / n
    started = time.perf_counter()
    render([core], T0 + timedelta(days=n * 7 // 86400 + 1))
    return per_visitor, time.perf_counter() - started


def visitor_parts(n: int) -> list[tuple[float, str]]:
    """(bytes per visitor, where) of ``n`` more visitors (after 1,000 to warm up), by the
    ``stream_app`` line that allocated the memory (tracemalloc), largest first."""
    core = PartitionCore(KpiSettings())
    add_visitors(core, 0, 1000)
    gc.collect()
    tracemalloc.start(25)
    before = tracemalloc.take_snapshot()
    add_visitors(core, 1000, n)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    parts: dict[str, int] = {}
    for stat in after.compare_to(before, "traceback"):
        ours = [f for f in stat.traceback if "stream_app" in f.filename]
        frame = ours[-1] if ours else stat.traceback[-1]
        where = f"{frame.filename.rpartition('stream_app/')[2]}:{frame.lineno}"
        line = linecache.getline(frame.filename, frame.lineno).strip()
        key = f"{where}  {line[:60]}"
        parts[key] = parts.get(key, 0) + stat.size_diff
    return sorted(((size / n, key) for key, size in parts.items()), reverse=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("jsonl", type=Path, nargs="?")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--visitors", type=int, default=100_000)
    ap.add_argument("--parts", action="store_true", help="only the per-visitor parts")
    args = ap.parse_args()
    if args.parts:
        parts = visitor_parts(min(args.visitors, 20_000))
        print(f"{sum(size for size, _ in parts):,.0f} B per visitor (tracemalloc), by part:")
        for size, where in parts:
            if size >= 1:
                print(f"{size:8.1f}  {where}")
        return
    if args.jsonl is None:
        ap.error("the JSONL file to replay is required (unless --parts)")
    without_s = with_s = float("inf")
    for _ in range(args.repeat):  # interleaved, best of each
        seconds, events, _ = timed_replay(args.jsonl, web=False)
        without_s = min(without_s, seconds)
        seconds, events, core = timed_replay(args.jsonl, web=True)
        with_s = min(with_s, seconds)
    web = len(core.keys["visitor_id"])
    print(f"events: {events:,} in {args.jsonl} ({web:,} visitors)")
    print(
        f"replay without the web group: {without_s:.2f}s CPU ({events / without_s:,.0f} events/s)"
    )
    print(f"replay with the web group:    {with_s:.2f}s CPU ({events / with_s:,.0f} events/s)")
    print(f"web group cost: {100 * (with_s / without_s - 1):+.1f}% replay CPU time")
    as_of = datetime.fromtimestamp(core.max_ts or 0, UTC)
    started = time.perf_counter()
    render([core], as_of)
    print(f"scrape (render) after replay: {1000 * (time.perf_counter() - started):.1f} ms")
    per_visitor, scrape_s = visitors_rss(args.visitors)
    print(
        f"{args.visitors:,} synthetic visitors (5 web events each): "
        f"RSS {per_visitor * 100_000 / 1024:,.0f} MiB per 100,000 visitors, "
        f"scrape {1000 * scrape_s:.1f} ms"
    )


if __name__ == "__main__":
    main()
