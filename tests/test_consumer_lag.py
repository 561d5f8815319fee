"""``stream_app_consumer_lag{topic}`` on a real broker: highwater minus committed offset."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stream_app.dev.broker import create_topics
from stream_app.generator import GeneratorConfig, generate_history
from stream_app.produce import produce, route
from tests.worker_proc import WorkerProcess, handled, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def lag(worker: WorkerProcess) -> dict[str, float]:
    prefix = 'stream_app_consumer_lag{topic="'
    return {k[len(prefix) : -2]: v for k, v in worker.metrics().items() if k.startswith(prefix)}


async def test_lag_is_uncommitted_messages_per_topic(
    kafka: Any, topic_prefix: str, tmp_path: Path
) -> None:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    cfg = GeneratorConfig(seed=5, accounts=8, days=10, end=end)
    lazy = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    topics = lazy.topics
    await create_topics(kafka.bootstrap, [*topics.values(), lazy.env["CS_TOPIC_DEAD_LETTERS"]], 4)
    per_topic = Counter(route(event, topics)[0] for event in generate_history(cfg))
    assert await produce(f"kafka://{kafka.bootstrap}", topics, generate_history(cfg)) == sum(
        per_topic.values()
    )
    assert 0 < sum(per_topic.values()) < 10_000  # under Faust's commit-every-N messages

    # a worker that commits only every 5 minutes: everything it read is still lag
    lazy.env["CS_COMMIT_INTERVAL_S"] = "300"
    lazy.start()
    try:
        wait_for(lambda: handled(lazy.metrics()) >= sum(per_topic.values()), 120, "all handled")
        wait_for(lambda: lag(lazy) == {t: float(per_topic[t]) for t in topics.values()}, 30, "lag")
    finally:
        lazy.stop()

    # another consumer group with the usual commit interval catches up to no lag
    eager = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    eager.env["CS_APP_ID"] = f"{topic_prefix}-eager"
    eager.start()
    try:
        wait_for(lambda: handled(eager.metrics()) >= sum(per_topic.values()), 120, "all handled")
        wait_for(lambda: lag(eager) == dict.fromkeys(topics.values(), 0.0), 30, "no lag")
    finally:
        eager.stop()
