"""``stream-app replay`` as a user runs it: the CLI in a child process, single-process and
split over processes (``--processes N``, when this build has the flag).

The figure is the replay's own events/s from its summary line on stderr (reading,
decoding, validating, deduplicating and applying every line; what ``stream_app.replay``
times), the same figure as before the flag existed; ``wall_eps`` also counts interpreter
start-up and writing the exposition; ``cpu_s`` is the CPU time of the child and its own
children (all the processes of a split replay).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.procs import children_cpu_s

CLI = [sys.executable, "-m", "stream_app.cli", "replay"]
SUMMARY = re.compile(r"replay: ([\d,]+) lines in ([\d.]+)s \(([\d,]+) events/s\)")


def has_processes_flag() -> bool:
    """Whether ``stream-app replay`` of this checkout takes ``--processes``."""
    res = subprocess.run([*CLI, "--help"], capture_output=True, text=True, timeout=60)
    return "--processes" in res.stdout


def replay_cli(
    jsonl: Path,
    out: Path,
    log: Path,
    timeout: float,
    processes: int | None = None,
    groups: str | None = None,
) -> dict[str, Any]:
    """Run the replay of ``jsonl`` (exposition to ``out``, stderr to ``log``; ``groups``:
    its ``--groups``). Without a summary line we know (a changed format), the figure is
    lines over wall time."""
    cmd = [*CLI, str(jsonl), "--out", str(out)]
    if processes is not None:
        cmd += ["--processes", str(processes)]
    if groups is not None:
        cmd += ["--groups", groups]
    cpu0, started = children_cpu_s(), time.monotonic()
    with log.open("wb") as err:
        try:
            res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"replay: no result after {timeout}s") from None
    wall = time.monotonic() - started
    text = log.read_text(errors="replace")
    if res.returncode != 0:
        raise RuntimeError(f"replay failed (exit {res.returncode}); stderr:\n{text[-3000:]}")
    found = SUMMARY.findall(text)
    if found:
        lines, seconds, rate = found[-1]
        n, replay_s = int(lines.replace(",", "")), float(seconds)
        eps = float(rate.replace(",", ""))
    else:
        with jsonl.open("rb") as f:
            n = sum(1 for _ in f)
        replay_s, eps = wall, n / wall
    return {
        "processes": processes or 1,
        "eps": eps,
        "eps_from": "summary line" if found else "wall time (no summary line found)",
        "lines": n,
        "seconds": replay_s,
        "wall_s": wall,
        "wall_eps": n / wall,
        "cpu_s": children_cpu_s() - cpu0,
    }


#: the KPI group of the floor replay: the company group takes only ``company-events``
#: (0.9 % of a bench dataset's lines)
FLOOR_GROUPS = "company"


def replay_both(jsonl: Path, tmp: Path, timeout: float, processes: int = 2) -> dict[str, Any]:
    """The single-process replay, then the split one (``--processes``; when the flag is
    missing, a second single-process run, reported as such). ``same_output``: whether both
    wrote the same exposition byte for byte.

    ``floor``: the split replay with the company group only (:data:`FLOOR_GROUPS`). It
    still reads, decodes, validates and deduplicates every line and keeps every key's
    state, and computes next to no KPI: the most a replay can reach by making the KPI
    groups cheaper."""
    flag = has_processes_flag()
    # with the flag, one process is asked for: its default (auto) splits large files
    single = replay_cli(
        jsonl, tmp / "replay-1.prom", tmp / "replay-1.log", timeout, 1 if flag else None
    )
    split = replay_cli(
        jsonl,
        tmp / "replay-n.prom",
        tmp / "replay-n.log",
        timeout,
        processes if flag else None,
    )
    same = (tmp / "replay-1.prom").read_bytes() == (tmp / "replay-n.prom").read_bytes()
    floor = replay_cli(
        jsonl,
        tmp / "replay-floor.prom",
        tmp / "replay-floor.log",
        timeout,
        processes if flag else None,
        FLOOR_GROUPS,
    )
    return {
        "eps": split["eps"],
        "single_eps": single["eps"],
        "floor_eps": floor["eps"],
        "floor": {**floor, "groups": FLOOR_GROUPS},
        "processes_flag": flag,
        "mode": f"--processes {processes}" if flag else "single process (no --processes flag)",
        "split": split,
        "single": single,
        "same_output": same,
    }
