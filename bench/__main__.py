"""``python -m bench [--quick]``: the benchmark suite. Prints a summary, then (last line)
one JSON object with every figure. See bench/__init__.py for what each figure means."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench import freshness, workers
from bench.ceiling import ceiling_eps
from bench.data import make_dataset, make_topics, produce_records
from bench.procs import run_json
from bench.replay_cli import replay_both
from bench.summary import render, rounded
from bench.targets import check
from stream_app import compiled
from stream_app.dev.broker import KAFKA_VERSION, LocalKafka

T = TypeVar("T")


def machine() -> dict[str, Any]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_1m_at_start": os.getloadavg()[0],  # others' load skews every figure
        # the KPI core the replays and workers run: compiled (mypyc) or pure Python (why)
        "core": compiled.active(),
    }


def cpu_rates(details: dict[str, Any], events: int, naive_events: int) -> dict[str, Any]:
    """Events per CPU second of each consumer process (its start-up included): on a shared
    machine, where wall-clock rates measure the neighbours too, the steadier comparison."""
    cpu: dict[str, Any] = {
        "what": "events per CPU second of the process, start-up included (user + system; "
        "quix: its librdkafka threads too; replay: every process of a split replay)"
    }
    sources = {
        "worker": (details.get("worker"), events),
        "worker_usage": (details.get("worker_usage"), events),
        "worker_single": (details.get("worker_single"), events),
        "worker_usage_single": (details.get("worker_usage_single"), events),
        "quix": (details.get("quix"), events),
        "naive_faust": (details.get("naive_faust"), naive_events),
        "replay": (details.get("replay", {}).get("split"), events),
        "replay_single": (details.get("replay", {}).get("single"), events),
    }
    for name, (figures, n) in sources.items():
        if figures and figures.get("cpu_s"):
            cpu[f"{name}_eps_per_cpu_s"] = n / figures["cpu_s"]
    return cpu


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Run:
    """Runs phases: time each, keep going after a failure, remember the errors."""

    def __init__(self) -> None:
        self.details: dict[str, Any] = {}
        self.errors: dict[str, str] = {}

    def phase(self, name: str, fn: Callable[[], T]) -> T | None:
        log(f"{name} ...")
        started = time.monotonic()
        try:
            value = fn()
        except Exception as exc:
            self.errors[name] = f"{type(exc).__name__}: {exc}"[:4000]
            log(f"{name} FAILED after {time.monotonic() - started:.1f}s: {exc}")
            traceback.print_exc(file=sys.stderr)
            return None
        took = time.monotonic() - started
        log(f"{name} done in {took:.1f}s")
        if isinstance(value, dict):
            self.details[name] = {**value, "phase_s": took}
        return value


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small smoke version (CI)")
    ap.add_argument("--accounts", type=int, help="dataset size (default 5000; quick 120)")
    ap.add_argument(
        "--users",
        type=int,
        help="users, and visitors, of the memory/recovery test (100k; quick 5k)",
    )
    ap.add_argument("--freshness-seconds", type=float, help="default 20 (quick 5)")
    ap.add_argument(
        "--freshness-max-rate", type=float, default=100_000, help="producer cap (100000)"
    )
    ap.add_argument("--plots", type=Path, help="write PNG plots into this directory")
    ap.add_argument("--json-out", type=Path, help="also write the JSON to this file")
    ap.add_argument("--keep-tmp", action="store_true", help="keep logs and data (tmp dir)")
    ap.add_argument(
        "--naive-events",
        type=int,
        help="naive Faust reads only the first N events (its rate is flat; ~1k/s here; "
        "default 50000, quick 2000)",
    )
    ap.add_argument(
        "--replay-processes", type=int, default=2, help="processes of the split replay (2)"
    )
    ap.add_argument(
        "--worker-processes",
        default="auto",
        help="stream-app worker --processes of worker_eps and worker_usage_eps (auto: one "
        "per CPU); worker_eps_single is always one process",
    )
    args = ap.parse_args(argv)
    args.accounts = args.accounts or (120 if args.quick else 5_000)
    args.naive_events = args.naive_events or (2_000 if args.quick else 50_000)
    args.users = args.users or (5_000 if args.quick else 100_000)
    args.freshness_seconds = args.freshness_seconds or (5.0 if args.quick else 20.0)
    args.timeout = 120.0 if args.quick else 3600.0  # naive Faust: ~1k events/s
    procs = args.worker_processes
    args.worker_processes = (os.cpu_count() or 1) if procs == "auto" else int(procs)
    return args


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds: workers, peers and the broker are stopped


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    tmp = Path(tempfile.mkdtemp(prefix="cs-bench-"))
    run = Run()
    out: dict[str, Any] = {
        "quick": args.quick,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "kafka_version": KAFKA_VERSION,
        "worker_settings": {
            "commit_interval_s": float(workers.COMMIT_INTERVAL_S),
            "session_timeout_s": 6.0,
            "partitions": 4,
        },
    }
    log(f"bench ({'quick' if args.quick else 'full'}), data and logs in {tmp}")
    ds = make_dataset(args.accounts, tmp)
    out["events"] = n = ds.events
    run.details["dataset"] = ds.describe()
    log(f"{n:,} events generated in {ds.generate_s:.1f}s ({args.accounts} accounts, 30 days)")
    replay = run.phase(
        "replay", lambda: replay_both(ds.jsonl, tmp, args.timeout, args.replay_processes)
    )
    with LocalKafka() as kafka:
        boot = kafka.bootstrap
        topics = asyncio.run(make_topics(boot, "bench"))
        names = list(topics.values())
        produce_s = asyncio.run(produce_records(boot, topics, ds.records))
        rate = n / produce_s
        log(
            f"produced into {len(topics)} topics x 4 partitions in {produce_s:.1f}s ({rate:,.0f}/s)"
        )
        run.details["produce"] = {"seconds": produce_s, "eps": n / produce_s}
        ceiling = run.phase("ceiling", lambda: asyncio.run(ceiling_eps(boot, names, n)))
        naive_n = min(n, args.naive_events)
        out["naive_faust_events"] = naive_n

        def peer(module: str, what: str, expect: int) -> dict[str, Any] | None:
            """A peer consumer (``python -m bench.<module>``) over the first ``expect``."""
            cmd = ["-m", f"bench.{module}", "--bootstrap", boot, "--topics", ",".join(names)]
            cmd += ["--expect", str(expect), "--data-dir", str(tmp / module)]
            return run.phase(
                module, lambda: run_json(cmd, args.timeout, what, tmp / f"{module}.log")
            )

        naive = peer("naive_faust", "naive faust", naive_n)
        quix = peer("quix", "quixstreams", n)

        wp = args.worker_processes

        def throughput_only(groups: str, processes: int) -> dict[str, Any]:
            worker, figures = workers.worker_throughput(
                boot, "bench", tmp, n, args.timeout, groups=groups, processes=processes
            )
            worker.stop()
            return figures

        usage = run.phase("worker_usage", lambda: throughput_only("usage", wp))
        usage_single = usage
        if wp > 1:
            usage_single = run.phase("worker_usage_single", lambda: throughput_only("usage", 1))
        scale = run.phase(
            "scale_2_workers", lambda: workers.scale_two(boot, "bench", tmp, n, args.timeout)
        )
        one = None
        if wp > 1:
            one = run.phase("worker_single", lambda: throughput_only("all", 1))
        single = run.phase(
            "worker",
            lambda: workers.worker_throughput(boot, "bench", tmp, n, args.timeout, processes=wp),
        )
        worker_eps = None
        if single is not None:
            worker, figures = single
            run.details["worker"] = figures
            worker_eps = figures["eps"]
            out["worker_settings"]["allocator"] = figures["allocator"]
            if wp == 1:
                one = figures
            loads = [0.25, 0.5, 0.75] if args.plots and not args.quick else [0.5]
            curve = []
            try:
                for load in loads:
                    rate = min(worker_eps * load, args.freshness_max_rate)

                    def measure(r: float = rate) -> dict[str, Any]:
                        return freshness.measure(
                            boot, topics["product"], worker, r, args.freshness_seconds
                        )

                    fr = run.phase(f"freshness_{int(load * 100)}", measure)
                    if fr is not None:
                        curve.append({"load": load, **fr})
            finally:
                worker.stop()
            out["freshness_curve"] = curve
        mem = run.phase(
            "memory_recovery",
            lambda: workers.memory_and_recovery(boot, "state", tmp, args.users, args.timeout),
        )

    out["ceiling_eps"] = ceiling["eps"] if ceiling else None
    out["worker_eps"] = worker_eps
    out["worker_processes"] = args.worker_processes
    out["worker_eps_single"] = one_eps = one["eps"] if one else None
    out["ratio"] = worker_eps / ceiling["eps"] if worker_eps and ceiling else None
    out["naive_faust_eps"] = naive["eps"] if naive else None
    out["quix_eps"] = quix["eps"] if quix else None
    out["worker_usage_eps"] = usage["eps"] if usage else None
    out["worker_usage_eps_single"] = usage_single["eps"] if usage_single else None
    out["replay_eps"] = replay["eps"] if replay else None
    out["replay_eps_single"] = replay["single_eps"] if replay else None
    out["replay_processes"] = replay["split"]["processes"] if replay else None
    out["replay_floor_eps"] = replay["floor_eps"] if replay else None
    fr50 = run.details.get("freshness_50")
    out["freshness_rate_eps"] = fr50["rate_eps"] if fr50 else None
    out["freshness_p50_s"] = fr50["p50_s"] if fr50 else None
    out["freshness_p99_s"] = fr50["p99_s"] if fr50 else None
    out["freshness_metrics_p50_s"] = fr50["metrics_p50_s"] if fr50 else None
    out["freshness_metrics_p99_s"] = fr50["metrics_p99_s"] if fr50 else None
    out["rss_mb_per_100k_users"] = mem["rss_mb_per_100k_users"] if mem else None
    out["rss_mb_per_100k_visitors"] = mem["rss_mb_per_100k_visitors"] if mem else None
    out["rss_peak_mb_per_100k_users"] = mem["rss_peak_mb_per_100k_users"] if mem else None
    out["rss_peak_mb_per_100k_visitors"] = mem["rss_peak_mb_per_100k_visitors"] if mem else None
    out["recovery_s"] = mem["recovery_s"] if mem else None
    # two single-process workers against one
    out["scale_2_workers"] = scale["eps"] / one_eps if scale and one_eps else None
    out["scale_2_workers_eps"] = scale["eps"] if scale else None
    steady = scale and scale["steady_eps"]
    out["scale_2_workers_steady"] = steady / one_eps if steady and one_eps else None
    run.details["cpu"] = cpu_rates(run.details, n, out["naive_faust_events"])
    out["machine"]["loadavg_1m_at_end"] = os.getloadavg()[0]
    out = rounded(out)
    out["targets"] = rounded(check(out))  # on the rounded figures: the table agrees with them
    out["details"] = rounded(run.details)
    out["errors"] = run.errors
    print(render(out), flush=True)
    if args.plots:
        from bench.plots import write_plots

        for path in write_plots(out, args.plots):
            log(f"wrote {path}")
    if args.json_out:
        args.json_out.write_text(json.dumps(out, indent=2) + "\n")
    if args.keep_tmp or run.errors:
        log(f"logs and data kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out), flush=True)
    return 1 if run.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
