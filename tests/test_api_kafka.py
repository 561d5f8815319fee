"""The account API and the account-health topic on real workers and the real broker."""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from stream_app.dev.broker import LocalKafka, create_topics
from stream_app.generator import GeneratorConfig, generate_history
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.settings import KpiSettings
from stream_app.produce import produce
from tests.worker_proc import WorkerProcess, handled, wait_for

pytestmark = [pytest.mark.integration]
LISTED = ("healthy", "at_risk", "critical", "churned")


def get(base: str, path: str) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of a GET on the worker at ``base``."""
    try:
        with urllib.request.urlopen(base + path, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def base_url(worker: WorkerProcess) -> str:
    return f"http://127.0.0.1:{worker.port}"


def make_worker(kafka: LocalKafka, prefix: str, tmp: Path) -> WorkerProcess:
    worker = WorkerProcess(kafka.bootstrap, prefix, tmp)
    worker.env["CS_TOPIC_ACCOUNT_HEALTH"] = f"{prefix}-account-health"
    return worker


async def setup_topics(
    kafka: LocalKafka, worker: WorkerProcess, cfg: GeneratorConfig
) -> list[dict[str, Any]]:
    """Create the worker's topics; the events of ``cfg`` in time order (not produced)."""
    topics = worker.topics
    names = [*topics.values(), worker.env["CS_TOPIC_DEAD_LETTERS"]]
    await create_topics(kafka.bootstrap, [*names, worker.env["CS_TOPIC_ACCOUNT_HEALTH"]], 4)
    return sorted(generate_history(cfg), key=lambda e: str(e["ts"]))


async def setup_history(
    kafka: LocalKafka, worker: WorkerProcess, cfg: GeneratorConfig
) -> tuple[int, list[dict[str, Any]]]:
    """Create the worker's topics and produce the events of ``cfg``: (count, events)."""
    events = await setup_topics(kafka, worker, cfg)
    topics = worker.topics
    return await produce(f"kafka://{kafka.bootstrap}", topics, events), events


def replay_core(events: list[dict[str, Any]], as_of: datetime) -> PartitionCore:
    core = PartitionCore(KpiSettings())
    for event in events:
        core.ingest(json.dumps(event), now=as_of.timestamp(), until=as_of.timestamp())
    return core


