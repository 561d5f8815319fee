"""The embedded local pipeline behind ``stream-app run``.

A real Kafka broker (KRaft, in a child JVM), the topics, one worker process, the
simulated company producing into Kafka, and a live KPI table in the terminal; stopping
:func:`run_local` (Ctrl-C, or ``duration``) stops all of it and leaves nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from stream_app.settings import Settings


@dataclass(frozen=True)
class LocalRun:
    """What ``stream-app run`` asks for."""

    accounts: int = 2000  # simulated accounts
    days: int = 30  # days of history replayed first
    rate: float = 3000  # history events per second
    partitions: int = 4
    web_port: int = 6066  # worker /metrics port
    seed: int = 42
    refresh: float = 2.0  # seconds between table refreshes
    duration: float | None = None  # stop after this many seconds (None: on Ctrl-C)


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


async def _feed(settings: Settings, run: LocalRun) -> None:
    from stream_app.generator import GeneratorConfig, LiveSimulation, generate_history
    from stream_app.produce import produce, produce_live

    end = datetime.now(UTC).replace(microsecond=0)
    cfg = GeneratorConfig(seed=run.seed, accounts=run.accounts, end=end, days=run.days)
    topics = settings.topic_names()
    await produce(settings.broker, topics, generate_history(cfg), rate=run.rate)
    live = LiveSimulation(cfg)
    await produce_live(settings.broker, topics, live.events_between, end)


async def run_local(run: LocalRun) -> None:
    """Start the broker, the topics, the worker and the feed; show the live view until
    ``run.duration`` ends or the task is cancelled; then stop everything."""
    from stream_app.dev.broker import LocalKafka, create_topics
    from stream_app.dev.live_view import LiveView, scrape

    workdir = Path(tempfile.mkdtemp(prefix="stream-app-run-"))
    broker = LocalKafka(data_dir=workdir / "kafka")
    proc: subprocess.Popen[bytes] | None = None
    feeder: asyncio.Task[None] | None = None
    collector = None  # issue 15: the HTTP collector (stream_app/dev/collector.py)
    try:
        print("starting Kafka (KRaft) …", flush=True)
        await asyncio.to_thread(broker.start)
        settings = Settings(
            broker=f"kafka://{broker.bootstrap}",
            partitions=run.partitions,
            web_port=run.web_port,
            data_dir=str(workdir / "worker"),
            app_id="cs-kpi-local",
        )
        names = [*settings.topic_names().values(), settings.topic_dead_letters]
        await create_topics(broker.bootstrap, names, settings.partitions)
        from stream_app.dev.collector import start_collector

        collector = start_collector(settings, workdir)
        print(f"collector: POST {collector.url}/v1/events · {collector.url}/tracker.js", flush=True)
        log_path = workdir / "worker.log"
        with log_path.open("wb") as log:
            proc = _start_worker(settings, log)
            feeder = asyncio.create_task(_feed(settings, run))
            url = f"http://{settings.web_host}:{settings.web_port}/metrics"
            view = LiveView(f"stream-app live · Kafka {broker.bootstrap} · {url} · log {log_path}")
            deadline = time.monotonic() + run.duration if run.duration else None
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
                await asyncio.sleep(run.refresh)  # display refresh period
    finally:
        if feeder is not None:
            feeder.cancel()
            with contextlib.suppress(BaseException):
                await feeder
        if proc is not None:
            _stop_worker(proc)
        if collector is not None:
            collector.stop()
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


__all__ = ["LocalRun", "run_local"]
