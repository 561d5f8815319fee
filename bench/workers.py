"""``stream-app worker`` subprocesses: throughput, two workers, memory per user, recovery."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

from bench.data import (
    Record,
    make_topics,
    produce_records,
    topic_names,
    user_sessions,
    visitor_visits,
)
from bench.procs import (
    WorkerProcess,
    cpu_seconds,
    group_lag,
    progress,
    rss_mb,
    wait_for,
    wait_lag_zero,
)
from stream_app.settings import Settings

POLL_S = 0.05
#: the production default, not the test harness's 0.5 s (a commit writes the changed state)
COMMIT_INTERVAL_S = str(Settings.model_fields["commit_interval_s"].default)


def start_worker(
    bootstrap: str, prefix: str, tmp: Path, app_id: str, groups: str = "all", processes: int = 1
) -> WorkerProcess:
    """A worker reading the topics of ``prefix`` as consumer group ``app_id``: production
    settings (every KPI group unless ``groups`` says otherwise, state changelogged) except a
    6 s session timeout (tests/worker_proc.py), for quick group joins; ``processes`` > 1:
    ``stream-app worker --processes N`` (N processes of the group behind one port)."""
    env = {
        "CS_APP_ID": app_id,
        "CS_COMMIT_INTERVAL_S": COMMIT_INTERVAL_S,
        "CS_GROUPS": groups,
        "CS_PROCESSES": str(processes),
    }
    return WorkerProcess(bootstrap, prefix, tmp, env=env).start()


def wait_owned(
    workers: list[WorkerProcess], timeout: float, total: int = 4
) -> tuple[float, list[dict[str, Any]]]:
    """Wait until the workers together own (assigned + recovered) ``total`` partitions, each
    at least one; returns the wall-clock (epoch) time it was seen and their /progress."""
    seen: list[dict[str, Any]] = []

    def owned() -> bool:
        seen[:] = [progress(w) for w in workers]
        parts = [p["partitions"] for p in seen]
        return all(parts) and sum(len(p) for p in parts) == total

    wait_for(owned, timeout, "partition assignment", POLL_S)
    return time.time(), seen


def worker_throughput(
    bootstrap: str,
    prefix: str,
    tmp: Path,
    events: int,
    timeout: float,
    groups: str = "all",
    processes: int = 1,
) -> tuple[WorkerProcess, dict[str, Any]]:
    """One worker command (KPI ``groups``, ``processes`` processes) over the ``events``
    messages already on the topics of ``prefix``: events/s from the start of its first
    batch to the end of its last (of any of its processes). The worker is left running.

    Done when it has handled ``events`` messages and its group has committed them all, or
    (a worker that skips the topics its groups do not read) when its group has committed
    every message and handled nothing for 3 s. ``eps`` is ``events`` over the time, and
    ``skipped`` says how many it never handled."""
    t0 = time.time()
    app_id = f"{prefix}-worker-{groups.replace(',', '-')}-{processes}p-app"
    worker = start_worker(bootstrap, prefix, tmp, app_id, groups, processes)
    topics = list(topic_names(prefix).values())
    still = {"handled": -1, "since": time.monotonic()}

    def done() -> dict[str, Any] | None:
        q = progress(worker)
        if q["handled"] >= events:
            # and committed: processes of one command may handle some messages twice
            # while they join (a rebalance), so the count alone can run ahead of the work
            return q if group_lag(bootstrap, app_id, topics) == 0 else None
        if q["handled"] != still["handled"]:
            still.update(handled=q["handled"], since=time.monotonic())
        elif time.monotonic() - still["since"] > 3 and group_lag(bootstrap, app_id, topics) == 0:
            return q
        return None

    try:
        wait_for(lambda: progress(worker)["first_batch_at"], min(timeout, 180), "first batch")
        p = wait_for(done, timeout, "all events", 0.1)
    except BaseException:
        worker.stop(signal.SIGKILL)
        raise
    seconds = p["last_batch_at"] - p["first_batch_at"]
    return worker, {
        "groups": groups,
        "processes": processes,
        "eps": events / seconds,  # the work, not messages handled twice in a rebalance
        "seconds": seconds,
        "handled": p["handled"],
        "skipped": max(0, events - p["handled"]),
        "start_to_first_batch_s": p["first_batch_at"] - t0,
        "cpu_s": cpu_seconds(worker),
        "allocator": p.get("allocator"),  # jemalloc or python (README.md, "Memory")
    }


def scale_two(
    bootstrap: str, prefix: str, tmp: Path, events: int, timeout: float
) -> dict[str, Any]:
    """Two workers, one consumer group, started together over the ``events`` messages of
    ``prefix``. ``eps``: N over the time from the first batch of either worker to the last
    batch once the group has committed every message, so it includes the rebalance when
    the second worker joins (and the messages it makes the group process twice).
    ``steady_eps``: messages handled after both own their partitions over that time (None
    when less than 20 % of the work was left by then, e.g. in a quick run)."""
    app_id = f"{prefix}-scale-app"
    workers = [start_worker(bootstrap, prefix, tmp, app_id) for _ in range(2)]
    try:
        balanced, at_balance = wait_owned(workers, min(timeout, 180))
        wait_lag_zero(bootstrap, app_id, list(topic_names(prefix).values()), timeout)
        ps = [progress(w) for w in workers]
    finally:
        for w in workers:
            w.stop()
    first = min(p["first_batch_at"] for p in ps if p["first_batch_at"])
    last = max(p["last_batch_at"] for p in ps if p["last_batch_at"])
    handled = sum(p["handled"] for p in ps)
    after = handled - sum(p["handled"] for p in at_balance)
    steady = after / (last - balanced) if after >= 0.2 * events and last > balanced else None
    return {
        "eps": events / (last - first),
        "seconds": last - first,
        "steady_eps": steady,
        "handled_per_worker": [p["handled"] for p in ps],
        "reprocessed": handled - events,
        "first_batch_to_balanced_s": max(0.0, balanced - first),
    }


def _produce(bootstrap: str, prefix: str, records: list[Record]) -> float:
    return asyncio.run(produce_records(bootstrap, topic_names(prefix), records))


def memory_readings(
    workers: dict[str, tuple[WorkerProcess, int]], timeout: float
) -> dict[str, dict[str, float]]:
    """VmRSS of each worker (name -> (worker, messages it is to handle)), twice, both
    workers watched in one loop so neither reading waits on the other worker:

    - ``peak_mb``: the first time ``/progress`` shows the messages handled (what the worker
      holds at that moment, plus the backlog's transient memory: fetched batches not yet
      freed, acknowledged offsets and state records awaiting their commit, allocator
      high-water);
    - ``held_mb``: the first time ``/progress`` shows a trim made once the worker was
      caught up after them (``trimmed_handled`` >= the count: every fetched offset
      committed, then ``malloc_trim``; stream_app/worker/memory.py), i.e. what it holds
      for its keys; ``held_after_s``: seconds from the peak reading to it."""
    got: dict[str, dict[str, float]] = {name: {} for name in workers}
    peak_at: dict[str, float] = {}

    def read() -> bool:
        for name, (worker, expect) in workers.items():
            r = got[name]
            if "held_mb" in r:
                continue
            assert worker.proc is not None
            p = progress(worker)
            if "peak_mb" not in r and p["handled"] >= expect:
                r["peak_mb"] = rss_mb(worker.proc.pid)
                peak_at[name] = time.monotonic()
            if "peak_mb" in r and (p.get("trimmed_handled") or 0) >= expect:
                r["held_mb"] = rss_mb(worker.proc.pid)
                r["held_after_s"] = time.monotonic() - peak_at[name]
        return all("held_mb" in r for r in got.values())

    wait_for(read, timeout, "memory readings (handled, then trimmed once caught up)", 0.1)
    return got


def memory_and_recovery(
    bootstrap: str, prefix: str, tmp: Path, keys: int, timeout: float, k_new: int = 1000
) -> dict[str, Any]:
    """RSS growth of a worker per active user and per web visitor, then recovery.

    RSS, the same way for users and visitors: two fresh workers (all KPI groups, state
    changelogged), each on its own empty topics, started together; VmRSS once each owns its
    4 partitions (idle), then again once one has applied one ``session_started`` of each of
    ``keys`` users (``keys``/20 accounts) and the other one 5-event visit of each of
    ``keys`` visitors (:func:`bench.data.visitor_visits`), all within the last 29 days;
    growth scaled to 100,000. Two readings (:func:`memory_readings`):
    ``rss_mb_per_100k_users`` / ``_visitors`` is what the worker HOLDS for those keys, read
    once it has caught up, committed and trimmed; ``rss_peak_mb_per_100k_users`` /
    ``_visitors`` is read the moment ``/progress`` shows the last event handled (the held
    memory plus the backlog's transient memory).
    Recovery: once the group of the users' worker has committed everything, SIGKILL its
    process group, start a new process with the same app id and immediately produce
    ``k_new`` sessions of new users; recovery_s = restart -> the new process has applied all
    ``k_new`` (process start, group join incl. eviction of the dead member after the session
    timeout, changelog recovery of the state, then the new events)."""
    app_id, web_prefix = f"{prefix}-app", f"{prefix}-web"
    asyncio.run(make_topics(bootstrap, prefix))
    asyncio.run(make_topics(bootstrap, web_prefix))
    worker = start_worker(bootstrap, prefix, tmp, app_id)
    web_worker = start_worker(bootstrap, web_prefix, tmp, f"{web_prefix}-app")
    assert worker.proc is not None and web_worker.proc is not None
    out: dict[str, Any] = {"users": keys, "visitors": keys, "events_per_visitor": 5}
    try:
        wait_owned([worker], 180)  # the topics are empty: it is idle
        wait_owned([web_worker], 180)
        out["rss_idle_mb"] = rss_mb(worker.proc.pid)
        out["visitors_rss_idle_mb"] = rss_mb(web_worker.proc.pid)
        # the visits first (5x the messages): the users' worker would otherwise have
        # handled its sessions, caught up and trimmed before the readings start
        _produce(bootstrap, web_prefix, visitor_visits(keys))
        _produce(bootstrap, prefix, user_sessions(keys, max(1, keys // 20)))
        got = memory_readings(
            {"users": (worker, keys), "visitors": (web_worker, 5 * keys)}, timeout
        )
        per_100k = 100_000 / keys
        for name, first in (("users", ""), ("visitors", "visitors_")):
            idle, r = out[f"{first}rss_idle_mb"], got[name]
            out[f"{first}rss_loaded_mb"] = r["held_mb"]
            out[f"{first}rss_peak_loaded_mb"] = r["peak_mb"]
            out[f"{first}held_after_s"] = r["held_after_s"]
            out[f"rss_mb_per_100k_{name}"] = (r["held_mb"] - idle) * per_100k
            out[f"rss_peak_mb_per_100k_{name}"] = (r["peak_mb"] - idle) * per_100k
        web_worker.stop()
        wait_lag_zero(bootstrap, app_id, list(topic_names(prefix).values()), 120)
        worker.stop(signal.SIGKILL)
        t_restart = time.time()
        worker.start()
        _produce(bootstrap, prefix, user_sessions(k_new, 50, offset=keys))
        marks: dict[str, float] = {}

        def recovered() -> bool:
            p = progress(worker)
            marks.setdefault("process_up_s", time.time() - t_restart)
            if p["partitions"]:
                marks.setdefault("owned_recovered_s", time.time() - t_restart)
            last = p["last_batch_at"] or 0
            return p["handled"] >= k_new and last > t_restart

        wait_for(recovered, timeout, "recovery after kill -9", POLL_S)
        out["recovery_s"] = time.time() - t_restart
        out["recovery_breakdown"] = marks
        out["recovery_new_events"] = k_new
    finally:
        worker.stop(signal.SIGKILL)
        web_worker.stop(signal.SIGKILL)
    return out
