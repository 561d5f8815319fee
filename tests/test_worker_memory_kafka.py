"""The worker gives a backlog's memory back once it has caught up (memory.py's Trimmer, from
the state flush): on a real broker, /progress shows a trim made once every handled message
was committed, which the benchmark's held-memory reading waits on."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.procs import progress
from stream_app.dev.broker import create_topics
from stream_app.generator import GeneratorConfig, generate_history
from stream_app.produce import produce, route
from stream_app.worker.memory import BACKLOG_MESSAGES
from tests.worker_proc import WorkerProcess, handled, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def lag(worker: WorkerProcess) -> float:
    return sum(v for k, v in worker.metrics().items() if k.startswith("stream_app_consumer_lag{"))


async def test_a_caught_up_worker_trims_after_its_backlog(
    kafka: Any, topic_prefix: str, tmp_path: Path
) -> None:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    cfg = GeneratorConfig(seed=11, accounts=30, days=10, end=end)
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    topics = worker.topics
    await create_topics(kafka.bootstrap, [*topics.values(), worker.env["CS_TOPIC_DEAD_LETTERS"]], 4)
    total = sum(Counter(route(event, topics)[0] for event in generate_history(cfg)).values())
    assert total >= BACKLOG_MESSAGES  # a backlog
    worker.start()
    try:
        wait_for(lambda: progress(worker)["partitions"], 120, "assignment")
        first = progress(worker)
        assert first["trimmed_at"] is None and first["trimmed_handled"] == 0  # nothing yet
        assert await produce(f"kafka://{kafka.bootstrap}", topics, generate_history(cfg)) == total
        wait_for(lambda: handled(worker.metrics()) >= total, 120, "all handled")
        wait_for(lambda: progress(worker)["trimmed_handled"] >= total, 60, "a caught-up trim")
        p = progress(worker)
        assert p["trimmed_handled"] == p["handled"] == total
        assert p["trimmed_at"] >= p["last_batch_at"]  # after the last batch
        assert lag(worker) == 0  # everything committed
    finally:
        worker.stop()
