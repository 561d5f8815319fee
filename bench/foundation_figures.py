"""Foundation figures: replay events/s, one worker's events/s on a local broker, and the
worker's resident memory for 100k active users. One run, same machine, printed as JSON.

    .venv/bin/python -m bench.foundation_figures [--accounts 3000] [--users 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stream_app.broker import LocalKafka, create_topics
from stream_app.generator import GeneratorConfig, generate_history, write_jsonl
from stream_app.produce import produce
from stream_app.replay import replay
from tests.worker_proc import WorkerProcess, handled, wait_for

CEILING: dict[str, float] = {}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def user_events(users: int, accounts: int) -> Iterator[dict[str, object]]:
    """One session per user, ``users`` distinct users spread over ``accounts`` accounts."""
    ts = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for i in range(users):
        yield {
            "event_id": f"s{i}",
            "type": "session_started",
            "ts": ts,
            "account_id": f"acct-{i % accounts}",
            "user_id": f"user-{i}",
        }


async def ceiling_eps(bootstrap: str, topics: list[str], total: int) -> float:
    """A bare aiokafka consumer reading ``topics`` to the end (getmany, no decoding)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        seen = 0
        started = None
        while seen < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            n = sum(len(v) for v in batch.values())
            if n and started is None:
                started = time.monotonic()
            seen += n
        return total / (time.monotonic() - (started or time.monotonic()))
    finally:
        await consumer.stop()


def measure_worker(
    kafka: LocalKafka, tmp: Path, prefix: str, events: list[dict[str, object]]
) -> tuple[float, float, float]:
    worker = WorkerProcess(kafka.bootstrap, prefix, tmp)
    topics = {
        r: worker.env[f"CS_TOPIC_{r.upper()}"]
        for r in ("product", "billing", "feedback", "support")
    }
    asyncio.run(
        create_topics(kafka.bootstrap, [*topics.values(), worker.env["CS_TOPIC_DEAD_LETTERS"]], 4)
    )
    asyncio.run(produce(f"kafka://{kafka.bootstrap}", topics, events))
    CEILING[prefix] = asyncio.run(ceiling_eps(kafka.bootstrap, list(topics.values()), len(events)))
    worker.start()
    try:
        wait_for(
            lambda: worker.metrics().get("stream_app_partitions_owned", 0) >= 4, 120, "assignment"
        )
        assert worker.proc is not None
        base_rss = rss_mb(worker.proc.pid)
        first = wait_for(lambda: handled(worker.metrics()) > 0 and time.monotonic(), 120, "first")
        wait_for(
            lambda: handled(worker.metrics()) >= len(events), 1800, "all events", interval=0.05
        )
        seconds = time.monotonic() - first
        return len(events) / seconds, base_rss, rss_mb(worker.proc.pid)
    finally:
        worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--users", type=int, default=100_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cs-bench-"))
    cfg = GeneratorConfig(seed=1, accounts=args.accounts, days=30)
    jsonl = tmp / "events.jsonl"
    n = write_jsonl(generate_history(cfg), jsonl)
    rep = replay([jsonl])
    out: dict[str, float] = {"events": n, "replay_eps": round(rep.events_per_second)}
    with LocalKafka() as kafka:
        events = list(generate_history(cfg))
        eps, _, _ = measure_worker(kafka, tmp, "bench-gen", events)
        out["worker_eps"] = round(eps)
        out["ceiling_eps"] = round(CEILING["bench-gen"])
        out["ratio"] = round(eps / CEILING["bench-gen"], 4)
        users = list(user_events(args.users, args.users // 20))
        _, base, full = measure_worker(kafka, tmp, "bench-users", users)
        out["worker_rss_base_mb"] = round(base, 1)
        out["worker_rss_100k_users_mb"] = round(full, 1)
        out["rss_mb_per_100k_users"] = round((full - base) * 100_000 / args.users, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
