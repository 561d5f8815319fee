"""A busy account on the real broker: its event ids go to the changelog in chunks
(``stream_app/worker/id_chunks.py``), and a worker killed with -9 recovers every one of
them: copies of its events sent after the restart count once, as in `stream-app replay`."""

from __future__ import annotations

import asyncio
import random
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stream_app.dev.broker import LocalKafka
from stream_app.worker.id_chunks import CHUNKED_FROM
from tests.faults import create_for, cs_sum, dataset, diff, replayed, send
from tests.worker_proc import WorkerProcess, handled, wait_for

pytestmark = [pytest.mark.integration]

BUSY = 3_000  # product events of one account today: well past CHUNKED_FROM (16 chars each)


def busy_events(count: int) -> list[dict[str, object]]:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    return [
        {
            "event_id": f"busy-{i:06d}",
            "type": "feature_used",
            "ts": (end - timedelta(seconds=count - i)).isoformat(),
            "account_id": "acct-busy",
            "user_id": f"busy-user-{i % 9}",
            "feature": ("reports", "exports", "alerts")[i % 3],
        }
        for i in range(count)
    ]


def committed(worker: WorkerProcess) -> bool:
    """Every fetched message's offset committed (its state written before)."""
    lag = [v for k, v in worker.metrics().items() if k.startswith("stream_app_consumer_lag")]
    return bool(lag) and sum(lag) == 0


def through_a_kill(
    kafka: LocalKafka,
    topic_prefix: str,
    tmp_path: Path,
    first: list[dict[str, object]],
    second: list[dict[str, object]],
) -> tuple[dict[str, float], datetime]:
    """A worker applies and commits ``first``, is killed with -9, starts again and
    applies ``second``: its /metrics then, and when they were read."""
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    asyncio.run(create_for(kafka.bootstrap, worker))
    worker.start()
    try:
        sent = send(kafka.bootstrap, worker, first)
        wait_for(lambda: handled(worker.metrics()) >= sent, 180, "the events before the kill")
        wait_for(lambda: committed(worker), 120, "their state committed")
        worker.stop(sig=signal.SIGKILL)
        worker.start()
        sent += send(kafka.bootstrap, worker, second)
        wait_for(lambda: handled(worker.metrics()) >= sent, 240, "the events after the kill")
        return worker.metrics(), datetime.now(UTC)
    finally:
        worker.stop()


def test_a_busy_accounts_ids_survive_a_kill(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    assert BUSY * 16 > 4 * CHUNKED_FROM
    busy = busy_events(BUSY)
    others = dataset(seed=31, accounts=20, days=10)
    first = others[: len(others) // 2] + busy[: BUSY // 2]
    # after the restart: the rest, and copies of the busy account's events from before
    copies = random.Random(3).sample(busy[: BUSY // 2], 300)
    second = others[len(others) // 2 :] + busy[BUSY // 2 :] + copies
    metrics, as_of = through_a_kill(kafka, topic_prefix, tmp_path, first, second)
    live = cs_sum([metrics])
    duplicates = sum(v for k, v in metrics.items() if k.startswith("cs_events_duplicate_total"))
    assert duplicates >= len(copies)  # the ids of before the kill, all recovered
    assert diff(live, replayed(first + second, tmp_path, as_of)) == {}


def test_an_account_of_100000_users_is_written_and_recovered(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    """Its record (every user's activity: ~1.5 MB of LZ4) is over the broker's default
    message.max.bytes: the changelog the worker creates takes it (STATE_RECORD_MAX_BYTES),
    and a worker killed with -9 recovers it."""
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    users: list[dict[str, object]] = [
        {
            "event_id": f"wide-{i:06d}",
            "type": "feature_used",
            "ts": (end - timedelta(seconds=i % 3_000)).isoformat(),
            "account_id": "acct-wide",
            "user_id": f"wide-user-{i:06d}",
            "feature": "reports",
        }
        for i in range(100_000)
    ]
    second = busy_events(50) + users[:10]  # 10 copies
    metrics, as_of = through_a_kill(kafka, topic_prefix, tmp_path, users, second)
    assert diff(cs_sum([metrics]), replayed(users + second, tmp_path, as_of)) == {}
