"""Real producers, not only ours (issue 19): librdkafka (confluent-kafka) next to aiokafka,
every compression codec, its partitioners, and topics with other partition counts. Each
test on the real broker ends with the worker's /metrics equal to `stream-app replay` of
the same events, or with the worker stopping with its message."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from stream_app.dev.broker import LocalKafka, create_topics
from stream_app.produce import produce
from stream_app.worker.routing import contract_partition
from tests.faults import create_for, cs_sum, dataset, diff, replayed, topics_of
from tests.foreign import lands_elsewhere, produce_librdkafka
from tests.test_api_kafka import replay_core
from tests.worker_proc import WorkerProcess, handled, wait_for

pytestmark = [pytest.mark.integration]

CODECS = ("gzip", "snappy", "lz4", "zstd")


def by_role(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    from stream_app.contract import TYPE_TOPIC

    out: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        out.setdefault(TYPE_TOPIC.get(str(e["type"]), "product"), []).append(e)
    return out


def forwarded(metrics: dict[str, float], topic: str) -> float:
    return metrics.get(f'cs_events_forwarded_total{{topic="{topic}"}}', 0.0)


def fetch_errors(metrics: dict[str, float]) -> float:
    return sum(v for k, v in metrics.items() if k.startswith("cs_fetch_errors_total"))


async def records_in(bootstrap: str, topics: list[str]) -> int:
    """How many records ``topics`` (of 4 partitions) hold: the sum of their end offsets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(4)]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


def web_and_company(n: int) -> list[dict[str, Any]]:
    """Visitor- and source-keyed events (the generator does not emit them yet)."""
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    out: list[dict[str, Any]] = []
    for i in range(n):
        ts = (now - timedelta(minutes=i)).isoformat()
        out.append(
            {
                "event_id": f"pv-{i}",
                "type": "page_viewed",
                "ts": ts,
                "visitor_id": f"v-{i % 30}",
                "path": "/pricing",
                "referrer": "",
                "user_id": f"u-{i}",
            }
        )
        out.append(
            {
                "event_id": f"sp-{i}",
                "type": "spend_recorded",
                "ts": ts,
                "source": f"src-{i % 7}",
                "category": "marketing",
                "amount": 5,
                "currency": "EUR",
            }
        )
    return out


def test_every_codec_from_librdkafka(kafka: LocalKafka, topic_prefix: str, tmp_path: Path) -> None:
    events = dataset(seed=31, accounts=40, days=15, duplicate_ratio=0.02, invalid_ratio=0.01)
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    asyncio.run(create_for(kafka.bootstrap, worker))
    size = len(events) // len(CODECS) + 1
    sent = 0
    for i, codec in enumerate(CODECS):  # a quarter of the events in each codec
        sent += produce_librdkafka(
            kafka.bootstrap,
            topics_of(worker),
            events[i * size : (i + 1) * size],
            {"compression.type": codec, "partitioner": "murmur2_random"},
        )
    assert sent == len(events)
    worker.start()
    try:
        wait_for(lambda: handled(worker.metrics()) >= sent, 180, f"{sent} messages handled")
        as_of = datetime.now(UTC)
        metrics = worker.metrics()
    finally:
        worker.stop()
    assert fetch_errors(metrics) == 0
    assert sum(forwarded(metrics, t) for t in topics_of(worker).values()) == 0
    assert diff(cs_sum([metrics]), replayed(events, tmp_path, as_of)) == {}


