"""The live pipeline on the real broker equals ``stream-app replay`` sample for sample."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stream_app.contract import TOPIC_ROLES
from stream_app.dev.broker import LocalKafka, create_topics
from stream_app.exposition import render
from stream_app.generator import GeneratorConfig, generate_history, write_jsonl
from stream_app.kpi.settings import KpiSettings
from stream_app.produce import produce
from stream_app.replay import replay
from stream_app.timeutil import day_of
from tests.helpers import samples
from tests.worker_proc import WorkerProcess, handled, wait_for

pytestmark = [pytest.mark.integration]


def cs_only(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k.startswith("cs_")}


@pytest.mark.asyncio
async def test_worker_metrics_equal_replay(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    cfg = GeneratorConfig(
        seed=7, accounts=40, days=35, end=end, duplicate_ratio=0.02, invalid_ratio=0.01
    )
    jsonl = tmp_path / "events.jsonl"
    count = write_jsonl(generate_history(cfg), jsonl)
    assert count > 3000

    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    topics = {role: worker.env[f"CS_TOPIC_{role.upper()}"] for role in TOPIC_ROLES}
    await create_topics(kafka.bootstrap, [*topics.values(), worker.env["CS_TOPIC_DEAD_LETTERS"]], 4)
    sent = await produce(f"kafka://{kafka.bootstrap}", topics, generate_history(cfg))
    assert sent == count

    worker.start()
    try:
        wait_for(lambda: handled(worker.metrics()) >= count, 120, f"{count} messages handled")
        before = datetime.now(UTC)
        live = cs_only(worker.metrics())
        after = datetime.now(UTC)
    finally:
        worker.stop()
    assert day_of(before, UTC) == day_of(after, UTC), "scrape crossed midnight"

    result = replay([jsonl], KpiSettings(), as_of=before)
    expected = cs_only(samples(render([result.core], before)))
    assert live == expected
    # the comparison is not vacuous: activity, features, duplicates and rejections all show
    assert expected['cs_active_users{window="30d"}'] > 50
    assert any(k.startswith("cs_feature_users{") and v > 0 for k, v in expected.items())
    assert expected["cs_events_duplicate_total"] > 0
    assert sum(v for k, v in expected.items() if k.startswith("cs_events_rejected_total")) > 0


@pytest.mark.asyncio
async def test_restarted_worker_recovers_state_from_changelog(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    cfg = GeneratorConfig(seed=11, accounts=20, days=10, end=end)
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    topics = {
        r: worker.env[f"CS_TOPIC_{r.upper()}"]
        for r in ("product", "billing", "feedback", "support")
    }
    await create_topics(kafka.bootstrap, [*topics.values(), worker.env["CS_TOPIC_DEAD_LETTERS"]], 4)
    count = await produce(f"kafka://{kafka.bootstrap}", topics, generate_history(cfg))

    worker.start()
    try:
        wait_for(lambda: handled(worker.metrics()) >= count, 120, "first run")
        first = cs_only(worker.metrics())
    finally:
        worker.stop()
    worker.start()  # same app id: state comes back from the changelog, offsets from Kafka
    try:
        wait_for(lambda: worker.metrics().get("stream_app_partitions_owned") == 4, 120, "recovery")
        second = cs_only(worker.metrics())
    finally:
        worker.stop()
    assert second == first
    assert first['cs_active_users{window="30d"}'] > 10
