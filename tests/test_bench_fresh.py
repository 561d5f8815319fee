"""The freshness load's events (bench.data.FreshEvents): valid, distinct, on their key's
partition, ts = now; made cheaply because the generator shares the cores it measures."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
from aiokafka.partitioner import DefaultPartitioner

from bench.data import PARTITIONS, FreshEvents
from stream_app.kpi.core import Outcome, PartitionCore
from stream_app.kpi.settings import KpiSettings


def test_fresh_events_are_valid_distinct_and_keyed() -> None:
    fresh = FreshEvents(accounts=50)
    events = list(fresh.chunk(0, 1000)) + list(fresh.chunk(1000, 2000))
    parts = list(range(PARTITIONS))
    partitioner = DefaultPartitioner()
    core = PartitionCore(KpiSettings(), 0)
    ids = set()
    for i, (partition, key, value) in enumerate(events):
        event = orjson.loads(value)
        ids.add(event["event_id"])
        assert key == event["account_id"].encode() == f"fresh-acct-{i % 50}".encode()
        assert partition == partitioner(key, parts, parts)
        ts = datetime.fromisoformat(event["ts"])
        assert abs((datetime.now(UTC) - ts).total_seconds()) < 60
        outcome, _ = core.ingest(value, "product", key, i, now=time.time(), future_tolerance_s=300)
        assert outcome is Outcome.APPLIED, (outcome, value)
    assert len(ids) == len(events) and all(len(i) == 32 for i in ids)
    # another run: other ids (a worker that saw the first run counts these as new)
    assert not ids & {orjson.loads(v)["event_id"] for _, _, v in FreshEvents(50).chunk(0, 10)}