def test_librdkafka_partitioners_mixed_with_aiokafka(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    """The same accounts across topics: billing through aiokafka, product through
    librdkafka's default partitioner (CRC32), feedback and support through
    ``murmur2_random``, web and company events through the default partitioner. No
    account splits: the worker equals replay, and the API answers for forwarded ones."""
    events = dataset(seed=32, accounts=40, days=15, duplicate_ratio=0.02)
    roles = by_role(events)
    extra = web_and_company(60)
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    asyncio.run(create_for(kafka.bootstrap, worker))
    topics = topics_of(worker)
    # every other topic of the generated company (feedback, support, web, company)
    rest = [e for r, group in roles.items() if r not in ("billing", "product") for e in group]
    sent = asyncio.run(produce(f"kafka://{kafka.bootstrap}", topics, roles["billing"]))
    sent += produce_librdkafka(kafka.bootstrap, topics, roles["product"], {})
    sent += produce_librdkafka(kafka.bootstrap, topics, rest, {"partitioner": "murmur2_random"})
    sent += produce_librdkafka(kafka.bootstrap, topics, extra, {})
    assert sent == len(events) + len(extra)
    moved = sorted(
        {str(e["account_id"]) for e in roles["product"] if lands_elsewhere(str(e["account_id"]))}
    )
    assert len(moved) >= 10  # most accounts' product events land elsewhere under CRC32
    worker.start()
    try:
        wait_for(lambda: handled(worker.metrics()) >= sent, 180, f"{sent} messages handled")
        as_of = datetime.now(UTC)
        metrics = worker.metrics()
        views = {}
        # accounts with sessions among them (a new account may have only its signups yet:
        # the data ends a few minutes before now)
        with_sessions = sorted(
            {str(e["account_id"]) for e in roles["product"] if e["type"] == "session_started"}
            & set(moved)
        )
        assert len(with_sessions) >= 5
        for account in with_sessions[:5]:
            url = f"http://127.0.0.1:{worker.port}/accounts/{account}"
            with urllib.request.urlopen(url, timeout=10) as resp:
                views[account] = json.loads(resp.read())
    finally:
        worker.stop()
    assert forwarded(metrics, topics["product"]) > 0
    assert forwarded(metrics, topics["web"]) > 0
    assert forwarded(metrics, topics["company"]) > 0
    for role in ("billing", "feedback", "support"):
        assert forwarded(metrics, topics[role]) == 0, role
    assert diff(cs_sum([metrics]), replayed([*events, *extra], tmp_path, as_of)) == {}
    core = replay_core([*events, *extra], as_of)
    for account, view in views.items():  # served from the account's contract partition
        assert view["partition"] == contract_partition(account.encode(), 4)
        expected = core.describe(account, as_of)
        assert expected is not None and expected["events"].get("session_started", 0) > 0
        assert view["events"] == expected["events"]  # its forwarded product events too


def test_other_partition_counts_stop_the_worker(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    topics = topics_of(worker)
    others = [t for r, t in topics.items() if r != "billing"]
    asyncio.run(create_topics(kafka.bootstrap, [topics["billing"]], 8))
    asyncio.run(create_topics(kafka.bootstrap, others, 4))
    code = worker.run_to_exit(120)
    log = worker.log_path.read_text(errors="replace")
    assert code == 2, log[-3000:]
    # the last line on stderr (before the terminal's cursor reset)
    last = [line for line in log.splitlines() if line.startswith("stream-app worker:")][-1]
    assert last.startswith("stream-app worker: partition counts differ"), last
    assert f"{topics['billing']} has 8" in last
    for name in others:
        assert f"{name} has 4" in last
    assert "changelog has 4" in last
    assert "set CS_PARTITIONS=8" in last and "docs/producers.md#partition-counts" in last
    assert "Traceback" not in log


def test_kill_9_between_a_forward_and_its_commit(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    """Commits are rare in the first run, so the kill lands after forwards were sent and
    before any offset (or state) was committed; the restarted worker forwards them again,
    and the copies are known as redeliveries: the same numbers as replay, duplicates
    included."""
    events = dataset(seed=33, accounts=60, days=15, duplicate_ratio=0.02)
    slow = WorkerProcess(
        kafka.bootstrap, topic_prefix, tmp_path, env={"CS_COMMIT_INTERVAL_S": "600"}
    )
    asyncio.run(create_for(kafka.bootstrap, slow))
    topics = topics_of(slow)
    sent = produce_librdkafka(kafka.bootstrap, topics, events, {})  # CRC32: most forwarded
    slow.start()
    try:
        # forwarded copies are in the topics (not only in the producer's buffer)
        wait_for(
            lambda: asyncio.run(records_in(kafka.bootstrap, list(topics.values()))) > sent,
            180,
            "forwarded copies written",
            interval=0.05,
        )
    finally:
        slow.stop(sig=signal.SIGKILL)
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)  # same app id and topics
    worker.start()
    try:

        def settled() -> bool:
            """Every record of the topics is handled or forwarded, and some forwarded
            copies came twice (the first ones written before the kill)."""
            m = worker.metrics()
            done = sum(v for k, v in m.items() if k.startswith("stream_app_messages_total"))
            done += sum(forwarded(m, t) for t in topics.values())
            held = asyncio.run(records_in(kafka.bootstrap, list(topics.values())))
            redelivered = m.get('stream_app_messages_total{outcome="redelivered"}', 0)
            return handled(m) >= sent and done == held and redelivered > 0

        wait_for(settled, 180, "every record handled, forwarded copies redelivered")
        as_of = datetime.now(UTC)
        metrics = worker.metrics()
    finally:
        worker.stop()
    assert diff(cs_sum([metrics]), replayed(events, tmp_path, as_of)) == {}


def test_batch_the_worker_cannot_decode(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    """A worker without the snappy codec gets a snappy batch on one partition: it reports
    it and stays up serving the others; with the codec back, nothing was skipped."""
    shim = tmp_path / "no-codecs"
    shim.mkdir()
    # aiokafka's codecs as on a machine without cramjam (it checks ``aiokafka.codec.cramjam``
    # at each decode); the worker's own state records still use it
    (shim / "sitecustomize.py").write_text("import aiokafka.codec\naiokafka.codec.cramjam = None\n")
    events = dataset(seed=34, accounts=40, days=10)
    product = by_role(events)["product"]
    stalled = [e for e in product if contract_partition(str(e["account_id"]).encode(), 4) == 0]
    stalled_ids = {e["event_id"] for e in stalled}
    rest = [e for e in events if e["event_id"] not in stalled_ids]
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path, env={"PYTHONPATH": f"{shim}:."})
    asyncio.run(create_for(kafka.bootstrap, worker))
    topics = topics_of(worker)
    conf = {"partitioner": "murmur2_random"}
    sent = produce_librdkafka(kafka.bootstrap, topics, rest, {**conf, "compression.type": "gzip"})
    produce_librdkafka(kafka.bootstrap, topics, stalled, {**conf, "compression.type": "snappy"})
    worker.start()
    try:
        bad = f'cs_fetch_errors_total{{reason="unsupported_codec",topic="{topics["product"]}"}}'
        wait_for(lambda: worker.metrics().get(bad), 120, "the bad batch reported")
        wait_for(lambda: handled(worker.metrics()) >= sent, 120, "the other partitions handled")
        assert worker.proc is not None and worker.proc.poll() is None
        assert handled(worker.metrics()) == sent  # nothing of partition 0 past the batch
    finally:
        worker.stop()
    assert "cannot decode the record batch of" in worker.log_tail(100_000)
    fixed = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)  # the codec installed
    fixed.start()
    try:
        total = len(events)
        wait_for(lambda: handled(fixed.metrics()) >= total, 180, f"{total} messages handled")
        as_of = datetime.now(UTC)
        metrics = fixed.metrics()
    finally:
        fixed.stop()
    assert fetch_errors(metrics) == 0
    assert diff(cs_sum([metrics]), replayed(events, tmp_path, as_of)) == {}
