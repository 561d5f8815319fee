"""Dead letters on the real broker: original bytes + reason + source; fixed ones re-submitted."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from stream_app.commands.dead_letters import read_dead_letters, resubmit
from stream_app.contract import TOPIC_ROLES
from stream_app.dev.broker import LocalKafka, create_topics
from tests.helpers import ev
from tests.worker_proc import WorkerProcess, handled, wait_for

pytestmark = [pytest.mark.integration]


async def _wait_letters(
    broker: str, topic: str, n: int, timeout: float = 60
) -> list[dict[str, Any]]:
    """Read the dead-letter topic until it holds ``n`` records (condition with a timeout)."""
    deadline = time.monotonic() + timeout
    letters: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        letters = await read_dead_letters(broker, topic)
        if len(letters) >= n:
            return letters
        await asyncio.sleep(0.2)  # poll interval of a condition wait
    raise TimeoutError(f"{len(letters)} of {n} dead letters after {timeout}s")


async def _send(bootstrap: str, messages: list[tuple[str, bytes, bytes]]) -> None:
    """Produce (topic, key, value) messages, each acknowledged before the next."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic, key, value in messages:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


@pytest.mark.asyncio
async def test_dead_letters_show_and_resubmit(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    # old events are fine here: lateness is measured from the wall clock, so keep ts recent
    from datetime import UTC, datetime, timedelta

    # today's (the 1-day window is the current UTC day): 2 h ago, or midnight if later
    now = datetime.now(UTC)
    ts = max(now - timedelta(hours=2), now.replace(hour=0, minute=0, second=0)).isoformat()
    product = worker.env["CS_TOPIC_PRODUCT"]
    billing = worker.env["CS_TOPIC_BILLING"]
    dlq = worker.env["CS_TOPIC_DEAD_LETTERS"]
    topics = [*(worker.env[f"CS_TOPIC_{role.upper()}"] for role in TOPIC_ROLES), dlq]
    await create_topics(kafka.bootstrap, topics, 4)
    bad = [
        (product, b"acme", b"{not json"),
        (product, b"acme", ev(eid="n1", ts=ts.replace("+00:00", ""))),  # naive timestamp
        (product, b"acme", ev("invoice_paid", eid="w1", ts=ts, amount=1, currency="USD")),
        (billing, b"other", ev("invoice_paid", eid="k1", ts=ts, amount=1, currency="USD")),
    ]
    good = [(product, b"acme", ev(eid=f"g{i}", ts=ts, user_id=f"u{i}")) for i in range(5)]
    await _send(kafka.bootstrap, [*good, *bad])

    worker.start()
    try:
        wait_for(lambda: handled(worker.metrics()) >= len(good) + len(bad), 120, "all handled")
        letters = await _wait_letters(f"kafka://{kafka.bootstrap}", dlq, len(bad))
        assert sorted(r["reason"] for r in letters) == sorted(
            ["invalid_json", "invalid_timestamp", "wrong_topic", "key_mismatch"]
        )
        by_reason = {r["reason"]: r for r in letters}
        assert by_reason["invalid_json"]["value"] == "{not json"
        assert by_reason["key_mismatch"]["source"]["topic"] == billing
        assert by_reason["wrong_topic"]["source"]["offset"] >= 0
        # fix the naive timestamp and send it back to where it came from
        fixed = by_reason["invalid_timestamp"]
        event = orjson.loads(fixed["value"])
        event["ts"] = ts
        fixed["value"] = orjson.dumps(event).decode()
        sent, problems = await resubmit(
            f"kafka://{kafka.bootstrap}", [fixed, by_reason["invalid_json"]]
        )
        assert sent == 1
        assert len(problems) == 1 and "still invalid" in problems[0]
        wait_for(
            lambda: worker.metrics()['cs_events_total{type="session_started"}'] == len(good) + 1,
            60,
            "the re-submitted event",
        )
        metrics = worker.metrics()
        assert metrics['cs_active_users{window="1d"}'] >= 1
        assert metrics['cs_events_rejected_total{reason="invalid_timestamp"}'] == 1
    finally:
        worker.stop()


@pytest.mark.asyncio
async def test_web_events_take_the_dead_letter_path_too(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    """The web topic (keyed by visitor_id) rejects and dead-letters like the others."""
    from datetime import UTC, datetime, timedelta

    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    # today's (the 1-day window is the current UTC day): 2 h ago, or midnight if later
    now = datetime.now(UTC)
    ts = max(now - timedelta(hours=2), now.replace(hour=0, minute=0, second=0)).isoformat()
    web = worker.env["CS_TOPIC_WEB"]
    product = worker.env["CS_TOPIC_PRODUCT"]
    dlq = worker.env["CS_TOPIC_DEAD_LETTERS"]
    await create_topics(kafka.bootstrap, [web, product, dlq], 4)

    def page(eid: str, **fields: Any) -> bytes:
        body = {"event_id": eid, "type": "page_viewed", "ts": ts, "visitor_id": "v1", "path": "/"}
        return orjson.dumps({**body, **fields})

    answer = {"event_id": "s1", "type": "visit_survey_answered", "ts": ts, "visitor_id": "v1"}
    left = {"event_id": "l1", "type": "page_left", "ts": ts, "visitor_id": "v1", "path": "/"}
    bad = [
        (web, b"someone-else", page("k1")),  # key_mismatch
        (product, b"v1", page("t1")),  # wrong_topic
        (web, b"v1", orjson.dumps({**answer, "survey": "task_completion", "answer": "maybe"})),
        (web, b"v1", orjson.dumps({**left, "max_scroll_pct": 50})),  # no engaged_ms
    ]
    good = [(web, b"v1", page(f"g{i}", path=f"/p{i}")) for i in range(3)]
    await _send(kafka.bootstrap, [*good, *bad])

    worker.start()
    try:
        wait_for(lambda: handled(worker.metrics()) >= len(good) + len(bad), 120, "all handled")
        letters = await _wait_letters(f"kafka://{kafka.bootstrap}", dlq, len(bad))
        assert sorted(r["reason"] for r in letters) == sorted(
            ["key_mismatch", "wrong_topic", "invalid_field", "missing_field"]
        )
        by_reason = {r["reason"]: r for r in letters}
        assert by_reason["key_mismatch"]["source"]["topic"] == web
        assert by_reason["wrong_topic"]["source"]["topic"] == product
        metrics = worker.metrics()
        assert metrics['cs_events_total{type="page_viewed"}'] == len(good)
        assert metrics['cs_web_pageviews{path="/p0",window="7d"}'] == 1
        assert metrics['cs_events_rejected_total{reason="key_mismatch"}'] == 1
    finally:
        worker.stop()
