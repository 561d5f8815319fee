"""The embedded local pipeline behind ``stream-app run``.

A real Kafka broker (KRaft, in a child JVM), the topics, one worker process, the
simulated company producing into Kafka, and a live KPI table in the terminal; stopping
:func:`run_local` (Ctrl-C, or ``duration``) stops all of it and leaves nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from stream_app.dev.config import LocalRun
from stream_app.dev.live_view import FeedStatus, LiveView, Scrape, scrape_text
from stream_app.settings import Settings


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already listens on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


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
        [sys.executable, "-m", "stream_app", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


_WORKER_ENV = (
    "broker",
    "app_id",
    "partitions",
    "web_port",
    "data_dir",
    "timezone",
    "max_lateness_days",
)


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


def _tracked(
    events: Iterable[Mapping[str, Any]], status: FeedStatus, start: datetime
) -> Iterator[Mapping[str, Any]]:
    """``events``, noting in ``status`` how many were sent and how far the history got."""
    for n, event in enumerate(events, 1):
        if n % 2000 == 0:
            status.history_sent = n
            ts = datetime.fromisoformat(str(event["ts"]).replace("Z", "+00:00"))
            status.loaded_days = (ts - start).total_seconds() / 86400
        yield event
    status.loaded_days = float(status.history_days)


async def _feed(settings: Settings, run: LocalRun, status: FeedStatus) -> None:
    from stream_app.generator import GeneratorConfig, LiveSimulation, generate_history
    from stream_app.produce import produce, produce_live

    end = datetime.now(UTC).replace(microsecond=0)
    cfg = GeneratorConfig(seed=run.seed, accounts=run.accounts, end=end, days=run.days)
    topics = settings.topic_names()
    start, _ = cfg.window()
    history = _tracked(generate_history(cfg), status, start)
    status.history_sent = await produce(settings.broker, topics, history, rate=run.rate)
    live = LiveSimulation(cfg, speed=run.speed)

    def between(a: datetime, b: datetime) -> list[dict[str, object]]:
        events = live.events_between(a, b)
        status.live_sent += len(events)
        return events

    status.live = True
    await produce_live(settings.broker, topics, between, end)


async def run_local(run: LocalRun) -> None:
    """Start the broker, the topics, the worker and the feed; show the live view until
    ``run.duration`` ends or the task is cancelled; then stop everything."""
    from stream_app.dev.broker import LocalKafka, create_topics

    workdir = Path(tempfile.mkdtemp(prefix="stream-app-run-"))
    # this process's own log lines (the producer's aiokafka retries while the topics'
    # leaders settle) go to a file, not over the table
    logging.basicConfig(filename=str(workdir / "run.log"), level=logging.WARNING)
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
            # the history is loaded as it happened: none of it is too late for the demo
            max_lateness_days=max(90, run.days + 1),
        )
        names = [*settings.topic_names().values(), settings.topic_dead_letters]
        await create_topics(broker.bootstrap, names, settings.partitions)
        from stream_app.dev.collector import start_collector

        collector = start_collector(settings, workdir)
        print(f"collector: POST {collector.url}/v1/events · {collector.url}/tracker.js", flush=True)
        log_path = workdir / "worker.log"
        with log_path.open("wb") as log:
            proc = _start_worker(settings, log)
            status = FeedStatus(history_days=run.days, speed=run.speed)
            feeder = asyncio.create_task(_feed(settings, run, status))
            url = f"http://{settings.web_host}:{settings.web_port}/metrics"
            view = LiveView(
                f"stream-app live · Kafka {broker.bootstrap} · {url} · log {log_path}", status
            )
            await _show(view, url, run, proc, feeder, log_path)
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


async def _show(
    view: LiveView,
    url: str,
    run: LocalRun,
    proc: subprocess.Popen[bytes],
    feeder: asyncio.Task[None],
    log_path: Path,
) -> None:
    """Redraw the table every ``run.refresh`` seconds until ``run.duration`` ends: in place
    (``rich`` Live) on a terminal, a block of plain lines per refresh otherwise."""
    deadline = time.monotonic() + run.duration if run.duration else None
    live = None
    if sys.stdout.isatty():
        from rich.live import Live

        live = Live(auto_refresh=False, redirect_stdout=False)
        live.start()
    try:
        while deadline is None or time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise SystemExit(f"worker exited with {proc.returncode}:\n{tail}")
            if feeder.done() and feeder.exception() is not None:
                raise feeder.exception()  # type: ignore[misc]
            try:
                scraped: Scrape | None = Scrape(await asyncio.to_thread(scrape_text, url))
            except OSError:
                scraped = None
            if live is not None:
                if scraped is None:
                    live.update("waiting for the worker's /metrics …", refresh=True)
                else:
                    live.update(view.table(scraped), refresh=True)
            else:
                text = view.lines(scraped) if scraped else "waiting for the worker's /metrics …"
                print(text, flush=True)
            await asyncio.sleep(run.refresh)  # display refresh period
    finally:
        if live is not None:
            live.stop()


__all__ = ["LocalRun", "port_in_use", "run_local"]
