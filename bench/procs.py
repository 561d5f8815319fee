"""Process helpers: a worker's /progress, resident memory, group lag, JSON-printing children."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.worker_proc import WorkerProcess, wait_for

__all__ = [
    "WorkerProcess",
    "cpu_seconds",
    "group_lag",
    "progress",
    "rss_mb",
    "run_json",
    "scrape_handled",
    "wait_for",
    "wait_lag_zero",
]


def progress(worker: WorkerProcess, timeout: float = 2.0) -> dict[str, Any]:
    """The worker's cheap ``GET /progress`` (raises while it does not answer or has died)."""
    if worker.proc is None or worker.proc.poll() is not None:
        raise RuntimeError(f"worker is not running; log:\n{worker.log_tail()}")
    url = f"http://127.0.0.1:{worker.port}/progress"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        data: dict[str, Any] = json.loads(resp.read())
    return data


def scrape_handled(worker: WorkerProcess, timeout: float = 30.0) -> float:
    """Messages the worker's KPI state accounts for, read from a full ``/metrics`` scrape
    (accepted + duplicate + rejected: every ``cs_events*_total`` sample)."""
    with urllib.request.urlopen(worker.url, timeout=timeout) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(("cs_events_total", "cs_events_duplicate_total", "cs_events_rejected")):
            total += float(line.rpartition(" ")[2])
    return total


def cpu_seconds(worker: WorkerProcess) -> float | None:
    """User + system CPU seconds the worker's process and its live descendants (the
    processes of ``--processes N``) have used so far (None once it is gone)."""
    if worker.proc is None:
        return None
    ticks = 0
    for pid in [worker.proc.pid, *descendants(worker.proc.pid)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            if pid == worker.proc.pid:
                return None
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The live children of ``pid``, their children, and so on."""
    out: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(k) for k in task.read_text().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def _group_lag(bootstrap: str, group: str, topics: Sequence[str]) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        described = await admin.describe_topics(list(topics))
        tps = [
            TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]
        ]
        if not tps:
            raise RuntimeError(f"no partitions found for {topics}")
        ends = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(group)
        return sum(
            max(0, end - (committed[tp].offset if tp in committed else 0))
            for tp, end in ends.items()
        )
    finally:
        await consumer.stop()
        await admin.close()


def group_lag(bootstrap: str, group: str, topics: Sequence[str]) -> int:
    """Messages of ``topics`` past the committed offsets of consumer group ``group``."""
    return asyncio.run(asyncio.wait_for(_group_lag(bootstrap, group, topics), 30))


def wait_lag_zero(bootstrap: str, group: str, topics: Sequence[str], timeout: float) -> None:
    """Wait until ``group`` has committed every message of ``topics``."""
    wait_for(lambda: group_lag(bootstrap, group, topics) == 0, timeout, f"{group} lag 0", 0.5)


def run_json(cmd: Sequence[str], timeout: float, what: str, log: Path) -> dict[str, Any]:
    """Run a child that prints a JSON object as its last stdout line; return that object.
    Its stderr goes to ``log``."""
    started, cpu0 = time.monotonic(), children_cpu_s()
    with log.open("wb") as err:
        try:
            res = subprocess.run(
                [sys.executable, *cmd], stdout=subprocess.PIPE, stderr=err, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            tail = log.read_text(errors="replace")[-3000:]
            raise TimeoutError(f"{what}: no result after {timeout}s; stderr:\n{tail}") from None
    lines = [ln for ln in res.stdout.decode(errors="replace").splitlines() if "{" in ln]
    if res.returncode != 0 or not lines:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{what} failed (exit {res.returncode}); stderr:\n{tail}")
    last = lines[-1]  # Faust may put terminal escapes before it
    out: dict[str, Any] = json.loads(last[last.index("{") :])
    out["wall_s"] = time.monotonic() - started
    out["cpu_s"] = children_cpu_s() - cpu0  # the child and its threads and children
    return out


def children_cpu_s() -> float:
    """User + system CPU seconds of the waited-for children of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
