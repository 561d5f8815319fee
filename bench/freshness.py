"""Freshness: fresh events (ts = now) produced at a steady rate into a running, caught-up
worker; the delay from handing event i to the producer client until the worker shows it.

Two views, polled from threads of this process while an asyncio producer runs:
Fresh events go to the product topic in one batch per partition every ~2 ms.
- ``/progress`` every 50 ms: event i counts as reflected at the first poll (time the
  answer arrived) whose ``handled`` grew by >= i since the start. Counts, not ids: with
  4 partitions events may be applied slightly out of order, so this is the delay of the
  i-th applied event vs. the i-th produced one. Resolution: the poll period + one request.
- ``/metrics`` every 1 s (the full Prometheus page, which computes every KPI): the same
  with the sum of ``cs_events*_total`` samples, i.e. when a scrape reflects the event.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.data import FreshEvents, new_producer
from bench.procs import WorkerProcess, progress, scrape_handled

PROGRESS_POLL_S = 0.05
METRICS_POLL_S = 1.0


class Poller(threading.Thread):
    """Calls ``read`` every ``period`` seconds; keeps (time the answer came, value)."""

    def __init__(self, read: Callable[[], float], period: float) -> None:
        super().__init__(daemon=True)
        self.read, self.period = read, period
        self.samples: list[tuple[float, float]] = []
        self.durations: list[float] = []
        self.errors = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.stopping.is_set():
            sent = time.time()
            try:
                value = self.read()
                now = time.time()
                self.samples.append((now, value))
                self.durations.append(now - sent)
            except Exception:
                self.errors += 1
            next_at = max(next_at + self.period, time.monotonic())
            self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def latest(self) -> float:
        return self.samples[-1][1] if self.samples else float("-inf")


async def _produce_paced(
    bootstrap: str, topic: str, rate: float, seconds: float
) -> list[tuple[int, float]]:
    """Send fresh events at ``rate``/s for ``seconds``; returns (events sent so far, epoch
    time the chunk was handed to the client) per chunk. Each chunk (the events due since
    the previous one, every ~2 ms) goes out as one batch per partition (key -> partition as
    ``send(key=...)`` would), so that the producer keeps up with half of a fast worker."""
    producer = new_producer(bootstrap, linger_ms=5)
    await producer.start()
    fresh = FreshEvents()
    marks: list[tuple[int, float]] = []
    futures: list[asyncio.Future[Any]] = []
    sent = 0
    try:
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate) + 1
            if due > sent:
                now = time.time()
                batches: dict[int, Any] = {}
                for partition, key, value in fresh.chunk(sent, due):
                    batch = batches.get(partition)
                    if batch is None:
                        batch = batches[partition] = producer.create_batch()
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        futures.append(await producer.send_batch(batch, topic, partition=partition))
                        batch = batches[partition] = producer.create_batch()
                        batch.append(key=key, value=value, timestamp=None)
                for partition, batch in batches.items():
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                sent = due
                marks.append((sent, now))
            await asyncio.sleep(0.002)  # pacing the producer
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return marks


def _delays(marks: list[tuple[int, float]], samples: list[tuple[float, float]]) -> list[float]:
    """Per produced event: first sample time with value >= its index, minus production."""
    out: list[float] = []
    j = 0
    prev = 0
    for count, produced_at in marks:
        while j < len(samples) and samples[j][1] < count:
            j += 1
        if j == len(samples):
            break
        out.extend([max(0.0, samples[j][0] - produced_at)] * (count - prev))
        prev = count
    return out


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def measure(
    bootstrap: str,
    product_topic: str,
    worker: WorkerProcess,
    rate: float,
    seconds: float,
    drain_timeout: float = 120,
) -> dict[str, Any]:
    """Freshness of ``worker`` (idle and caught up) under ``rate`` fresh events/s."""
    base = progress(worker)["handled"]
    base_metrics = scrape_handled(worker)
    fast = Poller(lambda: progress(worker)["handled"] - base, PROGRESS_POLL_S)
    slow = Poller(lambda: scrape_handled(worker) - base_metrics, METRICS_POLL_S)
    fast.start()
    slow.start()
    try:
        marks = asyncio.run(_produce_paced(bootstrap, product_topic, rate, seconds))
        sent = marks[-1][0]
        for poller, what in ((fast, "/progress"), (slow, "/metrics")):
            deadline = time.monotonic() + drain_timeout
            while poller.latest() < sent:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"freshness: {what} shows {poller.latest()}/{sent} after {drain_timeout}s"
                    )
                time.sleep(PROGRESS_POLL_S)  # polling interval of a condition wait
    finally:
        fast.stopping.set()
        slow.stopping.set()
        fast.join(10)
        slow.join(60)
    span = marks[-1][1] - marks[0][1]
    d_fast, d_slow = _delays(marks, fast.samples), _delays(marks, slow.samples)
    return {
        "target_rate_eps": rate,
        "rate_eps": sent / span if span > 0 else float("nan"),
        "events": sent,
        "seconds": span,
        "p50_s": pct(d_fast, 50),
        "p99_s": pct(d_fast, 99),
        "max_s": max(d_fast),
        "progress_request_p50_s": pct(fast.durations, 50),
        "metrics_p50_s": pct(d_slow, 50),
        "metrics_p99_s": pct(d_slow, 99),
        "metrics_scrape_p50_s": pct(slow.durations, 50),
        "metrics_scrape_max_s": max(slow.durations),
    }
