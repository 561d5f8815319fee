"""The live pipeline on the real broker equals ``stream-app replay`` sample for sample."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stream_app.dev.broker import LocalKafka, create_topics
from stream_app.exposition import render
from stream_app.generator import GeneratorConfig, generate_history, write_jsonl
from stream_app.kpi.settings import KpiSettings
from stream_app.produce import produce
from stream_app.replay import replay
from stream_app.timeutil import day_of
from stream_app.worker.app import SHELL_ONLY_FAMILIES
from tests.helpers import samples
from tests.worker_proc import WorkerProcess, handled, wait_for

pytestmark = [pytest.mark.integration]


def cs_only(metrics: dict[str, float]) -> dict[str, float]:
    """cs_* samples, less the families only a worker exports (replay has no Kafka)."""
    return {
        k: v
        for k, v in metrics.items()
        if k.startswith("cs_") and not k.startswith(SHELL_ONLY_FAMILIES)
    }


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
    topics = worker.topics
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
    # ... and so do the commerce and company groups (company-events, keyed by source)
    for family in ("cs_checkouts_judged", "cs_orders", "cs_acquisition_spend"):
        assert sum(v for k, v in expected.items() if k.startswith(family + "{")) > 0, family
    for family in ("cs_social_interactions", "cs_employee_survey_responses"):
        assert sum(v for k, v in expected.items() if k.startswith(family + "{")) > 0, family


@pytest.mark.asyncio
async def test_restarted_worker_recovers_state_from_changelog(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    cfg = GeneratorConfig(seed=11, accounts=20, days=10, end=end)
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    topics = worker.topics
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


def commerce_and_company_events(now: datetime) -> list[dict[str, object]]:
    """Hand-made commerce and company events of many accounts and sources, in three
    currencies, with repeated order ids, orders before their checkouts and copies."""
    events: list[dict[str, object]] = []

    def at(hours: float) -> str:
        return (now - timedelta(hours=hours)).isoformat()

    for i in range(24):
        account, cur = f"acct-{i}", ("USD", "EUR", "GBP")[i % 3]
        start = 24 * (2 + i % 9) + 0.5  # judged checkouts, far from their deadline
        checkout = {"account_id": account, "checkout_id": f"c{i}", "currency": cur}
        events.append({"type": "checkout_started", "ts": at(start), "amount": 900 + i, **checkout})
        if i % 4:  # converted (i % 4 == 2: by an order placed before the checkout event)
            when = start + 0.2 if i % 4 == 2 else start - (30 if i % 4 == 3 else 1)
            order = {"account_id": account, "order_id": f"o{i}", "currency": cur}
            events.append(
                {
                    "type": "order_placed",
                    "ts": at(when),
                    "amount": 900 + i,
                    **order,
                    "checkout_id": f"c{i}",
                }
            )
            # the same order sent again later (ignored), and an add-on
            events.append({"type": "order_placed", "ts": at(when - 1), "amount": 1, **order})
        events.append(
            {
                "type": "order_placed",
                "ts": at(40 * i),
                "account_id": account,
                "order_id": f"x{i}",
                "amount": 2_500,
                "currency": "USD",
            }
        )
        if i % 5 == 0:  # an open checkout (started less than a day ago)
            events.append(
                {
                    "type": "checkout_started",
                    "ts": at(3),
                    "amount": 100,
                    **checkout,
                    "checkout_id": f"open{i}",
                }
            )
    for i in range(30):
        source = f"src-{i % 7}"
        events.append(
            {
                "type": "spend_recorded",
                "ts": at(24 * i + 2),
                "source": source,
                "category": ("marketing", "salaries", "overhead")[i % 3],
                "amount": 10_000 + 37 * i,
                "currency": ("USD", "EUR", "GBP")[i % 3],
            }
        )
        social: dict[str, object] = {
            "type": "social_interaction",
            "ts": at(5 * i + 1),
            "source": f"net-{i % 4}",
            "interaction": ("mention", "comment", "share", "like")[i % 4],
        }
        if i % 5:
            social["sentiment"] = ("positive", "neutral", "negative", "positive")[i % 4]
        events.append(social)
        events.append(
            {
                "type": "employee_survey_answered",
                "ts": at(24 * i + 3),
                "source": f"team-{i % 3}",
                "survey": ("enps", "satisfaction")[i % 2],
                "score": (i * 7) % 11 if i % 2 == 0 else 1 + i % 5,
            }
        )
    for n, event in enumerate(events):
        event["event_id"] = f"hand-{n}"
    # copies (same event_id) of recent events: within the dedupe horizon of their key
    recent = [e for e in events if datetime.fromisoformat(str(e["ts"])) >= now - timedelta(days=5)]
    return events + [dict(e) for e in recent[::3]]


@pytest.mark.asyncio
async def test_commerce_and_company_worker_equals_replay(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    events = commerce_and_company_events(now)
    jsonl = tmp_path / "events.jsonl"
    assert write_jsonl(iter(events), jsonl) == len(events)
    rates = "EUR=1.08,GBP=1.27"
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    worker.env["CS_FX_RATES"] = rates
    topics = worker.topics
    await create_topics(kafka.bootstrap, [*topics.values(), worker.env["CS_TOPIC_DEAD_LETTERS"]], 4)
    assert await produce(f"kafka://{kafka.bootstrap}", topics, events) == len(events)
    worker.start()
    try:
        wait_for(lambda: handled(worker.metrics()) >= len(events), 120, "all messages handled")
        before = datetime.now(UTC)
        live = cs_only(worker.metrics())
        after = datetime.now(UTC)
    finally:
        worker.stop()
    assert day_of(before, UTC) == day_of(after, UTC), "scrape crossed midnight"
    result = replay([jsonl], KpiSettings(fx_rates=rates), as_of=before)
    expected = cs_only(samples(render([result.core], before)))
    assert live == expected
    w = 'window="30d"'
    assert expected[f"cs_checkouts_judged{{{w}}}"] == 24
    assert expected[f"cs_checkouts_abandoned{{{w}}}"] == 6 + 6  # no order / too late
    assert expected['cs_ordering_accounts{orders="2+"}'] == 18
    assert (
        expected["cs_events_duplicate_total"]
        == len(events) - len({e["event_id"] for e in events})
        > 5
    )
    spend = sum(v for k, v in expected.items() if k.startswith("cs_acquisition_spend{"))
    assert spend > 0 and expected['cs_events_rejected_total{reason="currency"}'] == 0
