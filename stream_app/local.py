"""``stream-app run``: the embedded local pipeline.

A real Kafka broker (KRaft, in a child JVM), the topics, one worker process, the
simulated company producing into Kafka, and a live KPI table in the terminal; Ctrl-C
(or ``--duration``) stops all of it and leaves nothing running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from stream_app.settings import Settings


def add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="embedded local pipeline with a live KPI table")
    run.add_argument("--accounts", type=int, default=2000, help="simulated accounts")
    run.add_argument("--days", type=int, default=30, help="days of history replayed first")
    run.add_argument("--rate", type=float, default=3000, help="history events per second")
    run.add_argument("--partitions", type=int, default=4)
    run.add_argument("--web-port", type=int, default=6066, help="worker /metrics port")
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--refresh", type=float, default=2.0, help="seconds between table refreshes")
    run.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    run.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    def _term(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_local(args))
    print("\nstopped: worker, generator and Kafka are down.")
    return 0


def _start_worker(settings: Settings, log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        {
            f"CS_{k.upper()}": str(v)
            for k, v in settings.model_dump().items()
            if v is not None and k in _WORKER_ENV
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "stream_app.cli", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


_WORKER_ENV = ("broker", "app_id", "partitions", "web_port", "data_dir", "timezone")


def _stop_worker(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


async def _feed(settings: Settings, args: argparse.Namespace) -> None:
    from stream_app.generator import GeneratorConfig, LiveSimulation, generate_history
    from stream_app.produce import produce, produce_live

    end = datetime.now(UTC).replace(microsecond=0)
    cfg = GeneratorConfig(seed=args.seed, accounts=args.accounts, end=end, days=args.days)
    topics = settings.topic_names()
    await produce(settings.broker, topics, generate_history(cfg), rate=args.rate)
    live = LiveSimulation(cfg)
    await produce_live(settings.broker, topics, live.events_between, end)


async def run_local(args: argparse.Namespace) -> None:
    from stream_app.broker import LocalKafka, create_topics
    from stream_app.live_view import LiveView, scrape

    workdir = Path(tempfile.mkdtemp(prefix="stream-app-run-"))
    broker = LocalKafka(data_dir=workdir / "kafka")
    proc: subprocess.Popen[bytes] | None = None
    feeder: asyncio.Task[None] | None = None
    try:
        print("starting Kafka (KRaft) …", flush=True)
        await asyncio.to_thread(broker.start)
        settings = Settings(
            broker=f"kafka://{broker.bootstrap}",
            partitions=args.partitions,
            web_port=args.web_port,
            data_dir=str(workdir / "worker"),
            app_id="cs-kpi-local",
        )
        names = [*settings.topic_names().values(), settings.topic_dead_letters]
        await create_topics(broker.bootstrap, names, settings.partitions)
        log_path = workdir / "worker.log"
        with log_path.open("wb") as log:
            proc = _start_worker(settings, log)
            feeder = asyncio.create_task(_feed(settings, args))
            url = f"http://{settings.web_host}:{settings.web_port}/metrics"
            view = LiveView(f"stream-app live · Kafka {broker.bootstrap} · {url} · log {log_path}")
            deadline = time.monotonic() + args.duration if args.duration else None
            tty = sys.stdout.isatty()
            while deadline is None or time.monotonic() < deadline:
                if proc.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    raise SystemExit(f"worker exited with {proc.returncode}:\n{tail}")
                if feeder.done() and feeder.exception() is not None:
                    raise feeder.exception()  # type: ignore[misc]
                try:
                    text = view.render(await asyncio.to_thread(scrape, url))
                except OSError:
                    text = "waiting for the worker's /metrics …"
                print(("\x1b[H\x1b[2J" if tty else "\n") + text, flush=True)
                await asyncio.sleep(args.refresh)  # display refresh period
    finally:
        if feeder is not None:
            feeder.cancel()
            with contextlib.suppress(BaseException):
                await feeder
        if proc is not None:
            _stop_worker(proc)
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


__all__ = ["add_run", "cmd_run", "run_local"]
