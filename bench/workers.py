"""``stream-app worker`` subprocesses: throughput, two workers, memory per user, recovery."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

from bench.data import Record, make_topics, produce_records, topic_names, user_sessions
from bench.procs import WorkerProcess, progress, rss_mb, wait_for, wait_lag_zero
from stream_app.settings import Settings

POLL_S = 0.05
#: the production default, not the test harness's 0.5 s (a commit writes the changed state)
COMMIT_INTERVAL_S = str(Settings.model_fields["commit_interval_s"].default)


def start_worker(bootstrap: str, prefix: str, tmp: Path, app_id: str) -> WorkerProcess:
    """A worker reading the topics of ``prefix`` as consumer group ``app_id``: production
    settings except a 6 s session timeout (tests/worker_proc.py), for quick group joins."""
    env = {"CS_APP_ID": app_id, "CS_COMMIT_INTERVAL_S": COMMIT_INTERVAL_S}
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
    bootstrap: str, prefix: str, tmp: Path, events: int, timeout: float
) -> tuple[WorkerProcess, dict[str, Any]]:
    """One worker over the ``events`` messages already on the topics of ``prefix``: events/s
    from the start of its first batch to the end of its last. The worker is left running."""
    t0 = time.time()
    worker = start_worker(bootstrap, prefix, tmp, f"{prefix}-worker-app")
    try:
        wait_for(lambda: progress(worker)["first_batch_at"], min(timeout, 180), "first batch")
        p = wait_for(
            lambda: (q := progress(worker))["handled"] >= events and q, timeout, "all events", 0.1
        )
    except BaseException:
        worker.stop(signal.SIGKILL)
        raise
    seconds = p["last_batch_at"] - p["first_batch_at"]
    return worker, {
        "eps": p["handled"] / seconds,
        "seconds": seconds,
        "handled": p["handled"],
        "start_to_first_batch_s": p["first_batch_at"] - t0,
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


def memory_and_recovery(
    bootstrap: str, prefix: str, tmp: Path, users: int, timeout: float, k_new: int = 1000
) -> dict[str, Any]:
    """RSS growth of one worker for ``users`` active users, then kill -9 and restart it.

    RSS: VmRSS once the worker owns its 4 partitions (idle, empty topics) and again after
    it applied one session of each of ``users`` users (``users``/20 accounts).
    Recovery: once the group has committed everything, SIGKILL the worker's process group,
    start a new process with the same app id and immediately produce ``k_new`` sessions of
    new users; recovery_s = restart -> the new process has applied all ``k_new`` (process
    start, group join incl. eviction of the dead member after the session timeout,
    changelog recovery of the state, then the new events)."""
    app_id = f"{prefix}-app"
    asyncio.run(make_topics(bootstrap, prefix))
    worker = start_worker(bootstrap, prefix, tmp, app_id)
    assert worker.proc is not None
    out: dict[str, Any] = {"users": users}
    try:
        wait_owned([worker], 180)  # the topics are empty: it is idle
        out["rss_idle_mb"] = rss_mb(worker.proc.pid)
        _produce(bootstrap, prefix, user_sessions(users, max(1, users // 20)))
        wait_for(lambda: progress(worker)["handled"] >= users, timeout, "user sessions", 0.1)
        out["rss_loaded_mb"] = rss_mb(worker.proc.pid)
        out["rss_mb_per_100k_users"] = (out["rss_loaded_mb"] - out["rss_idle_mb"]) * 100_000 / users
        wait_lag_zero(bootstrap, app_id, list(topic_names(prefix).values()), 120)
        worker.stop(signal.SIGKILL)
        t_restart = time.time()
        worker.start()
        _produce(bootstrap, prefix, user_sessions(k_new, 50, offset=users))
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
    return out