async def read_topic(bootstrap: str, topic: str) -> list[tuple[str, dict[str, Any]]]:
    """Every record of ``topic`` up to its current end (no waiting for more)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(4)]  # created with 4 partitions
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: list[tuple[str, dict[str, Any]]] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in parts])

        while await behind():
            batch = await consumer.getmany(*parts, timeout_ms=1000)
            for records in batch.values():
                out.extend((r.key.decode(), json.loads(r.value)) for r in records)
        return out
    finally:
        await consumer.stop()


@pytest.mark.asyncio
async def test_account_api_and_band_change_events(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    cfg = GeneratorConfig(seed=5, accounts=30, days=40, end=end)
    worker = make_worker(kafka, topic_prefix, tmp_path)
    events = await setup_topics(kafka, worker, cfg)
    accounts = sorted({str(e["account_id"]) for e in events if "account_id" in e})
    worker.start()
    base = base_url(worker)
    topics = worker.topics
    try:
        # in four parts, each written to state before the next comes: band changes are
        # judged once per state flush, so a backlog applied at once shows no transitions
        count = 0
        for part in range(4):
            chunk = events[part * len(events) // 4 : (part + 1) * len(events) // 4]
            count += await produce(f"kafka://{kafka.bootstrap}", topics, chunk)
            wait_for(partial(lambda n: handled(worker.metrics()) >= n, count), 120, "handled")
            flushes = worker.metrics().get("stream_app_state_flushes_total", 0)
            wait_for(
                partial(lambda n: worker.metrics()["stream_app_state_flushes_total"] > n, flushes),
                30,
                "a state flush",
            )
        views = {a: get(base, f"/accounts/{urllib.parse.quote(a)}") for a in accounts}
        unknown = get(base, "/accounts/no-such-account")
        too_long = get(base, "/accounts/" + "x" * 129)
        bad = [
            get(base, "/accounts?band=purple"),
            get(base, "/accounts?limit=0"),
            get(base, "/accounts?limit=ten"),
            get(base, "/accounts?limit=1001"),
            get(base, "/accounts?sort=score"),
            get(base, f"/accounts/{accounts[0]}?verbose=1"),
        ]
        by_band = {b: get(base, f"/accounts?band={b}&limit=3") for b in LISTED}
        _, lowest = get(base, "/accounts?limit=1000")
    finally:
        worker.stop()

    # the account view equals replay's view of the same events as of the same T
    assert {s for s, _ in views.values()} == {200}
    as_of = datetime.fromisoformat(views[accounts[0]][1]["as_of"])
    core = replay_core(events, as_of)
    for account, (_, view) in views.items():
        expected = core.describe(account, datetime.fromisoformat(view["as_of"]))
        assert expected is not None
        for key in ("health", "surveys", "support", "events"):
            assert view[key] == expected[key], (account, key)
        # the account's orders and open and abandoned checkouts (commerce group)
        assert view.get("commerce") == expected.get("commerce"), account
    assert any(v.get("commerce", {}).get("orders") for _, v in views.values())
    sample = views[accounts[0]][1]
    assert sample["health"]["score"] is not None
    assert {"score", "weight", "contribution"} <= set(
        next(iter(sample["health"]["components"].values()))
    )

    assert unknown[0] == 404 and "no-such-account" in unknown[1]["detail"]
    assert unknown[1]["error"] == "unknown account"
    assert too_long[0] == 400
    assert [s for s, _ in bad] == [400] * len(bad)
    assert all(b["error"] == "bad request" and b["detail"] for _, b in bad)

    scores = [e["score"] for e in lowest["accounts"]]
    assert scores == sorted(scores) and len(scores) == sum(
        1 for _, v in views.values() if v["health"]["band"] in ("healthy", "at_risk", "critical")
    )
    for band, (status, body) in by_band.items():
        assert status == 200 and body["complete"] and body["workers"] == 1
        want = sorted(
            (v["health"]["score"], a) for a, (_, v) in views.items() if v["health"]["band"] == band
        )[:3]
        assert [(e["score"], e["account_id"]) for e in body["accounts"]] == want
    assert by_band["at_risk"][1]["accounts"] or by_band["critical"][1]["accounts"]

    # band changes: one record per change, chained, ending on the account's current band
    records = await read_topic(kafka.bootstrap, worker.env["CS_TOPIC_ACCOUNT_HEALTH"])
    assert records, "no band change published"
    chains: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, record in records:
        assert key == record["account_id"]
        assert record["old_band"] != record["new_band"]
        assert record["components"] and record["trigger"]["event_id"]
        chains[key].append(record)
    for account, chain in chains.items():
        for before, after in itertools.pairwise(chain):
            assert before["new_band"] == after["old_band"], account
        assert chain[-1]["new_band"] == views[account][1]["health"]["band_at_latest_event"]


@pytest.mark.asyncio
async def test_request_reaches_the_worker_owning_the_account(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    cfg = GeneratorConfig(seed=8, accounts=24, days=20, end=end)
    first = make_worker(kafka, topic_prefix, tmp_path)
    second = make_worker(kafka, topic_prefix, tmp_path)  # same app id: one consumer group
    count, events = await setup_history(kafka, first, cfg)
    accounts = sorted({str(e["account_id"]) for e in events if "account_id" in e})
    first.start()
    second.start()
    workers = (first, second)
    try:

        def settled() -> bool:
            owned = [w.metrics().get("stream_app_partitions_owned", 0) for w in workers]
            done = sum(handled(w.metrics()) for w in workers)
            return sum(owned) == 4 and min(owned) > 0 and done >= count

        wait_for(settled, 180, "two workers sharing the partitions, all messages handled")
        via_first = {a: get(base_url(first), f"/accounts/{a}") for a in accounts}
        via_second = {a: get(base_url(second), f"/accounts/{a}") for a in accounts}
        unknown = (
            get(base_url(first), "/accounts/nobody"),
            get(base_url(second), "/accounts/nobody"),
        )
        listed = get(base_url(first), "/accounts?limit=1000")
        local = get(base_url(first), "/accounts?limit=1000&local=1")
    finally:
        for w in workers:
            w.stop()

    servers = {base_url(w) for w in workers}
    served = defaultdict(set)
    for account in accounts:
        (s1, v1), (s2, v2) = via_first[account], via_second[account]
        assert (s1, s2) == (200, 200)
        assert v1["served_by"] == v2["served_by"] in servers  # the owner answers both
        assert v1["partition"] == v2["partition"]
        for key in ("health", "surveys", "support", "events"):
            assert v1[key] == v2[key]
        served[v1["served_by"]].add(v1["partition"])
    assert set(served) == servers, "every request landed on one worker"
    assert not served[base_url(first)] & served[base_url(second)]
    assert [s for s, _ in unknown] == [404, 404]

    status, body = listed
    assert status == 200 and body["workers"] == 2 and body["complete"]
    partitions = {e["partition"] for e in body["accounts"]}
    assert all(partitions & owned for owned in served.values()), "not merged from both"
    assert len(local[1]["accounts"]) < len(body["accounts"])
    assert {e["partition"] for e in local[1]["accounts"]} <= served[base_url(first)]
