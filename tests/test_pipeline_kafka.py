"""The live pipeline on the real broker equals ``stream-app replay`` sample for sample."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _visitors_with_sessions(jsonl: Path) -> set[str]:
    """Visitors with a page view in the last 20 days of the file (sessions of 30 days)."""
    events = [json.loads(line) for line in jsonl.read_bytes().splitlines()]
    views = [
        (datetime.fromisoformat(e["ts"]), e)
        for e in events
        if e.get("type") == "page_viewed" and {"visitor_id", "path", "ts"} <= e.keys()
    ]
    views = [(t, e) for t, e in views if t.tzinfo is not None]  # not the injected invalid ones
    last = max(t for t, _ in views)
    return {e["visitor_id"] for t, e in views if t >= last - timedelta(days=20)}


@pytest.mark.asyncio
async def test_worker_metrics_equal_replay(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    cfg = GeneratorConfig(
        seed=7,
        accounts=40,
        days=35,
        end=end,
        duplicate_ratio=0.02,
        invalid_ratio=0.01,
        web_late_ratio=0.02,
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
        visitors = sorted(_visitors_with_sessions(jsonl))[:5]
        views = {v: _get(f"http://127.0.0.1:{worker.port}/visitors/{v}") for v in visitors}
        missing = _get(f"http://127.0.0.1:{worker.port}/visitors/nobody-at-all")
        after = datetime.now(UTC)
    finally:
        worker.stop()
    assert day_of(before, UTC) == day_of(after, UTC), "scrape crossed midnight"

    result = replay([jsonl], KpiSettings(), as_of=before)
    expected = cs_only(samples(render([result.core], before)))
    assert live == expected
    # the web group too: sessions (late web events included), bounce, links, surveys
    assert expected['cs_web_sessions{window="30d"}'] > 100
    assert expected['cs_web_bounced_sessions{window="30d"}'] > 0
    assert expected['cs_web_visitors{window="30d"}'] > 50
    assert any(k.startswith("cs_web_link_clicks{") and v > 0 for k, v in expected.items())
    assert expected["cs_web_time_on_page_seconds_gcount"] > 0
    # GET /visitors/{id}: the worker's sessions are replay's
    assert visitors and missing[0] == 404
    for visitor, (status, body) in views.items():
        assert status == 200, body
        want = result.core.describe_key("visitor_id", visitor, before)
        assert want is not None
        assert body["sessions"] == want["sessions"] and body["sessions_30d"] > 0
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
    topics = {r: worker.env[f"CS_TOPIC_{r.upper()}"] for r in TOPIC_ROLES}
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
