"""The compiled core (mypyc) against the pure-Python path (``CS_PURE_PYTHON=1``), alternated
A/B in pairs: CPU seconds and max RSS of ``stream-app replay --processes 1`` on a file, and
of a worker over a bounded dataset on a local broker. Prints one JSON object.

    .venv/bin/python -m bench.compiled_ab --replay /tmp/perf.jsonl --as-of 2026-11-28T00:00:00Z
    .venv/bin/python -m bench.compiled_ab --worker-accounts 1000

Every replay's exposition is compared with the first one's (they must be byte-identical);
every worker's ``/progress`` must report the path it was started for.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.data import make_dataset, make_topics, produce_records
from bench.procs import WorkerProcess, cpu_seconds, progress, rss_mb, wait_for
from bench.workers import COMMIT_INTERVAL_S
from stream_app.compiled import PURE_ENV
from stream_app.dev.broker import LocalKafka

MODES = ("compiled", "pure")


def _env(mode: str) -> dict[str, str]:
    return {PURE_ENV: "1" if mode == "pure" else "0"}


def replay_once(path: Path, as_of: str | None, mode: str, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "stream_app.cli", "replay", str(path), "--processes", "1"]
    cmd += ["--quiet", "--out", str(out)] + (["--as-of", as_of] if as_of else [])
    proc = subprocess.Popen(cmd, env={**os.environ, **_env(mode)})
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"replay ({mode}) failed: {status}")
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "max_rss_mb": usage.ru_maxrss / 1024}


def worker_once(boot: str, tmp: Path, events: int, mode: str, run: int) -> dict[str, Any]:
    env = {
        "CS_APP_ID": f"ab-{mode}-{run}-app",
        "CS_COMMIT_INTERVAL_S": COMMIT_INTERVAL_S,
        **_env(mode),
    }
    worker = WorkerProcess(boot, "ab", tmp, env=env).start()
    try:
        p = wait_for(lambda: (q := progress(worker))["handled"] >= events and q, 600, "events")
        assert p["core"].startswith("compiled" if mode == "compiled" else "pure"), p["core"]
        assert worker.proc is not None
        figures = {
            "cpu_s": cpu_seconds(worker),
            "rss_mb": rss_mb(worker.proc.pid),
            "eps": p["handled"] / (p["last_batch_at"] - p["first_batch_at"]),
        }
    finally:
        worker.stop()
    return figures


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": runs}
    for mode in MODES:
        mine = [r for r in runs if r["mode"] == mode]
        out[mode] = {
            k: statistics.median(r[k] for r in mine)
            for k in mine[0]
            if k not in ("mode", "pair") and isinstance(mine[0][k], float)
        }
    c, p = out["compiled"], out["pure"]
    out["pure_over_compiled_cpu"] = p["cpu_s"] / c["cpu_s"]
    pairs = sorted({r["pair"] for r in runs})
    out["paired_ratio_median"] = statistics.median(
        next(r["cpu_s"] for r in runs if r["pair"] == i and r["mode"] == "pure")
        / next(r["cpu_s"] for r in runs if r["pair"] == i and r["mode"] == "compiled")
        for i in pairs
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replay", type=Path, help="a JSONL file to replay")
    ap.add_argument("--as-of", help="replay --as-of")
    ap.add_argument("--worker-accounts", type=int, help="worker runs over a dataset this size")
    ap.add_argument("--pairs", type=int, default=4)
    args = ap.parse_args(argv)
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="compiled-ab-") as tmp_name:
        tmp = Path(tmp_name)
        if args.replay:
            runs, first = [], None
            for i in range(args.pairs):
                for mode in MODES if i % 2 == 0 else MODES[::-1]:
                    out = tmp / f"{mode}.prom"
                    runs.append(
                        {"pair": i, "mode": mode, **replay_once(args.replay, args.as_of, mode, out)}
                    )
                    body = out.read_bytes()
                    first = first or body
                    if body != first:
                        raise SystemExit(f"replay ({mode}, pair {i}) differs from the first")
                    print(json.dumps(runs[-1]), file=sys.stderr)
            result["replay"] = summarize(runs)
        if args.worker_accounts:
            ds = make_dataset(args.worker_accounts, tmp)
            with LocalKafka() as kafka:
                topics = asyncio.run(make_topics(kafka.bootstrap, "ab"))
                asyncio.run(produce_records(kafka.bootstrap, topics, ds.records))
                runs = []
                for i in range(args.pairs):
                    for mode in MODES if i % 2 == 0 else MODES[::-1]:
                        started = time.monotonic()
                        figures = worker_once(kafka.bootstrap, tmp, ds.events, mode, i)
                        runs.append({"pair": i, "mode": mode, **figures})
                        runs[-1]["wall_s"] = time.monotonic() - started
                        print(json.dumps(runs[-1]), file=sys.stderr)
            result["worker"] = {"events": ds.events, **summarize(runs)}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
