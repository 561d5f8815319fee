"""Where the time goes: py-spy profiles of `stream-app replay` and of a worker applying a
backlog, summarised as the share of samples per function (inclusive and self).

    .venv/bin/python -m bench.profile [--accounts 2000] [--out bench/profiles]

Writes ``replay.txt`` and ``worker.txt`` (the summaries) and the raw collapsed stacks
(``*.folded``, loadable in speedscope or ``flamegraph.pl``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.data import make_dataset, make_topics, produce_records
from bench.procs import WorkerProcess, progress, wait_for


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy not found: pip install -e '.[bench]'")
    return found


#: native frames kept by name when profiling the compiled core (everything else native —
#: reference counting, dict and int helpers, libc — counts as its caller's own time)
_NATIVE_KEPT = {"gc_collect_main": "gc (CPython's cycle collector)"}
_NATIVE_LIBS = ("orjson", "xxhash", "cramjam", "pydantic_core")


def _frame(frame: str) -> str | None:
    """A readable name for one py-spy frame; None for a native helper frame (folded into
    its caller). A mypyc function (``CPyDef_core___PartitionCore___apply``) is named
    ``PartitionCore.apply [compiled] (core)``; its ``CPyPy_`` wrapper is folded."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    if where.endswith(".py") or ".py:" in where or where.startswith("<"):
        return f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]})"
    if name.startswith("CPyDef_"):
        module, _, function = name[len("CPyDef_") :].partition("___")
        return f"{function.replace('___', '.')} [compiled] ({module})"
    if name in _NATIVE_KEPT:
        return _NATIVE_KEPT[name]
    for lib in _NATIVE_LIBS:
        if lib in where:
            return f"[{lib}]"
    return None if where else name


def summarise(folded: Path, top: int = 30) -> str:
    """Inclusive and self share of samples per function of a py-spy ``raw`` file."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [f for f in map(_frame, stack.split(";")) if f is not None] or ["[native]"]
        for name in set(frames):
            inclusive[name] += n
        own[frames[-1]] += n
    rows = [f"{total} samples", "", "inclusive  function"]
    rows += [f"{n / total:8.1%}  {name}" for name, n in inclusive.most_common(top)]
    rows += ["", "self       function"]
    rows += [f"{n / total:8.1%}  {name}" for name, n in own.most_common(top)]
    return "\n".join(rows) + "\n"


def _record() -> list[str]:
    """py-spy's command; ``--native`` when the compiled core runs (its functions make no
    Python frames: without it their time shows as their pure caller's). ``--gil``: only the
    thread holding the interpreter lock is sampled, so a thread waiting for it (the worker's
    consumer thread, or the loop while that thread decodes) is not counted as work."""
    from stream_app.compiled import is_compiled

    cmd = [py_spy(), "record", "--format", "raw", "-r", "100", "--gil"]
    return [*cmd, "--native"] if is_compiled() else cmd


def profile_replay(jsonl: Path, out: Path) -> Path:
    folded = out / "replay.folded"
    cmd = [*_record(), "-o", str(folded), "--"]
    cmd += [
        sys.executable,
        "-m",
        "stream_app.cli",
        "replay",
        str(jsonl),
        "--out",
        os.devnull,
        "--processes",
        "1",
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return folded


def profile_worker(records: list[tuple[str, bytes | None, bytes]], tmp: Path, out: Path) -> Path:
    from stream_app.dev.broker import LocalKafka

    folded = out / "worker.folded"
    with LocalKafka() as kafka:
        topics = asyncio.run(make_topics(kafka.bootstrap, "prof"))
        asyncio.run(produce_records(kafka.bootstrap, topics, records))
        worker = WorkerProcess(kafka.bootstrap, "prof", tmp, env={"CS_COMMIT_INTERVAL_S": "1.0"})
        worker.start()
        try:
            wait_for(lambda: progress(worker)["first_batch_at"], 120, "first batch")
            assert worker.proc is not None
            cmd = [*_record(), "-d", "15", "-p", str(worker.proc.pid), "-o", str(folded)]
            if "--native" not in cmd:  # py-spy refuses --nonblocking with --native
                cmd.append("--nonblocking")
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        finally:
            worker.stop()
    return folded


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=Path("bench/profiles"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="cs-profile-"))
    ds = make_dataset(args.accounts, tmp)
    for name, folded in (
        ("replay", profile_replay(ds.jsonl, args.out)),
        ("worker", profile_worker(ds.records, tmp, args.out)),
    ):
        summary = summarise(folded)
        from stream_app.compiled import active

        head = f"{name}, {ds.events:,} events, core: {active()}"
        (args.out / f"{name}.txt").write_text(f"{head}\n{summary}")
        print(f"== {name}\n{summary}")


if __name__ == "__main__":
    main()
